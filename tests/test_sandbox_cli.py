"""``stripe-oauth-nb sandbox``: one JSON line, serves, masks its logs, exits soon after a signal."""

from __future__ import annotations

import json
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from stripe_oauth_nb._http import httpx

COMMAND = [sys.executable, "-m", "stripe_oauth_nb", "sandbox"]
#: Generous for a loaded machine: how long the first line may take to appear.
FIRST_LINE_WITHIN = 60.0


def first_line(proc: subprocess.Popen[str], timeout: float = FIRST_LINE_WITHIN) -> str:
    """The process's first stdout line, or a failure (not a hang) when it does not come."""
    assert proc.stdout is not None
    line: list[str] = []
    reader = threading.Thread(target=lambda: line.append(proc.stdout.readline()), daemon=True)  # type: ignore[union-attr]
    reader.start()
    reader.join(timeout)
    if not line:
        proc.kill()
        pytest.fail(f"the sandbox printed nothing within {timeout:g} s")
    return line[0]


@pytest.fixture
def cli() -> Iterator[Any]:
    started: list[subprocess.Popen[str]] = []

    def run(*args: str) -> tuple[subprocess.Popen[str], dict[str, Any]]:
        proc = subprocess.Popen(
            [*COMMAND, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        started.append(proc)
        return proc, json.loads(first_line(proc))

    yield run
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=30)  # reads and closes both pipes


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_cli_prints_one_json_line_serves_and_exits_cleanly(cli: Any, sig: signal.Signals) -> None:
    proc, info = cli("--customers", "7")
    assert set(info) >= {"api_base", "marketplace_base", "redirect_uris", "test", "live"}
    assert info["api_base"].startswith("http://127.0.0.1:")
    assert info["redirect_uris"] == [
        "http://127.0.0.1:8765/callback",
        "http://localhost:8765/callback",
    ]
    for mode in ("test", "live"):
        assert info[mode]["secret_key"].startswith(f"sk_{mode}_")
        assert info[mode]["client_id"].startswith("ca_")
    base = info["api_base"]
    with httpx.Client(base_url=base, trust_env=False, timeout=30) as c:
        assert c.get("/_sandbox/info").json() == info
        params = {"client_id": info["test"]["client_id"], "state": "cli"}
        page = c.get("/oauth/v2/authorize", params=params)
        assert page.status_code == 200
        response = c.post(
            "/oauth/v2/authorize",
            data={**params, "redirect_uri": info["redirect_uris"][0], "decision": "accept"},
        )
        code = response.headers["location"].split("code=")[1].split("&")[0]
        tokens = c.post(
            "/v1/oauth/token",
            data={"grant_type": "authorization_code", "code": code},
            auth=(info["test"]["secret_key"], ""),
        ).json()
        # a token in a query string must not reach the access log
        customers = c.get(
            "/v1/customers",
            params={"limit": 100, "leak": tokens["access_token"]},
            auth=(tokens["access_token"], ""),
        )
        assert customers.status_code == 400  # unknown parameter, but the request was logged
        listed = c.get("/v1/customers", params={"limit": 100}, auth=(tokens["access_token"], ""))
        assert len(listed.json()["data"]) == 7
    proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert '"GET /v1/customers HTTP/1.1" 200' in stderr  # the access log is on
    for secret in (
        tokens["access_token"],
        tokens["refresh_token"],
        code,
        info["test"]["secret_key"],
        info["live"]["secret_key"],
    ):
        assert secret not in stderr
    assert "leak=" not in stderr


def test_cli_fixed_port(cli: Any) -> None:
    proc, first = cli()
    port = int(first["api_base"].rsplit(":", 1)[1])
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=30)
    assert proc.returncode == 0
    proc, info = cli("--port", str(port))
    assert info["api_base"] == f"http://127.0.0.1:{port}"
    with httpx.Client(trust_env=False, timeout=30) as probe:
        assert probe.get(f"{info['api_base']}/_sandbox/stats").status_code == 200
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=30)
    assert proc.returncode == 0


@pytest.mark.slow
def test_cli_options_reach_the_sandbox(cli: Any) -> None:
    proc, info = cli(
        "--customers", "3", "--start", "2026-01-01", "--no-rate-limit", "--latency-ms", "50"
    )
    with httpx.Client(base_url=info["api_base"], trust_env=False, timeout=30) as c:
        assert c.get("/_sandbox/clock").json()["now"] == 1_767_225_600  # frozen at the start
        key = info["test"]["secret_key"]
        started = time.perf_counter()
        statuses = {c.get("/v1/customers", auth=(key, "")).status_code for _ in range(40)}
        assert statuses == {200}  # 40 requests, no limit
        assert time.perf_counter() - started >= 40 * 0.05  # each answer waited 50 ms
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=30)


def test_cli_refuses_a_bad_start() -> None:
    result = subprocess.run(
        [*COMMAND, "--start", "soon"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "ISO date" in result.stderr


def test_cli_port_in_use_fails_with_a_message() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [*COMMAND, "--port", str(port)], capture_output=True, text=True, timeout=60
        )
    assert result.returncode == 1
    assert "cannot listen" in result.stderr
    assert result.stdout == ""


#: Exit codes after a signal: handled (0), or the signal's default action when it came before
#: the handler was installed: killed by SIGTERM or SIGINT (the command's start-up guard, or
#: before Python installed its own handler), or Python's KeyboardInterrupt for SIGINT (1 while
#: the interpreter still imports, before the guard; 130 from the command's own catch).
EXITS = {"SIGTERM": {0, -signal.SIGTERM}, "SIGINT": {0, 1, 130, -signal.SIGINT}}

#: What Python prints when its own SIGINT handler raised inside a weakref callback (the import
#: system runs them) and the interrupt was dropped: it can only happen before the command's
#: first line puts up the start-up guard (``stripe_oauth_nb/_startup.py``).
LOST_BY_PYTHON = "KeyboardInterrupt"


class Exit:
    """How one signalled command ended."""

    def __init__(self, delay: float, sig: signal.Signals) -> None:
        self.delay, self.sig = delay, sig.name
        self.code = 0
        self.took = float("inf")
        self.stderr = ""
        self.lost_by_python = False  # the first SIGINT was dropped by Python, before our code

    def __repr__(self) -> str:
        return (
            f"({self.delay:.3f} s, {self.sig}, exit {self.code}, {self.took:.2f} s, "
            f"lost by Python: {self.lost_by_python}, {self.stderr[-300:]!r})"
        )


def _signal_at_random(seed: int) -> Exit:
    """Start the command, signal it after a random delay, and see how it ends."""
    rng = random.Random(seed)
    sig = rng.choice([signal.SIGTERM, signal.SIGINT])
    result = Exit(rng.uniform(0.0, 2.5), sig)
    proc = subprocess.Popen(COMMAND, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(result.delay)
    sent = time.monotonic()
    proc.send_signal(sig)
    try:
        _, stderr = proc.communicate(timeout=5)
    except subprocess.TimeoutExpired as still_running:
        so_far = (still_running.stderr or b"").decode(errors="replace")
        result.lost_by_python = (
            sig is signal.SIGINT and "Exception ignored" in so_far and LOST_BY_PYTHON in so_far
        )
        # Python dropped the interrupt: a second one, as a person would press, must stop it.
        sent = time.monotonic()
        proc.send_signal(sig)
        try:
            _, stderr = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            return result
        if not result.lost_by_python:
            result.code = 999  # ignored a signal with no word from Python: our fault
            return result
    result.took = time.monotonic() - sent
    result.code = proc.returncode
    result.stderr = stderr.decode(errors="replace")
    if proc.returncode == 1 and "KeyboardInterrupt" not in result.stderr:
        result.code = -999  # exit 1 for another reason: wrong
    return result


@pytest.mark.slow
def test_200_signals_at_random_moments_each_exit_within_a_second() -> None:
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(_signal_at_random, range(200)))
    slow = [r for r in results if r.took >= 1.0]
    wrong = [r for r in results if r.code not in EXITS[r.sig]]
    assert not wrong, wrong[:5]
    assert not slow, (
        f"{len(slow)} of 200 exits took 1 s or more: {sorted(slow, key=lambda r: -r.took)[:5]}"
    )
    handled = sum(1 for r in results if r.code == 0)
    assert handled > 50  # most signals reached the running sandbox, not the interpreter's start
