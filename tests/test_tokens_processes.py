"""Real processes against the sandbox: single-flight across processes, SIGKILL at every point.

Kill points are a test hook: ``STRIPE_OAUTH_NB_TEST_KILL_AT=<point>`` makes the child SIGKILL
itself there (``stripe_oauth_nb.tokens._checkpoint``); ``mid-write`` is added by the child
script (kill between the complete temp file and ``os.replace``).
"""

from __future__ import annotations

import json
import signal
import stat
import time
from pathlib import Path

import pytest
from _tokens_helpers import aged, fp, grants, new_code, run_child, token_works

from stripe_oauth_nb._errors import RefreshResponseLostError
from stripe_oauth_nb._settings import Settings
from stripe_oauth_nb._tokenset import TokenSet
from stripe_oauth_nb.oauth._attempts import AttemptLog
from stripe_oauth_nb.sandbox import Sandbox
from stripe_oauth_nb.tokens import FileTokenStore, TokenManager
from stripe_oauth_nb.tokens._checkpoint import KILL_AT_ENV

PROCESSES = 2
THREADS = 4


def _stored(sb: Sandbox, tmp_settings: Settings, tmp_path: Path) -> tuple[TokenManager, TokenSet]:
    log = AttemptLog(tmp_path / "attempts.json")
    manager = TokenManager(tmp_settings, attempts=log, clock=sb.now)
    tokens = manager.exchange(new_code(sb, log))
    return manager, tokens


@pytest.mark.slow
def test_two_processes_four_threads_one_refresh(
    sb: Sandbox, tmp_settings: Settings, tmp_path: Path
) -> None:
    manager, tokens = _stored(sb, tmp_settings, tmp_path)
    manager.store.save(aged(tokens))  # every process finds the access token expired
    go = tmp_path / "go"
    children = []
    for n in range(PROCESSES):
        ready = tmp_path / f"ready{n}"
        job = {
            "job": "race",
            "threads": THREADS,
            "store": str(tmp_settings.token_store_path),
            "go": str(go),
            "ready": str(ready),
        }
        children.append((run_child(sb, job), ready))
    deadline = time.monotonic() + 30
    while not all(ready.exists() for _, ready in children):
        assert time.monotonic() < deadline, "children did not start"
        assert all(proc.poll() is None for proc, _ in children), "a child died early"
        time.sleep(0.01)
    go.touch()
    rows = []
    for proc, _ in children:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        rows += [json.loads(line) for line in out.splitlines()]
    assert len(rows) == PROCESSES * THREADS
    assert all("error" not in row for row in rows), rows
    assert len({row["pid"] for row in rows}) == PROCESSES
    new = manager.get()
    assert {(row["access"], row["refresh"]) for row in rows} == {
        (fp(new.access_token), fp(new.refresh_token))
    }
    assert new.refresh_token != tokens.refresh_token
    assert grants(sb)["refresh_token"] == 1
    assert token_works(sb, new.access_token)


#: point -> (did Stripe rotate the pair?, the next refresh's outcome)
KILL_POINTS = [
    ("before-post", False, "works"),  # nothing was sent: the old pair still works
    ("after-response", True, "lost"),  # rotated at Stripe, answer died with the process
    ("after-received", True, "recovered"),  # the answer was kept before the store was written
    ("mid-write", True, "recovered"),  # store's temp file complete, not yet in place
    ("after-replace", True, "works"),  # stored; only the record clean-up was missed
]


@pytest.mark.parametrize(
    ("point", "rotated", "outcome"), KILL_POINTS, ids=[k[0] for k in KILL_POINTS]
)
def test_sigkill_at_each_point_of_a_refresh(
    sb: Sandbox,
    tmp_settings: Settings,
    tmp_path: Path,
    point: str,
    rotated: bool,
    outcome: str,
) -> None:
    _, old = _stored(sb, tmp_settings, tmp_path)
    job = {"job": "refresh", "store": str(tmp_settings.token_store_path)}
    proc = run_child(sb, job, env={KILL_AT_ENV: point})
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL, (out, err)
    assert out == ""

    # the store parses, is still private, and holds one whole pair
    path = tmp_settings.token_store_path
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    fresh = TokenManager(tmp_settings, FileTokenStore(path), clock=sb.now)
    stored = fresh.get()
    sent = grants(sb)["refresh_token"]
    assert sent == int(rotated)
    if point == "after-replace":
        assert stored.refresh_token != old.refresh_token
        assert token_works(sb, stored.access_token)  # the new pair, whole
    else:
        assert stored == old  # the old pair, whole
    assert fresh.inflight(*old.key) is not None  # the record outlived the process
    assert (fresh.summary()[0]["state"] == "ok") is (point == "after-replace")

    if outcome == "works":
        new = fresh.refresh(force=True)
        assert new.refresh_token not in (old.refresh_token, stored.refresh_token)
        assert token_works(sb, new.access_token)
        assert fresh.inflight(*old.key) is None
    elif outcome == "recovered":
        # the pair Stripe sent reached this machine: it is stored now, without a request
        recovered = fresh.refresh()
        assert recovered.refresh_token != old.refresh_token
        assert token_works(sb, recovered.access_token)
        assert grants(sb)["refresh_token"] == sent
        assert fresh.get() == recovered
        assert fresh.inflight(*old.key) is None
        assert fresh.summary()[0]["state"] == "ok"
        assert fresh.refresh(force=True).refresh_token != recovered.refresh_token  # and it works
    else:
        with pytest.raises(RefreshResponseLostError, match="Token rotated, response lost"):
            fresh.refresh(force=True)
        with pytest.raises(RefreshResponseLostError, match=r"(?i)authorize the app again"):
            fresh.refresh(force=True)
        assert grants(sb)["refresh_token"] == sent + 1  # one confirmation, then none
        assert fresh.get() == old
    leftovers = [p.name for p in path.parent.iterdir() if p.name.endswith(".tmp")]
    assert len(leftovers) <= 2  # the dead writer's reserved temp files, removed by a save
    fresh.store.save(fresh.get())
    assert [p.name for p in path.parent.iterdir() if p.name.endswith(".tmp")] == []
