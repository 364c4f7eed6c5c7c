"""Pull 10,000 customers from the sandbox three ways and compare the times.

1. ``ApiClient.list_all`` (this project: auth flow, retry transport, typed errors);
2. the official ``stripe`` library's auto-pagination (``StripeClient`` v16);
3. a bare HTTPX loop over the same pages (the floor: one client, a header, ``json.loads``).

By default the sandbox runs in a separate process (``stripe-oauth-nb sandbox``), so the server
does not share the interpreter lock with the client being measured; ``--in-process`` runs it in a
thread instead. Each way runs ``--repeat`` times, interleaved; the medians are compared.

    python bench/bench_pull.py [--customers 10000] [--repeat 5] [--in-process]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import stripe

from stripe_oauth_nb._http import httpx
from stripe_oauth_nb._masking import Secret
from stripe_oauth_nb._settings import ModeCredentials, Settings
from stripe_oauth_nb._tokenset import TokenSet
from stripe_oauth_nb.api import ApiClient
from stripe_oauth_nb.sandbox._browser import approve
from stripe_oauth_nb.tokens import MemoryTokenStore, TokenManager


@dataclass(frozen=True)
class Target:
    api_base: str
    secret_key: str
    client_id: str
    redirect_uri: str


@contextmanager
def sandbox(customers: int, in_process: bool) -> Iterator[Target]:
    if in_process:
        from stripe_oauth_nb.sandbox import Sandbox

        with Sandbox(customers=customers, rate_limit=False) as sb:  # measure the clients
            yield Target(
                sb.api_base, sb.test.secret_key, sb.test.client_id, sb.demo_app.redirect_uris[0]
            )
        return
    command = [sys.executable, "-m", "stripe_oauth_nb", "sandbox", "--no-rate-limit"]
    command += ["--customers", str(customers)]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None
        info: dict[str, Any] = json.loads(proc.stdout.readline())
        yield Target(
            info["api_base"],
            info["test"]["secret_key"],
            info["test"]["client_id"],
            info["redirect_uris"][0],
        )
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def install(target: Target) -> TokenSet:
    """Tokens through the sandbox's consent page and token endpoint, like a real install."""
    query = urlencode(
        {"client_id": target.client_id, "redirect_uri": target.redirect_uri, "state": "bench"}
    )
    location = approve(f"{target.api_base}/oauth/v2/authorize?{query}", follow=False)
    code = parse_qs(urlsplit(location).query)["code"][0]
    response = httpx.post(
        f"{target.api_base}/v1/oauth/token",
        auth=(target.secret_key, ""),
        data={"grant_type": "authorization_code", "code": code},
        timeout=10.0,
    )
    response.raise_for_status()
    return TokenSet.from_response(response.json())


def with_this_client(target: Target, tokens: TokenSet) -> Callable[[], int]:
    settings = Settings(
        target="sandbox",
        api_base=target.api_base,
        marketplace_base=target.api_base,
        test=ModeCredentials("test", Secret(target.secret_key), target.client_id),
    )
    manager = TokenManager(settings, MemoryTokenStore(tokens))

    def run() -> int:
        with ApiClient.from_settings(settings, manager) as client:
            return sum(1 for _ in client.list_all("/v1/customers"))

    return run


def with_stripe(target: Target, tokens: TokenSet) -> Callable[[], int]:
    def run() -> int:
        client = stripe.StripeClient(
            tokens.access_token.reveal(), base_addresses={"api": target.api_base}
        )
        pages = client.v1.customers.list({"limit": 100})
        return sum(1 for _ in pages.auto_paging_iter())

    return run


def with_bare_httpx(target: Target, tokens: TokenSet) -> Callable[[], int]:
    def run() -> int:
        headers = {"Authorization": f"Bearer {tokens.access_token.reveal()}"}
        count = 0
        params: dict[str, str | int] = {"limit": 100}
        with httpx.Client(base_url=target.api_base, headers=headers, timeout=30.0) as client:
            while True:
                page = json.loads(client.get("/v1/customers", params=params).content)
                data = page["data"]
                count += len(data)
                if not page["has_more"] or not data:
                    return count
                params["starting_after"] = data[-1]["id"]

    return run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--in-process", action="store_true", help="sandbox in a thread")
    args = parser.parse_args()

    with sandbox(args.customers, args.in_process) as target:
        tokens = install(target)
        ways = {
            "stripe-oauth-nb ApiClient": with_this_client(target, tokens),
            "stripe StripeClient v16": with_stripe(target, tokens),
            "bare httpx loop (floor)": with_bare_httpx(target, tokens),
        }
        for run in ways.values():  # warm up: imports, connections, server caches
            assert run() == args.customers
        times: dict[str, list[float]] = {name: [] for name in ways}
        cpu: dict[str, list[float]] = {name: [] for name in ways}
        for _ in range(args.repeat):
            for name, run in ways.items():
                start, start_cpu = time.perf_counter(), time.process_time()
                count = run()
                times[name].append(time.perf_counter() - start)
                cpu[name].append(time.process_time() - start_cpu)
                assert count == args.customers, (name, count)

    medians = {name: statistics.median(values) for name, values in times.items()}
    cpu_medians = {name: statistics.median(values) for name, values in cpu.items()}
    ours, floor = "stripe-oauth-nb ApiClient", "bare httpx loop (floor)"
    where = "in-process thread" if args.in_process else "separate process"
    print(f"{args.customers:,} customers, 100 per page, median of {args.repeat} (sandbox: {where})")
    print(f"  {'':<28} {'wall':>8}  {'x floor':>7}  {'client CPU':>10}  {'x floor':>7}")
    for name, median in medians.items():
        print(
            f"  {name:<28} {median:7.3f}s  {median / medians[floor]:6.2f}x  "
            f"{cpu_medians[name]:9.3f}s  {cpu_medians[name] / cpu_medians[floor]:6.2f}x"
        )
    library = "stripe StripeClient v16"
    for label, metric in (("wall", medians), ("client CPU", cpu_medians)):
        print(
            f"  {label}: ApiClient / stripe = {metric[ours] / metric[library]:.2f}x"
            f" (target <= 1.00), ApiClient / bare httpx = {metric[ours] / metric[floor]:.2f}x"
            " (target <= 1.20)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
