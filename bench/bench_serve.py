"""Many accounts installing at once through ``serve``: wall time and callback latency.

Each run: a sandbox, N installing accounts, an install server on loopback; every "browser" (an
HTTP client with its own cookies) presses Install and answers the consent page first, then all
N redirects hit ``/callback`` at once. The clock covers the callbacks only (state check, attempt
log, one token request, the store write). Printed side by side: the file store with a file
attempt log (what several processes share) and the in-memory pair, each with the token pacing
on (Stripe's 25 exchanges a second in test mode) and effectively off; and the rate floor, the
least time N exchanges can take at the paced rate.

    python bench/bench_serve.py [accounts]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from stripe_oauth_nb._http import httpx
from stripe_oauth_nb._ports import free_loopback_port
from stripe_oauth_nb.manifest import Manifest, write_placeholder_icon
from stripe_oauth_nb.oauth._attempts import AttemptLog
from stripe_oauth_nb.sandbox import Sandbox, approve
from stripe_oauth_nb.serve import InstallServer, ServeConfig
from stripe_oauth_nb.tokens import FileTokenStore, MemoryTokenStore, TokenStore

KEY = "EXAMPLE-bench-signing-key-0123456789abcdef"
PACED: float | None = None  # Stripe's limits
PACED_RATE = 25.0
UNPACED = 1e6


def one_run(accounts: int, stored: str, rate: float | None) -> tuple[float, list[float], int]:
    folder = Path(tempfile.mkdtemp(prefix="bench-serve-"))
    port = free_loopback_port()
    manifest = Manifest.new(
        name="Reports Sync",
        id="com.example.reports",
        redirect_uris=[f"http://127.0.0.1:{port}/callback"],
        permissions={"customer_read": "List customers for the monthly report."},
    )
    manifest.save(folder / "stripe-app.json")
    write_placeholder_icon(folder / "icon.png")
    store: TokenStore
    if stored == "file":
        store, attempts = (
            FileTokenStore(folder / "tokens.json"),
            AttemptLog(folder / "attempts.json"),
        )
    else:
        store, attempts = MemoryTokenStore(), AttemptLog()
    with Sandbox(customers=0) as sb:
        ids = [sb.create_account(f"Shop {n}") for n in range(accounts)]
        config = ServeConfig.for_sandbox(
            sb,
            manifest,
            port=port,
            signing_key=KEY,
            store=store,
            attempts=attempts,
            token_rate=rate,
        )
        with InstallServer(config) as server:
            browsers = [
                httpx.Client(
                    timeout=120, trust_env=False, limits=httpx.Limits(max_keepalive_connections=0)
                )
                for _ in ids
            ]
            landed = []
            for browser, account in zip(browsers, ids, strict=True):
                location = browser.get(server.url + "/install").headers["location"]
                landed.append(approve(location, follow=False, account=account, timeout=60))
            barrier = threading.Barrier(accounts + 1)

            def back(pair: tuple[httpx.Client, str]) -> tuple[float, int]:
                browser, url = pair
                barrier.wait()
                started = time.perf_counter()
                status = browser.get(url).status_code
                return time.perf_counter() - started, status

            with ThreadPoolExecutor(accounts) as pool:
                futures = pool.map(back, zip(browsers, landed, strict=True))
                barrier.wait()
                started = time.perf_counter()
                results = list(futures)
                wall = time.perf_counter() - started
            for browser in browsers:
                browser.close()
        ok = sum(status == 200 for _, status in results)
        assert len(store.all()) == ok, "every 200 is one stored set"
    return wall, [latency for latency, _ in results], ok


def main() -> None:
    accounts = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    print(f"{accounts} accounts, all callbacks at once (wall s, callback latency ms p50/p95)")
    print(f"{'store':<8} {'pacing':<14} {'wall':>7} {'p50':>8} {'p95':>8} {'stored':>7}")
    for stored in ("memory", "file"):
        for label, rate in ((f"{PACED_RATE:g}/s", PACED), ("off", UNPACED)):
            wall, latencies, ok = one_run(accounts, stored, rate)
            cuts = statistics.quantiles(latencies, n=20)
            print(
                f"{stored:<8} {label:<14} {wall:>7.2f} {statistics.median(latencies) * 1000:>8.0f} "
                f"{cuts[18] * 1000:>8.0f} {ok:>7}"
            )
    print(f"rate floor at {PACED_RATE:g}/s: {(accounts - 1) / PACED_RATE:.2f} s")


if __name__ == "__main__":
    main()
