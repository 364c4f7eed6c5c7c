"""``connect()``: one call from nothing to a connection, in a script, against the sandbox."""

from __future__ import annotations

import gc
import json
import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stripe_oauth_nb import Connection, Target, connect, load_settings
from stripe_oauth_nb._connect import TerminalPresenter
from stripe_oauth_nb._tokenset import TokenSet
from stripe_oauth_nb.errors import AccessDeniedError, AuthorizeAgainError, ConfigError
from stripe_oauth_nb.sandbox import DEFAULT_CUSTOMERS, Sandbox
from stripe_oauth_nb.tokens import FileTokenStore

QUIET = TerminalPresenter(open_browser=False, read_stdin=False)


@pytest.fixture(autouse=True)
def nothing_configured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("STRIPE_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def target() -> Iterator[Target]:
    """A sandbox started for the test (what ``connect()`` does with nothing configured)."""
    with Target.open(load_settings(), customers=12) as opened:
        yield opened


def test_the_sandbox_connect_starts_is_the_one_default_sandbox() -> None:
    """Target.open() (connect()'s door) and Sandbox() agree: the one default size."""
    with Target.open() as opened, Sandbox() as plain:
        assert opened.sandbox is not None
        assert opened.sandbox.counts() == plain.counts()
        assert plain.counts()["customers"] == DEFAULT_CUSTOMERS


def test_connect_with_nothing_configured_authorizes_and_owns_its_sandbox(
    capsys: pytest.CaptureFixture[str],
) -> None:
    conn = connect(approve=True, presenter=QUIET)
    try:
        sandbox = conn.target.sandbox
        assert sandbox is not None
        assert sandbox.running
        assert conn.account_id.startswith("acct_")
        assert conn.mode == "test"
        assert conn.get("/v1/account")["id"] == conn.account_id
        customers = list(conn.list_all("/v1/customers"))
        assert len(customers) == 250
        store = conn.settings.token_store_path
        assert store.exists()
        out = capsys.readouterr().out
        assert f"Authorized: account {conn.account_id} (test mode)" in out
        assert repr(conn) == (
            f"Connection(account_id={conn.account_id!r}, mode='test', target='sandbox')"
        )
    finally:
        conn.close()
    assert not sandbox.running  # connect() started it, so closing the connection stops it
    assert not store.parent.exists()  # and its temporary token folder is gone


def test_stored_tokens_are_used_without_a_new_authorization(target: Target) -> None:
    sandbox = target.sandbox
    assert sandbox is not None
    first = connect(target=target, approve=True, presenter=QUIET)
    first.close()
    assert sandbox.running  # a target it did not open stays open
    grants = sandbox.stats()["grants"]["authorization_code"]
    with connect(target=target, presenter=QUIET) as again:
        assert again.account_id == first.account_id
    assert sandbox.stats()["grants"]["authorization_code"] == grants


def test_the_stripe_client_keeps_working_after_the_hour(target: Target) -> None:
    pytest.importorskip("stripe")
    sandbox = target.sandbox
    assert sandbox is not None
    with connect(target=target, approve=True, presenter=QUIET) as conn:
        client = conn.stripe
        first = client.v1.customers.list(params={"limit": 3})
        assert len(first.data) == 3
        before = conn.token_set
        sandbox.advance_clock(3601)  # Stripe's clock: the access token is now expired there
        again = client.v1.customers.list(params={"limit": 3})
        assert [c.id for c in again.data] == [c.id for c in first.data]
        after = conn.token_set
        assert after.access_token != before.access_token  # refreshed, and stored
        assert after.refresh_token != before.refresh_token
        assert sandbox.stats()["grants"]["refresh_token"] == 1
        account = client.v1.accounts.retrieve_current()
        assert account.id == conn.account_id


def test_the_stripe_client_has_the_toolkits_timeouts(target: Target) -> None:
    stripe = pytest.importorskip("stripe")
    from stripe_oauth_nb._http import DEFAULT_TIMEOUT

    made: list[Any] = []
    real = stripe.RequestsClient.__init__

    def record(self: Any, *args: Any, **kwargs: Any) -> None:
        made.append(kwargs.get("timeout", "library default"))
        real(self, *args, **kwargs)

    with (
        pytest.MonkeyPatch.context() as mp,
        connect(target=target, approve=True, presenter=QUIET) as conn,
    ):
        mp.setattr(stripe.RequestsClient, "__init__", record)
        assert conn.stripe.v1.customers.list(params={"limit": 1}).data
    assert made == [(DEFAULT_TIMEOUT.connect, DEFAULT_TIMEOUT.read)]


def test_a_mode_without_keys_names_the_setting(tmp_path: Path) -> None:
    settings = load_settings()
    with Target.open(settings, customers=1) as target:
        bare = target.settings.with_changes(
            live=target.settings.live.__class__("live", None, target.settings.live.client_id)
        )
        naked = Target(bare, kind="sandbox-url")
        with pytest.raises(ConfigError, match="STRIPE_SECRET_KEY_LIVE"):
            connect(target=naked, mode="live", approve=True, presenter=QUIET)


def test_an_account_without_tokens_says_which_are_stored(target: Target) -> None:
    with connect(target=target, approve=True, presenter=QUIET) as conn:
        stored = conn.account_id
    with pytest.raises(AuthorizeAgainError) as caught:
        connect("acct_EXAMPLEnotstored", target=target, presenter=QUIET)
    message = str(caught.value)
    assert "acct_EXAMPLEnotstored" in message
    assert stored in message
    assert "without account=" in message


def test_a_revoked_token_fails_at_connect_with_the_next_step(target: Target) -> None:
    with connect(target=target, approve=True, presenter=QUIET) as conn:
        tokens = conn.token_set
    store = FileTokenStore(target.settings.token_store_path)
    data = tokens.to_json()
    data["access_token"] = "rk_test_EXAMPLErevokedaccesstoken0000"
    data["refresh_token"] = "rt_EXAMPLErevokedrefreshtoken0000"
    store.save(TokenSet.from_json(data), authorized=True)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        with pytest.raises(AuthorizeAgainError) as caught:
            connect(target=target, presenter=QUIET)
        message = str(caught.value)
        del caught  # its traceback holds connect()'s frames
        gc.collect()
    leaked = [str(w.message) for w in seen if issubclass(w.category, ResourceWarning)]
    assert not leaked  # the failed connection closed its HTTP client
    assert "no longer work" in message
    assert "connect(new=True)" in message
    assert "EXAMPLErevoked" not in message  # masked, if named at all


def test_a_declined_consent_is_one_clear_error(
    target: Target, monkeypatch: pytest.MonkeyPatch
) -> None:
    from stripe_oauth_nb import sandbox as sandbox_module

    accept = sandbox_module.approve
    monkeypatch.setattr(
        sandbox_module,
        "approve",
        lambda url, **kw: accept(url, **{**kw, "decision": "deny"}),
    )
    with pytest.raises(AccessDeniedError, match="declined"):
        connect(target=target, approve=True, presenter=QUIET)
    assert not FileTokenStore(target.settings.token_store_path).all()


def test_approve_is_refused_against_stripe(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STRIPE_SECRET_KEY_TEST", "sk_test_EXAMPLE" + "k" * 20)
    monkeypatch.setenv("STRIPE_CLIENT_ID_TEST", "ca_EXAMPLE1234")
    with pytest.raises(ConfigError, match="only works with the sandbox"):
        connect(approve=True, presenter=QUIET)


def test_several_accounts(target: Target) -> None:
    sandbox = target.sandbox
    assert sandbox is not None
    other = sandbox.create_account("Second Shop", customers=3)
    with connect(target=target, approve=True, presenter=QUIET) as first:
        pass
    with connect(other, target=target, approve=True, presenter=QUIET) as second:
        assert second.account_id == other
        assert len(list(second.list_all("/v1/customers"))) == 3
    with connect(first.account_id, target=target, presenter=QUIET) as back:
        assert back.account_id == first.account_id
    accounts = {t.account_id for t in FileTokenStore(target.settings.token_store_path).all()}
    assert accounts == {first.account_id, other}


def test_connection_repr_and_reports_show_no_secret(target: Target) -> None:
    with connect(target=target, approve=True, presenter=QUIET) as conn:
        shown = repr(conn) + repr(conn.token_set) + json.dumps(repr(conn.api))
        tokens = conn.token_set
    for secret in (tokens.access_token.reveal(), tokens.refresh_token.reveal()):
        assert secret not in shown


def test_connection_is_usable_from_the_package_root() -> None:
    import stripe_oauth_nb

    assert stripe_oauth_nb.connect is connect
    assert stripe_oauth_nb.Connection is Connection


@pytest.mark.slow
def test_from_a_connection_to_a_sql_answer(target: Target, tmp_path: Path) -> None:
    duckdb = pytest.importorskip("duckdb")
    assert target.sandbox is not None
    with connect(target=target, approve=True, presenter=QUIET) as conn:
        report = conn.sync(db=tmp_path / "stripe.duckdb")
        assert report.ok, report.summary()
        with duckdb.connect(str(tmp_path / "stripe.duckdb"), read_only=True) as db:
            (customers,) = db.execute("SELECT count(*) FROM customers").fetchone()  # type: ignore[misc]
            (accounts,) = db.execute("SELECT count(DISTINCT account_id) FROM charges").fetchone()  # type: ignore[misc]
        counts = target.sandbox.counts(conn.account_id, "test")
        assert customers == counts["customers"]
        assert accounts == 1


def test_the_front_door_gives_connect_its_notebook_form() -> None:
    import stripe_oauth_nb
    from stripe_oauth_nb import _connect

    _connect.use_notebook_presenter(None)
    assert isinstance(_connect._default_presenter(), TerminalPresenter)
    assert stripe_oauth_nb.__getattr__("connect") is _connect.connect
    factory = _connect._notebook_presenter
    assert factory is not None  # the widgets' form, loaded only when shown
    assert "AuthorizeView" in factory.__code__.co_names
    assert isinstance(_connect._default_presenter(), TerminalPresenter)  # not in a kernel here
