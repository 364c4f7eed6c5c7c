"""``refresh_all`` and ``tokens refresh --all``: many installs, rate limits, per-account failures,
deauthorized accounts, several workers on several "hosts" splitting the work."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest
from _tokens_helpers import ROOT, grants, token_works

from stripe_oauth_nb._cli import main
from stripe_oauth_nb._ratelimit import STRIPE_RATES, ModeLimiter
from stripe_oauth_nb._tokenset import TokenSet
from stripe_oauth_nb.sandbox import Sandbox
from stripe_oauth_nb.tokens import FileTokenStore, TokenManager, TokenStore
from stripe_oauth_nb.tokens._crypto import StoreCipher, new_key
from stripe_oauth_nb.tokens._postgres import PostgresTokenStore

ACCOUNTS = 24


def _install(sb: Sandbox, store: TokenStore, count: int, *, age: float = 3700.0) -> list[TokenSet]:
    """``count`` installing accounts, each with a stored set whose access token is expired."""
    sets = []
    for n in range(count):
        account = sb.create_account(f"Installer {n}")
        body = sb.mint_tokens("test", account_id=account)
        tokens = TokenSet.from_response(body, obtained_at=sb.now() - age)
        store.save(tokens, authorized=True)
        sets.append(tokens)
    return sets


@pytest.fixture(params=["file", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> TokenStore:
    cipher = StoreCipher.from_setting(new_key())
    if request.param == "file":
        return FileTokenStore(tmp_path / "tokens.json", cipher=cipher)
    dsn = request.getfixturevalue("postgres").create_database()
    return PostgresTokenStore(dsn, cipher=cipher, spool=tmp_path / "spool")


def test_refresh_all_refreshes_every_due_set_once_and_reports_each(
    sb: Sandbox, store: TokenStore
) -> None:
    sets = _install(sb, store, ACCOUNTS)
    fresh = TokenSet.from_response(sb.mint_tokens("test"), obtained_at=sb.now())
    store.save(fresh, authorized=True)  # not due: left alone
    manager = TokenManager(sb.settings(), store, clock=sb.now)
    seen = []
    outcomes = manager.refresh_all(workers=8, progress=seen.append)
    assert len(outcomes) == len(seen) == ACCOUNTS + 1
    by_status = {o.status for o in outcomes[:ACCOUNTS]}
    assert by_status == {"refreshed"}, [o.detail for o in outcomes if o.status != "refreshed"]
    assert outcomes[-1].status == "fresh"
    assert grants(sb)["refresh_token"] == ACCOUNTS
    for old in sets:
        new = store.load(*old.key)
        assert new is not None
        assert new.refresh_token != old.refresh_token
    assert token_works(sb, store.load(*sets[0].key).access_token)  # type: ignore[union-attr]
    again = manager.refresh_all(workers=8)
    assert {o.status for o in again} == {"fresh"}
    assert grants(sb)["refresh_token"] == ACCOUNTS


def test_a_deauthorized_account_is_marked_and_not_retried_and_others_go_on(
    sb: Sandbox, store: TokenStore
) -> None:
    sets = _install(sb, store, 5)
    manager = TokenManager(sb.settings(), store, clock=sb.now)
    manager.client.refresh(sets[2])  # that account's stored refresh token is dead now
    sent = grants(sb)["refresh_token"]
    outcomes = manager.refresh_all(workers=4)
    statuses = [o.status for o in outcomes]
    assert statuses == ["refreshed", "refreshed", "deauthorized", "refreshed", "refreshed"]
    assert "authorize the app again" in outcomes[2].detail
    assert grants(sb)["refresh_token"] == sent + 5
    for n in range(3):  # later runs: no request for it, whatever the schedule
        sb.advance_clock(3600)
        later = manager.refresh_all(workers=4)
        assert [o.status for o in later][2] == "deauthorized"
        others = [o for i, o in enumerate(later) if i != 2]
        assert {o.status for o in others} == {"refreshed"}, [o.detail for o in others]
        assert grants(sb)["refresh_token"] == sent + 5 + 4 * (n + 1)
    assert manager.summary()[2]["state"].startswith("deauthorized")


def test_a_rate_limited_refresh_is_retried_without_losing_the_set(
    sb: Sandbox, store: TokenStore
) -> None:
    sets = _install(sb, store, 3)
    manager = TokenManager(sb.settings(), store, clock=sb.now)
    sb.inject_fault("token", "rate_limit", times=2, retry_after=0)
    outcomes = manager.refresh_all(workers=1)
    assert [o.status for o in outcomes] == ["refreshed"] * 3
    assert all(store.load(*t.key) != t for t in sets)


def test_the_rate_limiter_spaces_requests_per_mode() -> None:
    limiter = ModeLimiter({"test": 50.0, "live": 1000.0})
    start = time.monotonic()
    for _ in range(26):
        limiter.wait("test")
    assert time.monotonic() - start >= 25 / 50.0 - 0.01  # never faster than 50 a second
    assert STRIPE_RATES == {"live": 100.0, "test": 25.0}


def _cli_env(sb: Sandbox, dsn: str, key: str, home: Path) -> dict[str, str]:
    home.mkdir(parents=True, exist_ok=True)
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "HOME": str(home),
        "TMPDIR": str(home),
        "XDG_STATE_HOME": str(home / "state"),
        "STRIPE_OAUTH_NB_TARGET": "sandbox",
        "STRIPE_API_BASE": sb.api_base,
        "STRIPE_SECRET_KEY_TEST": sb.test.secret_key,
        "STRIPE_SECRET_KEY_LIVE": sb.live.secret_key,
        "STRIPE_OAUTH_NB_TOKEN_STORE": dsn,
        "STRIPE_OAUTH_NB_STORE_KEY": key,
    }


@pytest.mark.slow
def test_workers_on_three_hosts_split_the_work_and_refresh_no_set_twice(
    sb: Sandbox, postgres: object, tmp_path: Path
) -> None:
    dsn = postgres.create_database()  # type: ignore[attr-defined]
    key = new_key()
    store = PostgresTokenStore(dsn, cipher=StoreCipher.from_setting(key), spool=tmp_path / "s")
    sets = _install(sb, store, 60)
    sb.inject_fault("token", "delay", times=60, seconds=0.05)  # each refresh takes a while
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "stripe_oauth_nb",
                "tokens",
                "refresh",
                "--all",
                "--workers",
                "4",
            ],
            cwd=tmp_path,
            env=_cli_env(sb, dsn, key, tmp_path / f"host{n}"),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(3)
    ]
    outputs = [proc.communicate(timeout=240) for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0, 0], outputs
    assert grants(sb)["refresh_token"] == 60  # one per set, whatever the crowd
    rolled = sum(out.count(": rolled,") for out, _ in outputs)
    assert rolled == 60
    for out, err in outputs:
        assert "60 set(s) in postgresql://" in out
        assert err == ""
        for tokens in sets:
            assert tokens.refresh_token.reveal() not in out
    assert all(store.load(*t.key) != t for t in sets)


def test_cli_list_and_refresh_all_report_per_account(
    sb: Sandbox, postgres: object, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    dsn = postgres.create_database()  # type: ignore[attr-defined]
    key = new_key()
    for name, value in _cli_env(sb, dsn, key, tmp_path / "home").items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    store = PostgresTokenStore(dsn, cipher=StoreCipher.from_setting(key), spool=tmp_path / "s")
    sets = _install(sb, store, 4)
    TokenManager(sb.settings(), store).client.refresh(sets[1])  # deauthorized
    assert main(["tokens", "list"]) == 0
    out = capsys.readouterr().out
    assert "4 token set(s) in postgresql://" in out
    assert "encrypted" in out
    assert all(t.account_id in out and t.access_token.reveal() not in out for t in sets)
    assert main(["tokens", "refresh", "--all"]) == 1  # one account needs attention
    out = capsys.readouterr().out
    assert f"{sets[1].account_id} test: deauthorized:" in out
    assert out.count(": rolled,") == 3
    assert "1 deauthorized, 3 refreshed" in out
    assert main(["tokens", "list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["tokens"]
    assert [r["state"].split(":")[0] for r in rows] == ["ok", "deauthorized", "ok", "ok"]


def test_refresh_all_with_a_memory_store_and_no_sets(sb: Sandbox) -> None:
    from stripe_oauth_nb.tokens import MemoryTokenStore

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert TokenManager(sb.settings(), MemoryTokenStore()).refresh_all() == []
