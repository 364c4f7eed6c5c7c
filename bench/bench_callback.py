"""Time from the browser's redirect (the GET to the callback URL) to the code in waiting code.

Each run: a fresh callback server and install link; a client thread sends the GET the browser
would send after Accept; the clock starts just before the GET is written and stops when
``server.wait()`` returns the code in the main thread (which includes stopping the server).

    python bench/bench_callback.py [runs]
"""

from __future__ import annotations

import socket
import statistics
import sys
import threading
import time

from stripe_oauth_nb._attempts import AttemptLog
from stripe_oauth_nb._callback import CallbackServer
from stripe_oauth_nb._install_link import build_install_link

CODE = "ac_EXAMPLEBench0123456789abcdef"  # a made-up code


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def one_run() -> float:
    port = _free_port()
    redirect_uri = f"http://127.0.0.1:{port}/callback"
    log = AttemptLog()
    server = CallbackServer(log, redirect_uri, deadline=30).start()
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
    conn = socket.create_connection(("127.0.0.1", port))  # the browser's connection
    started: list[float] = []

    def browser() -> None:
        started.append(time.perf_counter())
        conn.sendall(request)
        while conn.recv(65536):
            pass
        conn.close()

    thread = threading.Thread(target=browser)
    thread.start()
    code = server.wait(10)
    elapsed = time.perf_counter() - started[0]
    thread.join()
    assert code.code.reveal() == CODE
    return elapsed


def main(runs: int = 100) -> None:
    one_run()  # warm-up (imports, first thread)
    times = sorted(one_run() for _ in range(runs))
    p95 = times[max(0, round(0.95 * runs) - 1)]
    median = statistics.median(times)
    print(
        f"redirect -> code in waiting code, {runs} runs: median {median * 1e3:.2f} ms, "
        f"p95 {p95 * 1e3:.2f} ms, min {times[0] * 1e3:.2f} ms, max {times[-1] * 1e3:.2f} ms"
    )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100)
