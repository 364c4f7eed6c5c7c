"""Token requests of one serve process are spaced under the token endpoint's rate limit (the
toolkit's ``ModeLimiter``, tested in test_tokens_bulk; here: that serve uses it)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from _serve_helpers import browser, free_port, manifest_for, start_install

from stripe_oauth_nb._errors import ConfigError
from stripe_oauth_nb.oauth._attempts import AttemptLog
from stripe_oauth_nb.sandbox import Sandbox
from stripe_oauth_nb.serve import InstallServer, ServeConfig
from stripe_oauth_nb.tokens import MemoryTokenStore


def test_installs_faster_than_the_rate_wait_for_their_turn(tmp_path: Path) -> None:
    port = free_port()
    manifest = manifest_for(tmp_path, f"http://127.0.0.1:{port}/callback")
    with Sandbox(customers=0) as sb:
        with pytest.raises(ConfigError, match="positive"):
            ServeConfig.for_sandbox(sb, manifest, port=port, signing_key="k" * 40, token_rate=0)
        config = ServeConfig.for_sandbox(
            sb,
            manifest,
            port=port,
            signing_key="EXAMPLE-pacing-signing-key-0123456789",
            store=MemoryTokenStore(),
            attempts=AttemptLog(),
            token_rate=5.0,
        )
        with InstallServer(config) as server:
            browsers = [browser() for _ in range(5)]
            try:
                visits = [start_install(b, server.url, None) for b in browsers]
                started = time.monotonic()
                statuses = [
                    b.get(v.callback_url).status_code for b, v in zip(browsers, visits, strict=True)
                ]
                elapsed = time.monotonic() - started
            finally:
                for b in browsers:
                    b.close()
    assert statuses == [200] * 5
    assert elapsed >= 0.8  # five exchanges at 5 a second: four gaps of 0.2 s at least


def test_at_stripes_rates_the_install_app_shares_the_processs_token_budget(tmp_path: Path) -> None:
    """Exchanges of the install app and refreshes of the process's token managers wait on one
    limiter at Stripe's rates; a rate given to serve is its own."""
    from stripe_oauth_nb._http import httpx
    from stripe_oauth_nb._ratelimit import token_endpoint_limiter
    from stripe_oauth_nb.serve._app import _InstallApp

    port = free_port()
    manifest = manifest_for(tmp_path, f"http://127.0.0.1:{port}/callback")
    key = "EXAMPLE-pacing-signing-key-0123456789"
    with Sandbox(customers=0) as sb, httpx.Client() as client:
        parts = {"port": port, "signing_key": key, "store": MemoryTokenStore()}
        shared = ServeConfig.for_sandbox(sb, manifest, attempts=AttemptLog(), **parts)
        assert _InstallApp(shared, client).limiter is token_endpoint_limiter()
        own = ServeConfig.for_sandbox(sb, manifest, attempts=AttemptLog(), token_rate=5.0, **parts)
        assert _InstallApp(own, client).limiter is not token_endpoint_limiter()
