"""How fast the sandbox starts, makes its data, serves list pages, and how much memory it takes.

Run: ``python bench/bench_sandbox.py [--requests 1000] [--clients 4] [--customers 10000]
[--memory-customers 100000]``. Prints, side by side:

- start-up with ``--customers`` customers: ``Sandbox(...).start()`` (the server answers), and
  the first ``GET /v1/customers`` (it waits for the data, which is made on first use: here by
  the background thread ``start()`` launches), plus the CPU seconds the data took;
- the sandbox's own CPU time per list page (its ASGI app called directly, no HTTP client);
- list throughput with rate limits off, ``limit=100``, one keep-alive client then several
  (each client in its own process), for customers, charges (bigger objects, also with
  ``expand[]=data.customer``), invoices (with their lines) and events (snapshots of objects);
- memory (RSS growth) of one account's data with ``--memory-customers`` customers, and how long
  making it took, measured in a child process so the other figures do not pollute it.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import multiprocessing
import resource
import statistics
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from stripe_oauth_nb._http import httpx
from stripe_oauth_nb.sandbox import Sandbox

READ_ALL = [
    "customer_read",
    "charge_read",
    "event_read",
    "balance_read",
    "invoice_read",
    "subscription_read",
    "payment_intent_read",
]


def run_client(base: str, token: str, path: str, params: dict[str, str], count: int) -> list[float]:
    """(In a client process) ``count`` pages of ``path``, walking on; their latencies."""
    latencies: list[float] = []
    with httpx.Client(base_url=base, trust_env=False, timeout=120) as client:
        cursor: str | None = None
        for _ in range(count):
            query: dict[str, str | int] = {"limit": 100, **params}
            if cursor:
                query["starting_after"] = cursor
            started = time.perf_counter()
            response = client.get(path, params=query, auth=(token, ""))
            latencies.append(time.perf_counter() - started)
            if response.status_code != 200:
                raise SystemExit(f"unexpected answer: {response.status_code} {response.text[:200]}")
            body = response.json()
            cursor = body["data"][-1]["id"] if body["has_more"] else None
    return latencies


def measure(
    pool: ProcessPoolExecutor,
    base: str,
    token: str,
    path: str,
    params: dict[str, str],
    total: int,
    clients: int,
) -> tuple[float, list[float]]:
    """Requests per second with ``clients`` keep-alive clients, each in its own process (so
    the figure is the server's, not the clients' JSON parsing sharing its interpreter)."""
    per_client = total // clients
    started = time.perf_counter()
    futures = [
        pool.submit(run_client, base, token, path, params, per_client) for _ in range(clients)
    ]
    latencies = [t for future in futures for t in future.result()]
    return per_client * clients / (time.perf_counter() - started), latencies


def server_cpu_per_page(sb: Sandbox, token: str, path: str, query: str, pages: int) -> float:
    """CPU milliseconds the sandbox spends on one list page, its ASGI app called directly
    (no HTTP client in the way): authentication, limits, parsing, rendering, the response."""
    app = sb._server._app  # the served ASGI app
    auth = b"Basic " + base64.b64encode(f"{token}:".encode())

    async def one() -> None:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": query.encode(),
            "headers": [(b"authorization", auth), (b"host", b"127.0.0.1")],
            "server": ("127.0.0.1", 80),
            "client": ("127.0.0.1", 1),
            "root_path": "",
        }
        sent: list[Any] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: Any) -> None:
            sent.append(message)

        await app(scope, receive, send)
        if sent[0]["status"] != 200:
            raise SystemExit(f"unexpected answer {sent[0]['status']} for {path}?{query}")

    async def run() -> None:
        for _ in range(pages):
            await one()

    asyncio.run(run())  # warm-up
    started = time.process_time()
    asyncio.run(run())
    return (time.process_time() - started) / pages * 1000


def memory_child(customers: int) -> None:
    """(In a child process) make one account's data; print its RSS growth and time as JSON."""
    sb = Sandbox(customers=customers, start=1_767_225_600)
    before = _resident_mb()
    cpu, wall = time.process_time(), time.perf_counter()
    counts = sb.counts()
    made = {"cpu": time.process_time() - cpu, "wall": time.perf_counter() - wall}
    grown = _resident_mb() - before
    print(json.dumps({"rss_mb": grown, "objects": sum(counts.values()), **made}))


def _resident_mb() -> float:
    """The process's resident memory now (Linux), else its peak so far."""
    try:
        pages = int(open("/proc/self/statm").read().split()[1])  # noqa: SIM115
        return pages * resource.getpagesize() / 2**20
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--memory-customers", type=int, default=100_000)
    parser.add_argument("--memory-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        memory_child(args.memory_child)
        return

    started = time.perf_counter()
    with Sandbox(customers=args.customers, rate_limit=False) as sb:
        up = time.perf_counter() - started
        app = sb.register_app(
            {
                "id": "bench.reads",
                "name": "Bench",
                "permissions": [{"permission": p, "purpose": "bench"} for p in READ_ALL],
                "allowed_redirect_uris": ["http://127.0.0.1:8765/callback"],
            }
        )
        token = sb.mint_tokens(app=app)["access_token"]
        httpx.get(f"{sb.api_base}/v1/customers", auth=(token, ""), trust_env=False, timeout=300)
        first = time.perf_counter() - started
        counts = sb.counts()
        print(
            f"{args.customers} customers ({sum(counts.values()):,} objects in all): "
            f"serving after {up:.3f} s; first page after {first:.3f} s "
            "(the data is made on first use, by a background thread from start())"
        )
        print(f"{'sandbox CPU per page of 100 (no HTTP)':<44} {'ms':>7}")
        for label, path, query in (
            ("GET /v1/customers", "/v1/customers", "limit=100"),
            ("GET /v1/charges", "/v1/charges", "limit=100"),
            (
                "GET /v1/charges expand data.customer",
                "/v1/charges",
                "limit=100&expand[]=data.customer",
            ),
            ("GET /v1/invoices", "/v1/invoices", "limit=100"),
            ("GET /v1/events", "/v1/events", "limit=100"),
        ):
            print(f"{label:<44} {server_cpu_per_page(sb, token, path, query, 50):>7.2f}")
        print(
            f"{'list over HTTP (limit=100, limits off)':<44} {'clients':>7} {'req/s':>7} "
            f"{'objects/s':>10} {'median ms':>9} {'p99 ms':>7}"
        )
        pool = ProcessPoolExecutor(args.clients, mp_context=multiprocessing.get_context("spawn"))
        for label, path, params in (
            ("GET /v1/customers", "/v1/customers", {}),
            ("GET /v1/charges", "/v1/charges", {}),
            ("GET /v1/charges expand data.customer", "/v1/charges", {"expand[]": "data.customer"}),
            ("GET /v1/invoices", "/v1/invoices", {}),
            ("GET /v1/events", "/v1/events", {}),
        ):
            measure(pool, sb.api_base, token, path, params, 40, 1)  # warm-up
            for clients in (1, args.clients):
                rps, latencies = measure(
                    pool, sb.api_base, token, path, params, args.requests, clients
                )
                median = statistics.median(latencies) * 1000
                p99 = statistics.quantiles(latencies, n=100)[98] * 1000
                print(
                    f"{label:<44} {clients:>7} {rps:>7.0f} {rps * 100:>10,.0f} "
                    f"{median:>9.2f} {p99:>7.2f}"
                )
        pool.shutdown()
        stopping = time.perf_counter()
    print(f"stopped in {time.perf_counter() - stopping:.3f} s")
    child = subprocess.run(
        [sys.executable, __file__, "--memory-child", str(args.memory_customers)],
        capture_output=True,
        text=True,
        check=True,
    )
    memory = json.loads(child.stdout)
    print(
        f"{args.memory_customers:,} customers: {memory['objects']:,} objects, "
        f"{memory['rss_mb']:.0f} MB resident, made in {memory['wall']:.1f} s "
        f"({memory['cpu']:.1f} s CPU)"
    )


if __name__ == "__main__":
    main()
