"""Sync a sandbox of about 100,000 objects into DuckDB, next to the alternatives; print figures.

The sandbox runs in its own process with Stripe's live-mode rate
limits (100 requests/s per account, 25/s per endpoint) and ``--latency-ms 150`` on every answer,
to rehearse the internet. Side by side, in one run:

1. this loader's full sync (``stripe_oauth_nb.sync.sync``) into a fresh DuckDB file;
2. a sequential stripe-python ``auto_paging_iter`` loop over the same resources (what the dlt
   Stripe source does), objects counted, not loaded;
3. the rate-limit floor: the requests a full read needs (one per 100 objects of each resource)
   divided by the requests Stripe allows per second (100/s for the account, 25/s per endpoint).

Then the sandbox plays ``--days`` days of business and the sync runs again (incremental): its
requests next to the full sync's, and every table compared with ``/_sandbox/counts``. Each sync
runs in a child process, so its peak memory (max RSS) is its own; ``--memory`` also syncs a
quarter of the objects, to show peak memory does not grow with the number of objects.

Last, ``--accounts`` (1,000 by default; 0 skips it) small installs (``--account-customers``
customers each) in a sandbox of their own, synced by one ``sync --all-accounts`` process into
one DuckDB file: objects per second per CPU core, and the time against the rate-limit floor of
the busiest account (what the run would take if every account were read at once at Stripe's
limit); every table compared with the sandbox.

    python bench/bench_sync.py [--customers N] [--latency-ms 150] [--days 3] [--memory]
        [--skip-sequential] [--accounts 1000] [--account-customers 1] [--only-accounts]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/_many.py

from _many import busiest_floor, finish_sync, many_accounts, objects, start_sync

from stripe_oauth_nb._http import httpx
from stripe_oauth_nb._tokens import FileTokenStore
from stripe_oauth_nb._tokenset import TokenSet
from stripe_oauth_nb.sandbox._browser import approve
from stripe_oauth_nb.sync import ENDPOINT_RATE, LIVE_RATE, RESOURCES

MODE = "live"


SANDBOX = r"""
import json, sys
from stripe_oauth_nb.sandbox import Sandbox
with Sandbox(customers=int(sys.argv[1]), latency_ms=float(sys.argv[2]), rate_limit=True) as sb:
    print(json.dumps(sb.connection_info()), flush=True)
    sys.stdin.read()  # serve until the parent closes our stdin
"""


@contextmanager
def sandbox(customers: int, latency_ms: int) -> Iterator[dict[str, Any]]:
    """The sandbox in a child process (Stripe's limits on, a round trip added); its info."""
    command = [sys.executable, "-c", SANDBOX, str(customers), str(latency_ms)]
    proc = subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        assert proc.stdout is not None
        info: dict[str, Any] = json.loads(proc.stdout.readline())
        info["pid"] = proc.pid
        yield info
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(timeout=60)


def register_app(info: dict[str, Any]) -> dict[str, Any]:
    """An app that may read every resource the sync loads (and events), live redirect https."""
    permissions = sorted({r.permission for r in RESOURCES} | {"event_read"})
    manifest = {
        "id": "com.example.bench-sync",
        "name": "Bench sync",
        "stripe_api_access_type": "oauth",
        "distribution_type": "public",
        "allowed_redirect_uris": ["https://example.com/callback"],
        "permissions": [{"permission": p, "purpose": "Load it into SQL."} for p in permissions],
    }
    response = httpx.post(f"{info['api_base']}/_sandbox/apps", json=manifest, timeout=30.0)
    response.raise_for_status()
    app: dict[str, Any] = response.json()
    return app


def install(info: dict[str, Any], app: dict[str, Any], store: Path) -> TokenSet:
    """Live-mode tokens through the consent page and the token endpoint, like a real install."""
    client_id = app["client_ids"][MODE]
    query = urlencode(
        {"client_id": client_id, "redirect_uri": "https://example.com/callback", "state": "bench"}
    )
    location = approve(f"{info['api_base']}/oauth/v2/authorize?{query}", follow=False)
    code = parse_qs(urlsplit(location).query)["code"][0]
    response = httpx.post(
        f"{info['api_base']}/v1/oauth/token",
        auth=(info[MODE]["secret_key"], ""),
        data={"grant_type": "authorization_code", "code": code},
        timeout=30.0,
    )
    response.raise_for_status()
    tokens = TokenSet.from_response(response.json())
    FileTokenStore(store).save(tokens, authorized=True)
    return tokens


def counts(info: dict[str, Any], account: str) -> dict[str, int]:
    response = httpx.get(
        f"{info['api_base']}/_sandbox/counts",
        params={"account": account, "mode": MODE},
        timeout=300.0,  # the first call builds the sandbox's world
    )
    response.raise_for_status()
    body: dict[str, int] = response.json()["counts"]
    return body


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process has used so far (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def table_counts(db: Path) -> dict[str, int]:
    import duckdb

    with duckdb.connect(str(db), read_only=True) as con:
        return {
            r.name: int(con.execute(f"SELECT count(*) FROM {r.name}").fetchone()[0])  # type: ignore[index]  # noqa: S608
            for r in RESOURCES
        }


# -- the sync, in a child process (its own peak memory) ------------------------------------
CHILD = r"""
import json, resource, sys, time
from pathlib import Path
from stripe_oauth_nb._settings import ModeCredentials, Settings
from stripe_oauth_nb._masking import Secret
from stripe_oauth_nb._tokens import FileTokenStore, TokenManager
from stripe_oauth_nb.sync import sync
info, store, db = json.loads(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
settings = Settings(
    target="sandbox", mode="live", api_base=info["api_base"], marketplace_base=info["api_base"],
    live=ModeCredentials("live", Secret(info["live"]["secret_key"]), sys.argv[4]),
    token_store_path=store,
)
with TokenManager(settings, FileTokenStore(store)) as tokens:
    report = sync(settings, tokens, db=db, mode="live")
out = report.to_dict()
out["max_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(out))
"""


def run_sync(info: dict[str, Any], app: dict[str, Any], store: Path, db: Path) -> dict[str, Any]:
    client_id = app["client_ids"][MODE]
    done = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps(info), str(store), str(db), client_id],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"the sync failed:\n{done.stderr[-3000:]}")
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    if not report["ok"]:
        raise SystemExit(f"the sync reported failures:\n{json.dumps(report, indent=2)}")
    return report


def sequential_stripe(info: dict[str, Any], tokens: TokenSet) -> tuple[float, int, int]:
    """The dlt source's way: one resource after another, one page at a time."""
    import stripe

    client = stripe.StripeClient(
        tokens.access_token.reveal(), base_addresses={"api": info["api_base"]}
    )
    started = time.perf_counter()
    objects = requests = 0
    for r in RESOURCES:
        params: dict[str, Any] = {"limit": 100, **r.params}
        pages = getattr(client.v1, r.name).list(params)
        count = sum(1 for _ in pages.auto_paging_iter())
        objects += count
        requests += count // 100 + 1
    return time.perf_counter() - started, objects, requests


def floor(sandbox_counts: dict[str, int]) -> tuple[float, int, int]:
    """Seconds Stripe's limits allow a full read at best; requests needed; the busiest endpoint."""
    pages = {r.name: max(math.ceil(sandbox_counts.get(r.name, 0) / 100), 1) for r in RESOURCES}
    total = sum(pages.values()) + 1  # and the one events request that sets the cursor
    busiest = max(pages.values())
    return max(total / LIVE_RATE, busiest / ENDPOINT_RATE), total, busiest


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--customers", type=int, default=8300, help="sandbox size (8,300: about 20,000 charges)"
    )
    parser.add_argument("--latency-ms", type=int, default=150)
    parser.add_argument("--days", type=int, default=3, help="days simulated before the re-sync")
    parser.add_argument("--repeat", type=int, default=3, help="full syncs (median reported)")
    parser.add_argument("--memory", action="store_true", help="also sync a quarter of the size")
    parser.add_argument("--skip-sequential", action="store_true")
    parser.add_argument("--accounts", type=int, default=1000, help="small installs (0: skip)")
    parser.add_argument("--account-customers", type=int, default=1)
    parser.add_argument("--parallel", type=int, default=2, help="accounts in flight")
    parser.add_argument("--only-accounts", action="store_true", help="only the installs run")
    args = parser.parse_args()
    if args.only_accounts:
        return 0 if many_run(args) else 1

    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        with sandbox(args.customers, args.latency_ms) as info:
            store = work / "tokens.json"
            app = register_app(info)
            tokens = install(info, app, store)
            account = tokens.account_id
            before = counts(info, account)
            total_objects = sum(before.get(r.name, 0) for r in RESOURCES)
            floor_s, needed, busiest = floor(before)

            runs = []
            for n in range(args.repeat):  # each into a new database: the median is reported
                db = work / f"stripe-{n}.duckdb"
                server_before = cpu_seconds(info["pid"])
                report = run_sync(info, app, store, db)
                report["server_cpu"] = cpu_seconds(info["pid"]) - server_before
                runs.append(report)
            full = sorted(runs, key=lambda r: float(r["seconds"]))[len(runs) // 2]
            server_cpu = full["server_cpu"]
            spread = ", ".join(f"{r['seconds']:.1f}" for r in runs)
            loaded = table_counts(db)
            seq = None if args.skip_sequential else sequential_stripe(info, tokens)

            httpx.post(
                f"{info['api_base']}/_sandbox/simulate", json={"days": args.days}, timeout=600
            ).raise_for_status()
            after = counts(info, account)
            incremental = run_sync(info, app, store, db)
            reloaded = table_counts(db)

        small = None
        if args.memory:
            with sandbox(max(args.customers // 4, 1), args.latency_ms) as info:
                small_store = work / "small-tokens.json"
                small_app = register_app(info)
                install(info, small_app, small_store)
                small = run_sync(info, small_app, small_store, work / "small.duckdb")

    print(
        f"Sandbox: {total_objects:,} objects ({before.get('charges', 0):,} charges), live-mode "
        f"limits {LIVE_RATE:.0f}/s per account, {ENDPOINT_RATE:.0f}/s per endpoint, "
        f"latency {args.latency_ms} ms"
    )
    print(f"  {'':<40} {'seconds':>9} {'requests':>9} {'x floor':>8}")
    print(
        f"  {'rate-limit floor':<40} {floor_s:9.1f} {needed:9,} {1:8.2f}"
        f"   (busiest endpoint: {busiest} requests)"
    )
    print(
        f"  {'this sync, full (median)':<40} {full['seconds']:9.1f} {full['requests']:9,} "
        f"{full['seconds'] / floor_s:8.2f}   (runs: {spread} s; {full['rate_limited']} answered "
        f"429; peak RSS {full['max_rss_mb']:.0f} MB; the sandbox used {server_cpu:.1f} s of CPU)"
    )
    if seq is not None:
        seconds, objects, pages = seq
        print(
            f"  {'stripe-python auto_paging_iter, sequential':<40} {seconds:9.1f} {pages:9,} "
            f"{seconds / floor_s:8.2f}   ({objects:,} objects; this sync is "
            f"{seconds / full['seconds']:.1f}x faster)"
        )
    share = incremental["requests"] / max(full["requests"], 1)
    print(
        f"  {f'this sync, after {args.days} simulated days':<40} {incremental['seconds']:9.1f} "
        f"{incremental['requests']:9,} {'':>8}   ({share:.1%} of the full sync's requests)"
    )
    same_full = all(loaded[r.name] == before.get(r.name, 0) for r in RESOURCES)
    same_after = all(reloaded[r.name] == after.get(r.name, 0) for r in RESOURCES)
    print(f"  tables equal to the sandbox after the full sync: {same_full}")
    print(f"  tables equal to the sandbox after the re-sync:   {same_after}")
    if not (same_full and same_after):
        for r in RESOURCES:
            print(
                f"    {r.name:<21} sandbox {before.get(r.name, 0):>7,} -> "
                f"{after.get(r.name, 0):>7,}  tables {loaded[r.name]:>7,} -> {reloaded[r.name]:>7,}"
            )
    if small is not None:
        print(
            f"  peak RSS: {small['max_rss_mb']:.0f} MB for a quarter of the objects, "
            f"{full['max_rss_mb']:.0f} MB for all of them"
        )
    same_many = True
    if args.accounts:
        same_many = many_run(args)
    print(f"  (this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB)")
    return 0 if same_full and same_after and same_many else 1


def many_run(args: argparse.Namespace) -> bool:
    """``sync --all-accounts`` over ``--accounts`` small installs into one DuckDB file."""
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        store = work / "tokens.json"
        with many_accounts(args.accounts, args.account_customers, args.latency_ms, store) as info:
            db = work / "many.duckdb"
            report = finish_sync(start_sync(info, store, db=db, parallel=args.parallel))
            loaded = table_counts(db)
        total = objects(info)
        expected = {
            r.name: sum(c.get(r.name, 0) for c in info["counts"].values()) for r in RESOURCES
        }
    floor_s = busiest_floor(info)
    cores = len(os.sched_getaffinity(0))
    failed = [a for a in report["accounts"] if a.get("error")]
    print(
        f"{args.accounts:,} installs of {args.account_customers} customer(s) each: {total:,} "
        f"objects, one `sync --all-accounts` process into one DuckDB file "
        f"({args.parallel} accounts in flight, {cores} cores)"
    )
    print(
        f"  {'rate-limit floor of the busiest account':<40} {floor_s:9.2f} "
        f"(every account read at once at the limit)"
    )
    print(
        f"  {'this sync, all accounts':<40} {report['seconds']:9.1f} {report['requests']:9,} "
        f"{report['seconds'] / floor_s:8.0f}   ({report['cpu']:.1f} s of CPU: "
        f"{total / max(report['cpu'], 1e-9):,.0f} objects/s per core, "
        f"{report['cpu'] / args.accounts * 1000:.0f} ms of CPU per account; "
        f"peak RSS {report['max_rss_mb']:.0f} MB; {len(failed)} accounts failed)"
    )
    same = loaded == expected and not failed
    print(f"  tables equal to the sandbox (every account): {same}")
    return same


if __name__ == "__main__":
    raise SystemExit(main())
