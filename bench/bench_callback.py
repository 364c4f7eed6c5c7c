"""The browser's redirect to the callback server: quiet, and with idle or slow connections held.

Each run: a fresh callback server and install link; optionally a crowd of other connections
(idle: connected, silent; slow: a request that never ends, one byte every 0.2 s); then the GET
the browser sends after Accept, on a new connection. Two times per run, from just before the GET
is written: until the browser has the whole answer page, and until ``server.wait()`` returns the
code in the waiting code (which includes stopping the server). A run whose GET is reset or not
answered within 10 s counts as failed.

    python bench/bench_callback.py [--runs N] [--baseline GIT-REF]

``--baseline`` runs the same scenarios against the package as it is at GIT-REF (exported to a
temporary folder), side by side, e.g. ``--baseline 7ca827d`` for the http.server callback server.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

CODE = "ac_EXAMPLEBench0123456789abcdef"  # a made-up code
SCENARIOS = {"quiet": (0, 0), "50 idle held": (50, 0), "50 idle + 50 slow held": (50, 50)}


def _hold(port: int, count: int, first: bytes) -> list[socket.socket]:
    held = []
    for _ in range(count):
        with contextlib.suppress(OSError):
            conn = socket.create_connection(("127.0.0.1", port), timeout=5)
            if first:
                conn.sendall(first)
            held.append(conn)
    return held


def one_run(idle: int, slow: int) -> tuple[float, float] | None:
    """(seconds until the page, seconds until the code), or None when the redirect failed."""
    from stripe_oauth_nb._ports import free_loopback_port
    from stripe_oauth_nb.oauth._attempts import AttemptLog
    from stripe_oauth_nb.oauth._callback import CallbackServer
    from stripe_oauth_nb.oauth._install_link import build_install_link

    port = free_loopback_port()
    redirect_uri = f"http://127.0.0.1:{port}/callback"
    log = AttemptLog()
    server = CallbackServer(log, redirect_uri, deadline=30, connection_timeout=30).start()
    link = build_install_link(
        mode="test",
        log=log,
        client_id="ca_Bench123456789",
        redirect_uri=redirect_uri,
        allowed_redirect_uris=[redirect_uri],
    )
    request = (
        f"GET /callback?code={CODE}&state={link.state.reveal()} HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{port}\r\nUser-Agent: bench\r\nAccept: text/html\r\n\r\n"
    ).encode()
    crowd = _hold(port, idle, b"") + _hold(port, slow, b"GET /callback?code=")
    stop = threading.Event()

    def trickle() -> None:
        while not stop.wait(0.2):
            for conn in crowd[idle:]:
                with contextlib.suppress(OSError):
                    conn.sendall(b"a")

    dripper = threading.Thread(target=trickle, daemon=True)
    dripper.start()
    time.sleep(0.3)  # the crowd is accepted and waiting
    answered: list[float] = []
    started: list[float] = []

    def browser() -> None:
        try:
            conn = socket.create_connection(("127.0.0.1", port), timeout=10)
            started.append(time.perf_counter())
            conn.sendall(request)
            page = b""
            while chunk := conn.recv(65536):
                page += chunk
            conn.close()
            if page.startswith(b"HTTP/1.") and b" 200 " in page.split(b"\r\n", 1)[0]:
                answered.append(time.perf_counter())
        except OSError:
            pass

    thread = threading.Thread(target=browser)
    thread.start()
    try:
        code = server.wait(10)
        done = time.perf_counter()
        ok = code.code.reveal() == CODE
    except Exception:  # the old server resets the redirect past its connection cap
        ok = False
        done = 0.0
    thread.join(15)
    stop.set()
    dripper.join(5)
    server.stop()
    for conn in crowd:
        conn.close()
    if not ok or not answered or not started:
        return None
    return answered[0] - started[0], done - started[0]


def _figures(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)
    return {
        "median": statistics.median(ordered) * 1e3,
        "p95": ordered[max(0, round(0.95 * len(ordered)) - 1)] * 1e3,
        "max": ordered[-1] * 1e3,
    }


def worker(runs: int) -> dict[str, Any]:
    one_run(0, 0)  # warm-up: imports, first thread
    results: dict[str, Any] = {}
    for name, (idle, slow) in SCENARIOS.items():
        count = runs if idle + slow == 0 else max(5, runs // 5)
        outcomes = [one_run(idle, slow) for _ in range(count)]
        good = [o for o in outcomes if o is not None]
        results[name] = {
            "runs": count,
            "failed": count - len(good),
            "page": _figures([o[0] for o in good]) if good else None,
            "code": _figures([o[1] for o in good]) if good else None,
        }
    return results


def _run_worker(runs: int, pythonpath: str | None) -> dict[str, Any]:
    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath + os.pathsep + env.get("PYTHONPATH", "")
    result = subprocess.run(
        [sys.executable, __file__, "--worker", "--runs", str(runs)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=3600,
    )
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def _export(ref: str, into: Path) -> str:
    root = subprocess.run(
        ["git", "rev-parse", "--show-toplevel"], capture_output=True, text=True, check=True
    ).stdout.strip()
    archive = subprocess.run(
        ["git", "-C", root, "archive", ref, "stripe_oauth_nb"], capture_output=True, check=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return str(into)


def _cell(entry: dict[str, Any], key: str) -> str:
    if entry[key] is None:
        return f"failed {entry['failed']}/{entry['runs']}"
    median, p95, most = (entry[key][name] for name in ("median", "p95", "max"))
    failed = f", {entry['failed']} failed" if entry["failed"] else ""
    return f"{median:7.2f} ms (p95 {p95:7.2f}, max {most:7.2f}{failed})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--baseline", metavar="GIT-REF")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.runs)))
        return
    columns = {"current": _run_worker(args.runs, None)}
    if args.baseline:
        with tempfile.TemporaryDirectory(prefix="bench-baseline-") as folder:
            columns[f"baseline {args.baseline}"] = _run_worker(
                args.runs, _export(args.baseline, Path(folder))
            )
    for key, what in (
        ("page", "redirect -> page in the browser"),
        ("code", "redirect -> code in waiting code"),
    ):
        print(f"\n{what}: median (p95, max)")
        print(f"{'scenario':26}" + "".join(f"{name:>52}" for name in columns))
        for scenario in SCENARIOS:
            cells = "".join(f"{_cell(column[scenario], key):>52}" for column in columns.values())
            print(f"{scenario:26}{cells}")


if __name__ == "__main__":
    main()
