"""``stripe-oauth-nb tokens status|refresh`` against the sandbox, in-process and from cron-like
concurrent processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from _tokens_helpers import ROOT, aged, grants, new_code

from stripe_oauth_nb._cli import main
from stripe_oauth_nb._settings import Settings
from stripe_oauth_nb._tokenset import TokenSet
from stripe_oauth_nb.oauth._attempts import AttemptLog
from stripe_oauth_nb.sandbox import Sandbox
from stripe_oauth_nb.tokens import TokenManager


def _env(sb: Sandbox, store: Path) -> dict[str, str]:
    return {
        "STRIPE_OAUTH_NB_TARGET": "sandbox",
        "STRIPE_API_BASE": sb.api_base,
        "STRIPE_SECRET_KEY_TEST": sb.test.secret_key,
        "STRIPE_SECRET_KEY_LIVE": sb.live.secret_key,
        "STRIPE_CLIENT_ID_TEST": sb.test.client_id,
        "STRIPE_OAUTH_NB_TOKEN_STORE": str(store),
    }


@pytest.fixture
def stored(
    sb: Sandbox, tmp_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[TokenManager, TokenSet, TokenSet]:
    for name, value in _env(sb, tmp_settings.token_store_path).items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    log = AttemptLog(tmp_path / "attempts.json")
    manager = TokenManager(tmp_settings, attempts=log)
    test = manager.exchange(new_code(sb, log, "test"))
    live = manager.exchange(new_code(sb, log, "live"))
    return manager, test, live


def test_status_json_lists_accounts_modes_expiries_masked(
    stored: tuple[TokenManager, TokenSet, TokenSet], capsys: pytest.CaptureFixture[str]
) -> None:
    _, test, live = stored
    assert main(["tokens", "status", "--json"]) == 0
    out = capsys.readouterr().out
    rows = json.loads(out)["tokens"]
    assert [(r["account_id"], r["mode"]) for r in rows] == [
        (test.account_id, "test"),
        (live.account_id, "live"),
    ]
    assert rows[0]["access_token"] == test.access_token.masked
    assert 3500 < rows[0]["access_expires_in"] <= 3600
    assert rows[1]["refresh_expires_in"] > 364 * 86400
    for tokens in (test, live):
        assert tokens.access_token.reveal() not in out
        assert tokens.refresh_token.reveal() not in out


def test_status_text_and_empty_store(
    stored: tuple[TokenManager, TokenSet, TokenSet],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, test, _ = stored
    assert main(["tokens", "status"]) == 0
    out = capsys.readouterr().out
    assert test.access_token.masked in out
    assert "live" in out
    assert test.refresh_token.reveal() not in out
    assert main(["tokens", "--store", str(tmp_path / "none" / "t.json"), "status"]) == 0
    assert "No tokens stored" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "refreshed"),
    [
        ([], set()),  # nothing due
        (["--force"], {"test", "live"}),
        (["--force", "--mode", "live"], {"live"}),
        (["--margin", "4000"], {"test", "live"}),  # due within 4000 s
    ],
)
def test_refresh_only_when_due_unless_forced(
    sb: Sandbox,
    stored: tuple[TokenManager, TokenSet, TokenSet],
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    refreshed: set[str],
) -> None:
    manager, test, live = stored
    assert main(["tokens", "refresh", *argv]) == 0
    out = capsys.readouterr().out
    assert grants(sb)["refresh_token"] == len(refreshed)
    lines = dict(line.split(": ", 1) for line in out.splitlines())
    for old in (test, live):
        rolled = manager.store.load(*old.key) != old
        assert rolled is (old.mode in refreshed)
        assert lines.get(f"{old.account_id} {old.mode}", "").startswith("rolled") is rolled


def test_refresh_unknown_account_fails(
    stored: tuple[TokenManager, TokenSet, TokenSet], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["tokens", "refresh", "--account", "acct_nobody"]) == 1
    assert "No tokens stored for acct_nobody" in capsys.readouterr().out


def test_refresh_error_is_reported_with_exit_code_1(
    sb: Sandbox,
    stored: tuple[TokenManager, TokenSet, TokenSet],
    capsys: pytest.CaptureFixture[str],
) -> None:
    manager, test, _ = stored
    manager.client.refresh(test)  # rotated elsewhere: the stored refresh token is dead
    assert main(["tokens", "refresh", "--force", "--mode", "test"]) == 1
    assert "authorize the app again" in capsys.readouterr().out


def test_cron_on_many_processes_refreshes_once(
    sb: Sandbox, stored: tuple[TokenManager, TokenSet, TokenSet], tmp_path: Path
) -> None:
    manager, test, live = stored
    manager.store.save(aged(test))
    manager.store.save(aged(live))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "stripe_oauth_nb", "tokens", "refresh"],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    outputs = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], outputs
    assert grants(sb)["refresh_token"] == 2  # one per (account, mode), whatever the crowd
    assert manager.store.load(*test.key) != aged(test)
    assert all(err == "" for _, err in outputs)
