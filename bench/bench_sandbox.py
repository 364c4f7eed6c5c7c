"""Requests per second the sandbox serves for ``GET /v1/customers?limit=100``.

Run: ``python bench/bench_sandbox.py [--requests 2000] [--clients 4]``. Starts a sandbox with
10,000 customers, mints an access token, and times keep-alive requests from one client, then
from several clients in parallel threads (each with its own connection).
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time

from stripe_oauth_nb._http import httpx
from stripe_oauth_nb.sandbox import Sandbox


def run_client(base: str, token: str, count: int, latencies: list[float]) -> None:
    with httpx.Client(base_url=base, trust_env=False, timeout=30) as client:
        cursor: str | None = None
        for _ in range(count):
            params: dict[str, str | int] = {"limit": 100}
            if cursor:
                params["starting_after"] = cursor
            started = time.perf_counter()
            response = client.get("/v1/customers", params=params, auth=(token, ""))
            latencies.append(time.perf_counter() - started)
            body = response.json()
            if response.status_code != 200 or len(body["data"]) != 100:
                raise SystemExit(f"unexpected answer: {response.status_code}")
            cursor = body["data"][-1]["id"] if body["has_more"] else None


def measure(base: str, token: str, total: int, clients: int) -> tuple[float, list[float]]:
    per_client = total // clients
    latencies: list[float] = []
    threads = [
        threading.Thread(target=run_client, args=(base, token, per_client, latencies))
        for _ in range(clients)
    ]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    return per_client * clients / elapsed, latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--customers", type=int, default=10_000)
    args = parser.parse_args()

    started = time.perf_counter()
    with Sandbox(customers=args.customers) as sb:
        took = time.perf_counter() - started
        print(f"sandbox with {args.customers} customers started in {took:.3f} s")
        token = sb.mint_tokens()["access_token"]
        measure(sb.api_base, token, 200, 1)  # warm-up
        for clients in (1, args.clients):
            rps, latencies = measure(sb.api_base, token, args.requests, clients)
            median = statistics.median(latencies) * 1000
            p99 = statistics.quantiles(latencies, n=100)[98] * 1000
            print(
                f"GET /v1/customers?limit=100, {clients} keep-alive client(s), "
                f"{args.requests} requests: {rps:.0f} req/s "
                f"(median {median:.2f} ms, p99 {p99:.2f} ms)"
            )
        stopping = time.perf_counter()
    print(f"stopped in {time.perf_counter() - stopping:.3f} s")


if __name__ == "__main__":
    main()
