"""The install app (``stripe_oauth_nb.serve``): the real server on loopback, the sandbox's
consent page, and HTTP clients standing in for browsers (each client is one browser: its own
cookie jar)."""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from _serve_helpers import PURPOSE, browser, free_port, install, manifest_for, start_install

from stripe_oauth_nb._errors import ConfigError, InstallLinkError, TokenStoreError
from stripe_oauth_nb._http import httpx
from stripe_oauth_nb._settings import Settings
from stripe_oauth_nb._target import Target
from stripe_oauth_nb._tokenset import TokenSet
from stripe_oauth_nb.manifest import Manifest
from stripe_oauth_nb.oauth._attempts import AttemptLog
from stripe_oauth_nb.sandbox import Sandbox
from stripe_oauth_nb.serve import (
    COOKIE_NAME,
    SECRET_ENV,
    InstallServer,
    PublicURL,
    ServeConfig,
    app_settings,
    visit,
)
from stripe_oauth_nb.tokens import FileTokenStore, MemoryTokenStore, TokenStore

KEY = "EXAMPLE-signing-key-for-tests-0123456789"
ANY = "0.0.0.0"  # noqa: S104 (the address refused without HTTPS, or served behind a proxy)


class FlakyStore(MemoryTokenStore):
    """A memory store that can be switched off, like a database that stopped answering."""

    def __init__(self) -> None:
        super().__init__()
        self.reads_fail = False
        self.writes_fail = False

    def _down(self) -> TokenStoreError:
        return TokenStoreError("The token database does not answer. Try again later.")

    def load(self, account_id: str, livemode: bool) -> TokenSet | None:
        if self.reads_fail:
            raise self._down()
        return super().load(account_id, livemode)

    def all(self) -> list[TokenSet]:
        if self.reads_fail:
            raise self._down()
        return super().all()

    def save(self, tokens: TokenSet, *, authorized: bool = False) -> None:
        if self.writes_fail:
            raise self._down()
        super().save(tokens, authorized=authorized)

    def stored(self) -> list[TokenSet]:
        """What is really in the store, whatever the switches say."""
        return MemoryTokenStore.all(self)


@pytest.fixture
def make_server(
    sb: Sandbox, tmp_path: Path
) -> Iterator[Callable[..., tuple[InstallServer, ServeConfig]]]:
    """Start an install server against the module's sandbox; stopped after the test."""
    started: list[InstallServer] = []

    def make(
        *,
        store: TokenStore | None = None,
        attempts: AttemptLog | None = None,
        public_url: str | None = None,
        key: str = KEY,
        manifest: Manifest | None = None,
        prefix: str = "",
    ) -> tuple[InstallServer, ServeConfig]:
        port = free_port()
        if prefix:
            public_url = f"http://127.0.0.1:{port}{prefix}"
        callback = (public_url or f"http://127.0.0.1:{port}") + "/callback"
        manifest = manifest or manifest_for(tmp_path / "app", callback)
        config = ServeConfig.for_sandbox(
            sb,
            manifest,
            public_url=public_url,
            port=port,
            signing_key=key,
            store=store if store is not None else MemoryTokenStore(),
            attempts=attempts if attempts is not None else AttemptLog(),
        )
        server = InstallServer(config).start()
        started.append(server)
        return server, config

    yield make
    for server in started:
        server.stop()


def title(page: httpx.Response) -> str:
    found = re.search(r'<h1 id="[^"]+">(.*?)</h1>', page.text)
    return found.group(1) if found else ""


def grants(sb: Sandbox) -> int:
    return int(sb.stats()["grants"]["authorization_code"])


def cookie_states(client: httpx.Client) -> list[str]:
    value = client.cookies[COOKIE_NAME]
    payload = value.split(".", 1)[0]  # itsdangerous: base64 payload, then timestamp, signature
    return list(json.loads(base64.b64decode(payload)).get("states", []))


# --- the pages -------------------------------------------------------------------------------


def test_onboarding_page_says_what_the_app_asks_for_and_why(
    make_server: Callable[..., tuple[InstallServer, ServeConfig]],
) -> None:
    server, config = make_server()
    with browser() as b:
        page = b.get(server.url + "/")
    assert page.status_code == 200
    assert title(page) == "Install Reports Sync"
    text = page.text
    assert "<code>customer_read</code>" in text
    assert "<code>invoice_read</code>" in text
    assert "List your &lt;customers&gt; &amp; their emails" in text  # escaped, not raw
    assert PURPOSE not in text
    assert f'href="{config.public_url}/install"' in text
    assert '<html lang="en">' in text
    assert "<main" in text
    # nothing external: no script, no remote stylesheet, font or image; a strict policy
    assert "<script" not in text
    assert "<link" not in text
    assert "<img" not in text
    assert re.findall(r'(?:src|href)="(https?://[^"]+)"', text) == [f"{config.public_url}/install"]
    csp = page.headers["content-security-policy"]
    assert csp.startswith("default-src 'none'; style-src 'sha256-")
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["x-frame-options"] == "DENY"


def test_install_binds_a_fresh_state_to_the_browser_and_redirects(
    make_server: Callable[..., tuple[InstallServer, ServeConfig]], sb: Sandbox
) -> None:
    server, config = make_server()
    with browser() as b:
        first = b.get(server.url + "/install")
        second = b.get(server.url + "/install")
        states = cookie_states(b)
    assert first.status_code == second.status_code == 303
    location = urlsplit(first.headers["location"])
    query = parse_qs(location.query)
    assert f"{location.scheme}://{location.netloc}" == sb.marketplace_base
    assert location.path == "/oauth/v2/authorize"
    assert query["redirect_uri"] == [config.callback_url]
    assert query["client_id"] == [config.settings.test.client_id]
    state = query["state"][0]
    assert len(state) >= 40
    assert state.startswith("test.")
    assert states[0] == state
    assert len(states) == 2
    assert states[0] != states[1]
    assert config.attempts.find(state).redirect_uri == config.callback_url
    cookie = first.headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "samesite=lax" in cookie
    assert "path=/" in cookie
    assert "secure" not in cookie  # plain HTTP on loopback: a Secure cookie would never return
    assert "max-age=900" in cookie


def test_cookie_is_secure_when_visitors_come_over_https(
    make_server: Callable[..., tuple[InstallServer, ServeConfig]],
) -> None:
    server, _ = make_server(public_url="https://install.example.com")
    with browser() as b:
        answer = b.get(server.url + "/install", headers={"host": "install.example.com"})
    assert answer.status_code == 303
    assert "; secure" in answer.headers["set-cookie"].lower()


def test_mode_by_query_parameter(
    make_server: Callable[..., tuple[InstallServer, ServeConfig]],
) -> None:
    server, config = make_server(public_url="https://install.example.com")
    headers = {"host": "install.example.com"}
    with browser() as b:
        live = b.get(server.url + "/install?mode=live", headers=headers)
        bad = b.get(server.url + "/install?mode=staging", headers=headers)
        home = b.get(server.url + "/", headers=headers)
    assert parse_qs(urlsplit(live.headers["location"]).query)["client_id"] == [
        config.settings.live.client_id
    ]
    assert bad.status_code == 400
    assert title(bad) == "Unknown mode"
    assert 'href="https://install.example.com/install?mode=live"' in home.text


# --- installs ----------------------------------------------------------------------------------


def test_two_accounts_install_and_each_token_set_is_stored(
    make_server: Callable[..., tuple[InstallServer, ServeConfig]], sb: Sandbox
) -> None:
    store = MemoryTokenStore()
    server, _ = make_server(store=store)
    accounts = [sb.create_account("Acme Bakery"), sb.create_account("Bolt Bikes")]
    pages = []
    for account in accounts:
        with browser() as b:
            visit, page = install(b, server.url, account)
            pages.append((visit, page))
            assert COOKIE_NAME not in b.cookies or cookie_states(b) == []  # the state is used
    stored = {t.account_id: t for t in store.all()}
    assert sorted(stored) == sorted(accounts)
    assert grants(sb) == 2
    for (visit, page), account in zip(pages, accounts, strict=True):
        tokens = stored[account]
        assert page.status_code == 200
        assert title(page) == "Reports Sync is connected"
        assert f'<strong id="account-id">{account}</strong>' in page.text
        assert tokens.access_token.masked in page.text
        for secret in (tokens.access_token.reveal(), tokens.refresh_token.reveal(), visit.code):
            assert secret not in page.text


def test_decline_gets_a_clear_page_with_a_way_back(
    make_server: Callable[..., tuple[InstallServer, ServeConfig]], sb: Sandbox
) -> None:
    store = MemoryTokenStore()
    server, config = make_server(store=store)
    with browser() as b:
        _, page = install(b, server.url, None, decision="deny")
    assert page.status_code == 200
    assert title(page) == "Install cancelled"
    assert f'<a class="button" id="back" href="{config.public_url}/">' in page.text
    assert store.all() == []
    assert grants(sb) == 0


def test_a_public_url_with_a_path_prefix_serves_under_it(
    make_server: Callable[..., tuple[InstallServer, ServeConfig]], sb: Sandbox
) -> None:
    store = MemoryTokenStore()
    server, config = make_server(store=store, prefix="/stripe")
    assert config.callback_url == f"{server.url}/stripe/callback"
    with browser() as b:
        home = b.get(server.url + "/stripe/")
        _, page = install(b, server.url + "/stripe", None)
        outside = b.get(server.url + "/install")
    assert title(home) == "Install Reports Sync"
    assert f'href="{server.url}/stripe/install"' in home.text
    assert page.status_code == 200
    assert len(store.all()) == 1
    assert outside.status_code == 404


# --- refusals: 400, and no token request -----------------------------------------------------


def test_callback_without_the_cookie_is_refused_and_uses_nothing(
    make_server: Callable[..., tuple[InstallServer, ServeConfig]], sb: Sandbox
) -> None:
    store = MemoryTokenStore()
    server, _ = make_server(store=store)
    with browser() as victim, browser() as other:
        visit = start_install(victim, server.url, None)
        refused = other.get(visit.callback_url)  # the redirect opened where no install began
        assert refused.status_code == 400
        assert title(refused) == "This browser did not start an install here"
        assert grants(sb) == 0
        assert store.all() == []
        done = victim.get(visit.callback_url)  # the attempt stayed open for its own browser
    assert done.status_code == 200
    assert grants(sb) == 1


def test_a_state_from_another_browser_is_refused(
    make_server: Callable[..., tuple[InstallServer, ServeConfig]], sb: Sandbox
) -> None:
    store = MemoryTokenStore()
    server, _ = make_server(store=store)
    with browser() as attacker, browser() as victim:
        planted = start_install(attacker, server.url, None)  # the attacker's own code
        start_install(victim, server.url, None)  # the victim has a cookie of their own
        refused = victim.get(planted.callback_url)  # login CSRF: the attacker's redirect
    assert refused.status_code == 400
    assert title(refused) == "This install was started in another browser"
    assert grants(sb) == 0
    assert store.all() == []


def test_a_reload_of_the_success_page_shows_the_result_again_and_sends_nothing(
    make_server: Callable[..., tuple[InstallServer, ServeConfig]], sb: Sandbox
) -> None:
    server, _ = make_server()
    with browser() as b:
        visit, first = install(b, server.url, None)
        again = b.get(visit.callback_url)
        states = cookie_states(b)
    assert first.status_code == 200
    assert again.status_code == 200
    assert title(again) == "This install is already done"
    account = re.search(r'id="account-id">([^<]+)<', first.text)
    assert account is not None
    assert f"Account {account.group(1)} is connected in test mode" in again.text
    assert "nothing new was sent to Stripe" in again.text
    assert visit.code not in again.text
    assert states == []  # the used state left the cookie; only the fingerprint of it stays
    assert grants(sb) == 1


def test_a_replayed_callback_in_another_browser_is_refused(
    make_server: Callable[..., tuple[InstallServer, ServeConfig]], sb: Sandbox
) -> None:
    server, _ = make_server()
    with browser() as b:
        visit, first = install(b, server.url, None)
    with browser() as other:
        again = other.get(visit.callback_url)
    assert first.status_code == 200
    assert again.status_code == 400
    assert "Nothing was connected" in again.text
    assert grants(sb) == 1


def test_a_used_code_with_a_fresh_state_is_refused_without_a_token_request(
    make_server: Callable[..., tuple[InstallServer, ServeConfig]], sb: Sandbox
) -> None:
    server, _ = make_server()
    with browser() as b:
        used, first = install(b, server.url, None)
        fresh = start_install(b, server.url, None)  # a valid new state in this browser
        spliced = fresh.callback_url.replace(fresh.code, used.code)
        refused = b.get(spliced)
    assert first.status_code == 200
    assert refused.status_code == 400
    assert title(refused) == "This authorization code was already used"
    assert grants(sb) == 1


def test_the_same_redirect_at_once_twice_is_exchanged_once(
    make_server: Callable[..., tuple[InstallServer, ServeConfig]], sb: Sandbox
) -> None:
    store = MemoryTokenStore()
    server, _ = make_server(store=store)
    with browser() as b:
        visit = start_install(b, server.url, None)
        barrier = threading.Barrier(8)

        def hit(_: int) -> tuple[int, str]:
            barrier.wait(timeout=30)
            page = b.get(visit.callback_url)
            return page.status_code, title(page)

        with ThreadPoolExecutor(8) as pool:
            pages = list(pool.map(hit, range(8)))
    # One exchange: one success page. A request that left while the first was being exchanged is
    # refused (400); one that left after it (the browser then holds the "done" cookie, as on a
    # reload) is told the install is already done (200). Which of the two depends on timing.
    assert pages.count((200, "Reports Sync is connected")) == 1, pages
    others = [p for p in pages if p != (200, "Reports Sync is connected")]
    assert all(p[0] == 400 or p == (200, "This install is already done") for p in others), pages
    assert grants(sb) == 1
    assert len(store.all()) == 1


@pytest.mark.parametrize(
    ("query", "heading"),
    [
        (
            "code=ac_EXAMPLE1&code=ac_EXAMPLE2&state=x",
            "This address is not a valid return from Stripe",
        ),
        ("state=x", "This address is not a valid return from Stripe"),
        ("code=ac_EXAMPLE1&state=%3Cscript%3E", "This address is not a valid return from Stripe"),
        ("code=ac_EXAMPLE1", "The redirect carries no state"),
    ],
)
def test_malformed_callbacks_are_refused(
    make_server: Callable[..., tuple[InstallServer, ServeConfig]],
    sb: Sandbox,
    query: str,
    heading: str,
) -> None:
    server, _ = make_server()
    with browser() as b:
        start_install(b, server.url, None)  # a cookie, so only the query is wrong
        page = b.get(f"{server.url}/callback?{query}")
    assert page.status_code == 400
    assert title(page) == heading
    assert "<script>" not in page.text
    assert grants(sb) == 0


def test_a_cookie_signed_by_another_key_is_refused(
    make_server: Callable[..., tuple[InstallServer, ServeConfig]], sb: Sandbox, tmp_path: Path
) -> None:
    attempts = AttemptLog()
    first, config = make_server(attempts=attempts)
    other, _ = make_server(
        attempts=attempts,
        key="EXAMPLE-another-key-0123456789-abcdef",
        manifest=config.manifest,
        public_url=config.public_url,  # both behind one address, as behind a load balancer
    )
    with browser() as b:
        visit = start_install(b, first.url, None)
        moved = visit.callback_url.replace(first.url, other.url)
        page = b.get(moved)
    assert page.status_code == 400
    assert "signed by another server key" in page.text
    assert grants(sb) == 0


# --- the store does not answer -----------------------------------------------------------------


def test_store_down_before_the_exchange_says_try_again_and_a_reload_works(
    make_server: Callable[..., tuple[InstallServer, ServeConfig]], sb: Sandbox
) -> None:
    store = FlakyStore()
    server, _ = make_server(store=store)
    with browser() as b:
        visit = start_install(b, server.url, None)
        store.reads_fail = True
        down = b.get(visit.callback_url)
        assert down.status_code == 503
        assert title(down) == "Please try again in a minute"
        assert grants(sb) == 0
        assert store.stored() == []
        store.reads_fail = False
        again = b.get(visit.callback_url)  # the visitor reloads
    assert again.status_code == 200
    assert grants(sb) == 1
    assert len(store.stored()) == 1


def test_store_down_at_the_write_says_try_again_and_stores_nothing(
    make_server: Callable[..., tuple[InstallServer, ServeConfig]], sb: Sandbox
) -> None:
    store = FlakyStore()
    server, _ = make_server(store=store)
    store.writes_fail = True
    with browser() as b:
        _, page = install(b, server.url, None)
        health = b.get(server.url + "/healthz").json()
    assert page.status_code == 503
    assert title(page) == "Please try again in a minute"
    assert "start the install again" in page.text
    assert store.stored() == []
    assert grants(sb) == 1  # the code was spent once, never again
    assert health["status"] == "ok"


def test_healthz_reports_the_store(
    make_server: Callable[..., tuple[InstallServer, ServeConfig]],
) -> None:
    store = FlakyStore()
    server, _ = make_server(store=store)
    with browser() as b:
        ok = b.get(server.url + "/healthz")
        store.reads_fail = True
        down = b.get(server.url + "/healthz")
    assert ok.status_code == 200
    assert ok.json() == {"status": "ok", "store": "ok", "mode": "test"}
    assert down.json()["store"] == "unreachable"


# --- many accounts at once ---------------------------------------------------------------------


@pytest.mark.slow
def test_fifty_concurrent_installs_land_fifty_token_sets(
    make_server: Callable[..., tuple[InstallServer, ServeConfig]], sb: Sandbox, tmp_path: Path
) -> None:
    store = FileTokenStore(tmp_path / "shared" / "tokens.json")
    attempts = AttemptLog(tmp_path / "shared" / "attempts.json")
    server, _ = make_server(store=store, attempts=attempts)
    accounts = [sb.create_account(f"Shop {n:02d}") for n in range(50)]
    barrier = threading.Barrier(50)

    def one(account: str) -> int:
        with browser() as b:
            visit = start_install(b, server.url, account)
            barrier.wait(timeout=120)  # every callback at the same moment
            return b.get(visit.callback_url).status_code

    with ThreadPoolExecutor(50) as pool:
        statuses = list(pool.map(one, accounts))
    assert statuses == [200] * 50
    stored = store.all()
    assert sorted(t.account_id for t in stored) == sorted(accounts)
    assert grants(sb) == 50


# --- hygiene ---------------------------------------------------------------------------------


def test_logs_mask_every_secret(
    make_server: Callable[..., tuple[InstallServer, ServeConfig]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = MemoryTokenStore()
    server, _ = make_server(store=store)
    caplog.set_level(logging.DEBUG)
    with browser() as b:
        visit, page = install(b, server.url, None)
        b.get(visit.callback_url)  # a refused replay is logged too
    assert page.status_code == 200
    tokens = store.all()[0]
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "install completed" in logged
    for secret in (
        visit.code,
        visit.state,
        tokens.access_token.reveal(),
        tokens.refresh_token.reveal(),
        KEY,
    ):
        assert secret not in logged


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("GET", "/favicon.ico", 404), ("POST", "/callback", 405), ("POST", "/install", 405)],
)
def test_other_paths_and_methods(
    make_server: Callable[..., tuple[InstallServer, ServeConfig]],
    method: str,
    path: str,
    status: int,
) -> None:
    server, _ = make_server()
    with browser() as b:
        answer = b.request(method, server.url + path)
    assert answer.status_code == status
    assert "content-security-policy" in answer.headers


def test_a_foreign_host_header_is_refused_on_loopback(
    make_server: Callable[..., tuple[InstallServer, ServeConfig]],
) -> None:
    server, _ = make_server()
    with browser() as b:
        answer = b.get(server.url + "/install", headers={"host": "attacker.example"})
    assert answer.status_code == 400
    assert "set-cookie" not in answer.headers


# --- start-up checks -------------------------------------------------------------------------


@pytest.fixture
def settings_for(sb: Sandbox, tmp_path: Path) -> Callable[[Manifest], Settings]:
    def make(manifest: Manifest) -> Settings:
        return app_settings(Target.for_sandbox(sb), manifest)

    return make


@pytest.mark.parametrize(
    ("host", "public_url", "words"),
    [
        (ANY, None, "reverse proxy that terminates TLS"),
        (ANY, "http://install.example.com", "reverse proxy that terminates TLS"),
        ("127.0.0.1", "http://install.example.com", "plain HTTP to another host"),
        ("127.0.0.1", "ftp://install.example.com", "is not usable"),
        ("127.0.0.1", "https://install.example.com/?x=1", "is not usable"),
    ],
)
def test_start_up_refuses_plain_http_off_loopback(
    settings_for: Callable[[Manifest], Settings],
    tmp_path: Path,
    host: str,
    public_url: str | None,
    words: str,
) -> None:
    manifest = manifest_for(
        tmp_path, "https://install.example.com/callback", "http://0.0.0.0:8765/callback"
    )
    with pytest.raises(ConfigError, match=words):
        ServeConfig.create(
            settings_for(manifest), manifest, host=host, public_url=public_url, signing_key=KEY
        )


def test_start_up_accepts_a_public_bind_behind_https(
    settings_for: Callable[[Manifest], Settings], tmp_path: Path
) -> None:
    manifest = manifest_for(tmp_path, "https://install.example.com/stripe/callback")
    config = ServeConfig.create(
        settings_for(manifest),
        manifest,
        host=ANY,
        public_url="https://install.example.com/stripe/",
        signing_key=KEY,
    )
    assert config.callback_url == "https://install.example.com/stripe/callback"
    assert config.secure_cookie
    # the public URL is read once, in one place: its host (allowed Host headers) and its
    # prefix (where the routes are mounted)
    assert config.public == PublicURL(
        "https://install.example.com/stripe", "https", "install.example.com", "/stripe"
    )
    assert PublicURL.read("http://127.0.0.1:8765").prefix == ""
    assert not PublicURL.read("http://127.0.0.1:8765").secure


def test_start_up_refuses_a_callback_missing_from_the_manifest(
    settings_for: Callable[[Manifest], Settings], tmp_path: Path
) -> None:
    manifest = manifest_for(tmp_path, "http://127.0.0.1:8765/callback")
    with pytest.raises(InstallLinkError, match="allowed_redirect_uris") as caught:
        ServeConfig.create(settings_for(manifest), manifest, port=8766, signing_key=KEY)
    assert "http://127.0.0.1:8766/callback" in str(caught.value)


def test_start_up_refuses_live_mode_over_plain_http(
    settings_for: Callable[[Manifest], Settings], tmp_path: Path
) -> None:
    manifest = manifest_for(tmp_path, "http://127.0.0.1:8765/callback")
    with pytest.raises(InstallLinkError, match="HTTPS"):
        ServeConfig.create(settings_for(manifest), manifest, mode="live", signing_key=KEY)


def test_start_up_needs_a_client_id(tmp_path: Path) -> None:
    manifest = manifest_for(tmp_path, "http://127.0.0.1:8765/callback")
    with pytest.raises(ConfigError, match="STRIPE_CLIENT_ID_TEST"):
        ServeConfig.create(Settings(), manifest, signing_key=KEY)


def test_signing_key_from_the_environment_or_a_warned_one(
    settings_for: Callable[[Manifest], Settings],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    manifest = manifest_for(tmp_path, "http://127.0.0.1:8765/callback")
    settings = settings_for(manifest)
    monkeypatch.setenv(SECRET_ENV, KEY)
    assert ServeConfig.create(settings, manifest).signing_key.reveal() == KEY
    monkeypatch.setenv(SECRET_ENV, "short")
    with pytest.raises(ConfigError, match="at least 32"):
        ServeConfig.create(settings, manifest)
    monkeypatch.delenv(SECRET_ENV)
    with caplog.at_level(logging.WARNING, logger="stripe_oauth_nb.serve"):
        one = ServeConfig.create(settings, manifest).signing_key  # a local try: no warning
        two = ServeConfig.create(settings, manifest).signing_key
    assert one != two
    assert caplog.text == ""
    public = "http://127.0.0.1:8765"  # reached through another address: one of several
    with caplog.at_level(logging.WARNING, logger="stripe_oauth_nb.serve"):
        ServeConfig.create(settings, manifest, port=free_port(), public_url=public)
    assert "load balancer" in caplog.text
    assert SECRET_ENV in caplog.text


def test_a_taken_port_fails_at_start(
    settings_for: Callable[[Manifest], Settings], tmp_path: Path
) -> None:
    import socket

    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        manifest = manifest_for(tmp_path, f"http://127.0.0.1:{port}/callback")
        config = ServeConfig.create(settings_for(manifest), manifest, port=port, signing_key=KEY)
        with pytest.raises(ConfigError, match="another program uses that port"):
            InstallServer(config).start()


def test_restarting_on_the_same_port_stops_the_old_server(
    settings_for: Callable[[Manifest], Settings], tmp_path: Path
) -> None:
    port = free_port()
    manifest = manifest_for(tmp_path, f"http://127.0.0.1:{port}/callback")
    config = ServeConfig.create(
        settings_for(manifest), manifest, port=port, signing_key=KEY, store=MemoryTokenStore()
    )
    old = InstallServer(config).start()
    new = InstallServer(config).start()  # a re-run notebook cell
    try:
        assert not old.running
        assert new.running
        assert httpx.get(new.url + "/healthz", timeout=10).status_code == 200
    finally:
        new.stop()
    assert not new.running


# --- the scripted visitor and the sandbox shortcut ---------------------------------------------


def test_visit_installs_through_the_page_like_one_browser(sb: Sandbox, tmp_path: Path) -> None:
    port = free_port()
    manifest = manifest_for(tmp_path / "app", f"http://127.0.0.1:{port}/callback")
    store = MemoryTokenStore()
    config = ServeConfig.for_sandbox(
        sb, manifest, port=port, signing_key=KEY, store=store, attempts=AttemptLog()
    )
    account = sb.create_account("Corner Shop")
    with InstallServer(config) as server:
        done = visit(server.url + "/", account=account)
        declined = visit(server.url + "/", decision="deny")
    assert done.connected
    assert str(done) == f"200 Reports Sync is connected, account {account}"
    assert (declined.status, declined.title, declined.connected) == (
        200,
        "Install cancelled",
        False,
    )
    assert [t.account_id for t in store.all()] == [account]


def test_a_mode_the_page_does_not_offer_is_refused(
    make_server: Callable[..., tuple[InstallServer, ServeConfig]],
) -> None:
    server, _ = make_server()  # plain HTTP on loopback: live mode (HTTPS only) is not offered
    with browser() as b:
        page = b.get(server.url + "/install?mode=live")
        home = b.get(server.url + "/")
    assert page.status_code == 400
    assert title(page) == "That mode is not available here"
    assert "test mode" in page.text
    assert "mode=live" not in home.text
