from __future__ import annotations

import json
import secrets
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from stripe_oauth_nb._errors import CallbackStateError, CodeAlreadySentError, CodeAlreadyUsedError
from stripe_oauth_nb._masking import Secret
from stripe_oauth_nb.oauth._attempts import ATTEMPT_TTL, Attempt, AttemptLog, AuthorizationCode


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def _attempt(clock: Clock, mode: str = "test") -> Attempt:
    return Attempt(
        state=Secret(f"{mode}." + secrets.token_urlsafe(32)),
        mode="live" if mode == "live" else "test",
        client_id="ca_demo",
        redirect_uri="http://127.0.0.1:8765/callback",
        created_at=clock(),
    )


@pytest.fixture(params=["memory", "file"])
def log(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[AttemptLog, Clock]:
    clock = Clock()
    path = tmp_path / "attempts.json" if request.param == "file" else None
    return AttemptLog(path, clock=clock), clock


def test_find_returns_the_recorded_attempt(log: tuple[AttemptLog, Clock]) -> None:
    attempts, clock = log
    attempt = attempts.record(_attempt(clock, "live"))
    found = attempts.find(attempt.state.reveal())
    assert found.mode == "live"
    assert found.state == attempt.state


@pytest.mark.parametrize("state", [None, "", "test.unknown-state"])
def test_unknown_or_missing_state_is_refused(
    log: tuple[AttemptLog, Clock], state: str | None
) -> None:
    attempts, clock = log
    attempts.record(_attempt(clock))
    with pytest.raises(CallbackStateError, match="install link"):
        attempts.find(state)


def test_completed_attempt_cannot_be_used_twice(log: tuple[AttemptLog, Clock]) -> None:
    attempts, clock = log
    state = attempts.record(_attempt(clock)).state.reveal()
    attempts.complete(state)
    with pytest.raises(CallbackStateError, match="already used"):
        attempts.find(state)


def test_expired_attempt_is_refused(log: tuple[AttemptLog, Clock]) -> None:
    attempts, clock = log
    state = attempts.record(_attempt(clock)).state.reveal()
    clock.now += ATTEMPT_TTL + 1
    with pytest.raises(CallbackStateError, match="too old"):
        attempts.find(state)


def test_code_is_marked_sent_once(log: tuple[AttemptLog, Clock]) -> None:
    attempts, clock = log
    state = attempts.record(_attempt(clock)).state.reveal()
    sent = attempts.mark_code_sent(state)
    assert sent.code_sent_at == clock.now
    with pytest.raises(CodeAlreadyUsedError, match="install link again"):
        attempts.mark_code_sent(state)


def test_a_code_sent_by_one_attempt_is_refused_for_any_other(
    log: tuple[AttemptLog, Clock],
) -> None:
    """An old code spliced into a fresh, valid redirect is refused before any request."""
    attempts, clock = log
    first = attempts.record(_attempt(clock)).state.reveal()
    second = attempts.record(_attempt(clock)).state.reveal()
    code = Secret("ac_" + secrets.token_urlsafe(24))
    sent = attempts.mark_code_sent(first, code)
    assert sent.code_sha256 is not None
    assert code.reveal() not in repr(attempts.all())  # only the fingerprint is kept
    with pytest.raises(CodeAlreadySentError, match="already sent to Stripe once"):
        attempts.mark_code_sent(second, code)
    other = attempts.mark_code_sent(second, Secret("ac_" + secrets.token_urlsafe(24)))
    assert other.code_sent_at == clock.now  # a different code goes through


def test_sent_mark_survives_a_new_log_on_the_same_file(tmp_path: Path) -> None:
    clock = Clock()
    path = tmp_path / "attempts.json"
    state = AttemptLog(path, clock=clock).record(_attempt(clock)).state.reveal()
    AttemptLog(path, clock=clock).mark_code_sent(state)
    with pytest.raises(CodeAlreadyUsedError):
        AttemptLog(path, clock=clock).mark_code_sent(state)


def test_reprs_mask_state_and_code() -> None:
    clock = Clock()
    attempt = _attempt(clock)
    code = AuthorizationCode(Secret("ac_" + "z" * 30 + "9876"), attempt, received_at=clock())
    for shown in (repr(attempt), repr(code)):
        assert attempt.state.reveal() not in shown
        assert "z" * 30 not in shown
    assert code.expires_at == clock() + 300


# A child process for the race below: ``threads`` threads, each with its own AttemptLog on the
# same file, wait for the parent's ``go`` file, then all call ``complete(state)`` at once. One
# JSON line per thread: "ok", or the CallbackStateError message.
_RACE_CHILD = """
import json, sys, threading, time
from pathlib import Path
from stripe_oauth_nb.oauth._attempts import AttemptLog
from stripe_oauth_nb._errors import CallbackStateError

path, state, threads, go, ready = sys.argv[1:6]
logs = [AttemptLog(Path(path)) for _ in range(int(threads))]
results = []
barrier = threading.Barrier(len(logs))

def one(log):
    barrier.wait()
    while not Path(go).exists():
        time.sleep(0.001)
    try:
        log.complete(state)
    except CallbackStateError as exc:
        results.append(str(exc))
    else:
        results.append("ok")

workers = [threading.Thread(target=one, args=(log,)) for log in logs]
for worker in workers:
    worker.start()
Path(ready).touch()
for worker in workers:
    worker.join()
for result in results:
    print(json.dumps(result))
"""

RACE_PROCESSES = 2
RACE_THREADS = 6


@pytest.mark.parametrize("round_", range(3))
def test_complete_is_atomic_across_processes_and_threads(tmp_path: Path, round_: int) -> None:
    path = tmp_path / "attempts.json"
    attempt = _attempt(Clock())
    state = AttemptLog(path).record(replace(attempt, created_at=time.time())).state.reveal()
    go = tmp_path / "go"
    children = []
    for n in range(RACE_PROCESSES):
        ready = tmp_path / f"ready{n}"
        args = [path, state, RACE_THREADS, go, ready]
        proc = subprocess.Popen(
            [sys.executable, "-c", _RACE_CHILD, *map(str, args)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        children.append((proc, ready))
    deadline = time.monotonic() + 30
    while not all(ready.exists() for _, ready in children):
        assert time.monotonic() < deadline, "children did not start"
        assert all(proc.poll() is None for proc, _ in children), "a child died early"
        time.sleep(0.01)
    go.touch()
    results: list[str] = []
    for proc, _ in children:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        results += [json.loads(line) for line in out.splitlines()]
    assert len(results) == RACE_PROCESSES * RACE_THREADS
    assert results.count("ok") == 1, results
    refused = [r for r in results if r != "ok"]
    assert all("already used once" in message for message in refused), refused
    assert AttemptLog(path).all()[0].completed_at is not None


# -- errors stay in the error tree ----------------------------------------------------------
def test_a_busy_attempt_log_lock_is_an_attempt_log_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from filelock import FileLock

    from stripe_oauth_nb._errors import AttemptLogError
    from stripe_oauth_nb.oauth import _attempts

    path = tmp_path / "attempts.json"
    monkeypatch.setattr(_attempts, "_LOCK_TIMEOUT", 0.2)
    holder = FileLock(str(path) + ".lock")
    holder.acquire()
    try:
        with pytest.raises(AttemptLogError, match=r"locked for .* Try again"):
            AttemptLog(path).record(_attempt(Clock()))
    finally:
        holder.release()


def test_an_unwritable_attempt_log_is_an_attempt_log_error_and_records_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from _tokens_helpers import disk_full

    from stripe_oauth_nb._errors import AttemptLogError

    path = tmp_path / "attempts.json"
    clock = Clock()
    log = AttemptLog(path, clock=clock)
    kept = log.record(_attempt(clock))
    before = path.read_bytes()
    with disk_full(monkeypatch, path), pytest.raises(AttemptLogError, match="nothing was recorded"):
        log.record(_attempt(clock))
    assert path.read_bytes() == before
    assert [a.state for a in log.all()] == [kept.state]


def test_a_damaged_attempt_log_is_refused_like_a_damaged_token_store(tmp_path: Path) -> None:
    from stripe_oauth_nb._errors import AttemptLogError

    path = tmp_path / "attempts.json"
    path.write_text('{"attempts": {"x": {"state": 1}}}')
    log = AttemptLog(path)
    for action in (log.all, lambda: log.find("x"), lambda: log.record(_attempt(Clock()))):
        with pytest.raises(AttemptLogError, match=r"damaged.*Move it aside"):
            action()
    assert path.read_text() == '{"attempts": {"x": {"state": 1}}}'  # never emptied
