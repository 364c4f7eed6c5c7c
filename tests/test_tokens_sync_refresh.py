"""``tokens refresh --all`` and a sync share the accounts' refresh locks and the token endpoint's
limiter: a refresh and a sync of the same account never rotate one refresh token twice.

The sync refreshes a set through :meth:`TokenManager.refresh` (the store's lock per account and
mode, the set read again under it); ``refresh --all`` takes the same lock. Two processes race
over the same expired sets here; in one process, every manager waits on one limiter.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from _sync_helpers import cli_env, install_many, sandbox_counts, sync_app, table_counts
from _tokens_helpers import aged, grants, token_works

from stripe_oauth_nb._ratelimit import ModeLimiter, token_endpoint_limiter
from stripe_oauth_nb.sandbox import Sandbox
from stripe_oauth_nb.tokens import FileTokenStore, TokenManager

ROOT = Path(__file__).resolve().parents[1]
ACCOUNTS = 6


@pytest.mark.slow
def test_a_sync_and_refresh_all_in_two_processes_rotate_each_set_once(
    sb: Sandbox, tmp_path: Path
) -> None:
    app = sync_app(sb)
    path = tmp_path / "tokens.json"
    store = FileTokenStore(path)
    with TokenManager(sb.settings("test", app), store, clock=sb.now) as manager:
        sets = install_many(sb, manager, app, ACCOUNTS)
    for tokens in sets:  # every access token expired: both processes want to refresh each set
        store.save(aged(tokens))
    # each refresh takes 1.5 s, one at a time: the sync starts while refresh --all is under way
    sb.inject_fault("token", "delay", times=2 * ACCOUNTS, seconds=1.5)
    env = {**os.environ, "PYTHONPATH": str(ROOT), **cli_env(sb, app, path)}
    db = tmp_path / "stripe.duckdb"
    commands = [
        ["tokens", "refresh", "--all", "--workers", "1"],
        ["sync", "--all-accounts", "--db", str(db), "--json"],
    ]
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "stripe_oauth_nb", *command],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for command in commands
    ]
    (refreshed, refresh_err), (synced, sync_err) = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], (refresh_err, sync_err)
    # one rotation per set, whichever process did it: a second use of a rotated refresh token
    # would have been refused by the sandbox (and the set marked deauthorized)
    assert grants(sb)["refresh_token"] == ACCOUNTS
    # both did some: refresh --all found sets the sync had rotated meanwhile (or was rotating)
    assert 0 < refreshed.count(": rolled,") < ACCOUNTS, refreshed
    report = json.loads(synced)
    assert report["ok"], report
    with TokenManager(sb.settings("test", app), FileTokenStore(path), clock=sb.now) as after:
        for tokens in sets:
            now = after.get(tokens.account_id, False)
            assert after.state(now) == "ok"
            assert now.refresh_token != tokens.refresh_token
            assert token_works(sb, now.access_token)
            assert table_counts(db, tokens.account_id) == sandbox_counts(sb, tokens.account_id)


def test_every_manager_of_a_process_waits_on_one_token_endpoint_limiter(sb: Sandbox) -> None:
    first = TokenManager(sb.settings("test"), clock=sb.now)
    second = TokenManager(sb.settings("live"), clock=sb.now)
    with first, second:
        assert first.limiter is second.limiter is token_endpoint_limiter()


def test_a_refresh_waits_its_turn_on_the_managers_limiter(sb: Sandbox, tmp_path: Path) -> None:
    app = sync_app(sb)
    waits: list[float] = []
    now = [0.0]
    limiter = ModeLimiter({"test": 2.0}, clock=lambda: now[0], sleep=waits.append)
    store = FileTokenStore(tmp_path / "tokens.json")
    with TokenManager(sb.settings("test", app), store, clock=sb.now, limiter=limiter) as manager:
        sets = install_many(sb, manager, app, 3)
        for tokens in sets:
            manager.refresh(tokens.account_id, False, force=True)
        # three refreshes at one instant, two a second: the second and third wait their turn
        assert waits == [0.5, 1.0]
        assert grants(sb)["refresh_token"] == 3
        # a refresh that finds the set fresh sends nothing and takes no turn
        manager.refresh(sets[0].account_id, False)
        assert len(waits) == 2
