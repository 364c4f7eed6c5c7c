"""``stripe-oauth-nb sync``: the report (text or JSON), bars on a terminal, one clear error each."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from _sync_helpers import cli_env, install, manager, sandbox_counts, sync_app, table_counts

from stripe_oauth_nb._cli import main
from stripe_oauth_nb._cli.sync import _Bars
from stripe_oauth_nb._tokenset import TokenSet
from stripe_oauth_nb.sandbox import Sandbox
from stripe_oauth_nb.sync import Progress
from stripe_oauth_nb.tokens import FileTokenStore, TokenManager

pytest.importorskip("dlt")


@pytest.fixture(scope="module")
def world() -> Iterator[Sandbox]:
    with Sandbox(customers=20, rate_limit=False) as sb:
        yield sb


@pytest.fixture
def installed(world: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> TokenSet:
    monkeypatch.chdir(tmp_path)  # no stray .env; stripe.duckdb lands here
    app = sync_app(world)
    store = tmp_path / "tokens" / "tokens.json"
    for name, value in cli_env(world, app, store).items():
        monkeypatch.setenv(name, value)
    settings, _ = manager(world, app)
    tokens = TokenManager(settings.with_changes(token_store_path=store), FileTokenStore(store))
    return install(world, tokens, app)


@pytest.mark.slow
def test_sync_prints_the_report_and_loads_stripe_duckdb(
    world: Sandbox, installed: TokenSet, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["sync"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("Synced into duckdb:stripe.duckdb")
    assert "customers" in out
    assert "requests (0 answered 429)" in out
    account = installed.account_id
    assert table_counts(tmp_path / "stripe.duckdb", account) == sandbox_counts(world, account)
    assert installed.access_token.reveal() not in out + err


def test_json_report_for_chosen_resources(
    installed: TokenSet, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "other.duckdb"
    argv = ["sync", "--db", str(db), "--resources", "customers,prices", "--json"]
    assert main([*argv, "--account", installed.account_id]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is True
    assert sorted(t["table"] for t in report["tables"]) == ["customers", "prices"]
    assert report["accounts"][0]["mode"] == "test"
    assert report["requests"] >= 3


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--resources", "customers,nope"], "Unknown resource name: nope. Choose from: customers"),
        (["--destination", "postgres"], "PostgreSQL needs a DSN"),
        (["--dsn", "postgresql://u:EXAMPLE-pw@127.0.0.1:9/db"], "without --destination postgres"),
        (["--account", "acct_EXAMPLEnotthere"], "No tokens are stored for acct_EXAMPLEnotthere"),
    ],
)
def test_bad_input_is_one_clear_error(
    installed: TokenSet, argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["sync", *argv]) == 1
    out, err = capsys.readouterr()
    assert err.startswith("error: ")
    assert message in err
    assert "Traceback" not in err
    assert "EXAMPLE-pw" not in out + err


def test_dsn_password_is_masked(
    installed: TokenSet, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dsn = "postgresql://som:EXAMPLE-pw@127.0.0.1:9/nowhere"
    assert main(["sync", "--destination", "postgres", "--dsn", dsn]) == 1
    err = capsys.readouterr().err
    assert "postgresql://som:***@127.0.0.1:9/nowhere" in err
    assert "EXAMPLE-pw" not in err


def test_a_bar_per_table_on_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    bars = _Bars(enabled=True)
    for table in ("customers", "charges"):
        bars(Progress("acct_EXAMPLE", False, table, "reading", 100))
        bars(Progress("acct_EXAMPLE", False, table, "loaded", 250))
    bars.close()
    err = capsys.readouterr().err
    assert "customers" in err
    assert "charges" in err
    assert "250" in err
    assert "loaded" in err


def test_a_database_others_can_read_is_one_warning_line_and_is_left_as_it_is(
    world: Sandbox, installed: TokenSet, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import duckdb

    db = tmp_path / "stripe.duckdb"
    duckdb.connect(str(db)).close()
    db.chmod(0o644)
    assert main(["sync", "--resources", "customers"]) == 0
    err = capsys.readouterr().err
    assert (
        "warning: The database stripe.duckdb can be read by other users of this machine "
        "(mode 0644)" in err
    )
    assert "make it private with `chmod 600 'stripe.duckdb'`" in err
    assert "DataPermissionsWarning" not in err  # one line, not Python's warning format
    assert db.stat().st_mode & 0o777 == 0o644


@pytest.mark.parametrize("version", ["latest", "2026-02-30.dahlia"])
def test_a_bad_api_version_is_one_clear_error_before_any_request(
    world: Sandbox,
    installed: TokenSet,
    version: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("STRIPE_API_VERSION", version)
    before = dict(world.stats()["requests"])
    assert main(["sync"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: STRIPE_API_VERSION='{version}' is not a Stripe API version")
    assert "Traceback" not in err
    assert dict(world.stats()["requests"]) == before
    assert not Path("stripe.duckdb").exists()
