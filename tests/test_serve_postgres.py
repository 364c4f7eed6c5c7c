"""The install app on the shared PostgreSQL store (tokens and attempt log in the database): real
server, real sandbox; an outage during a callback says "try again" and a reload then works."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from _postgres import PostgresServer
from _serve_helpers import browser, free_port, install, manifest_for, start_install

from stripe_oauth_nb._masking import Secret
from stripe_oauth_nb._target import Target
from stripe_oauth_nb.sandbox import Sandbox
from stripe_oauth_nb.serve import InstallServer, ServeConfig, app_settings
from stripe_oauth_nb.tokens._crypto import new_key

KEY = "EXAMPLE-postgres-signing-key-0123456789abc"


def _title(text: str) -> str:
    found = re.search(r'<h1 id="[^"]+">(.*?)</h1>', text)
    return found.group(1) if found else ""


@pytest.mark.slow
def test_installs_land_in_postgres_and_an_outage_says_try_again(
    postgres: PostgresServer, sb: Sandbox, tmp_path: Path
) -> None:
    dsn = postgres.create_database()
    port = free_port()
    manifest = manifest_for(tmp_path / "app", f"http://127.0.0.1:{port}/callback")
    # Encrypted at rest, as a team store should be (without a key the store warns).
    settings = app_settings(Target.for_sandbox(sb), manifest).with_changes(
        token_store_dsn=Secret(dsn), token_store_key=Secret(new_key())
    )
    config = ServeConfig.create(settings, manifest, port=port, signing_key=KEY)
    assert type(config.store).__name__ == "PostgresTokenStore"
    assert type(config.attempts.records).__name__ == "PostgresAttemptRecords"
    accounts = [sb.create_account(name) for name in ("Acme Bakery", "Bolt Bikes", "Cora Cafe")]
    with InstallServer(config) as server:
        for account in accounts[:2]:
            with browser() as b:
                _, page = install(b, server.url, account)
            assert page.status_code == 200
        with browser() as b:
            visit = start_install(b, server.url, accounts[2])
            postgres.stop()
            try:
                down = b.get(visit.callback_url)
            finally:
                postgres.start()
            # The visitor reloads (a pooled connection may still meet the restart once more).
            reloads = [b.get(visit.callback_url) for _ in range(1)]
            while reloads[-1].status_code == 503 and len(reloads) < 5:
                reloads.append(b.get(visit.callback_url))
            again = reloads[-1]
    assert down.status_code == 503
    assert _title(down.text) == "Please try again in a minute"
    assert again.status_code == 200
    assert sb.stats()["grants"]["authorization_code"] == 3
    assert sorted(t.account_id for t in config.store.all()) == sorted(accounts)
