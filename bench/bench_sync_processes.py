"""Several ``sync --all-accounts`` processes sharing one PostgreSQL destination: 1, 2 and 4 of them.

``--accounts`` small installs (200 by default) in a sandbox with Stripe's live limits and
``--latency-ms`` on every answer; one shared file token store; a throw-away PostgreSQL server
(as the tests start it) with a fresh database per row. Each process has its own work folder, as
on separate machines. For 1, 2 and 4 processes started together: the wall time (the slowest
process), the speed-up against one process next to the ideal N, the CPU they used together, and
the check that each account was loaded by exactly one process and every table equals the
sandbox. The last column says what bounds the run: the machine's cores when the processes'
CPU fills them, else the rest (the load lock of the dataset, PostgreSQL, the sandbox).

    python bench/bench_sync_processes.py [--accounts 200] [--latency-ms 150] [--processes 1,2,4]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the throw-away PostgreSQL server of the tests
sys.path.insert(0, str(ROOT / "bench"))

from _many import finish_sync, many_accounts, objects, pg_totals, start_sync  # noqa: E402

from stripe_oauth_nb.sync import RESOURCES  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=200)
    parser.add_argument("--account-customers", type=int, default=1)
    parser.add_argument("--latency-ms", type=float, default=150.0)
    parser.add_argument("--processes", default="1,2,4")
    parser.add_argument("--parallel", type=int, default=2, help="accounts in flight per process")
    args = parser.parse_args()
    counts = [int(n) for n in args.processes.split(",")]
    cores = len(os.sched_getaffinity(0))

    from _postgres import PostgresServer

    server = PostgresServer().start()
    ok = True
    rows = []
    try:
        with tempfile.TemporaryDirectory() as folder:
            work = Path(folder)
            store = work / "tokens.json"
            with many_accounts(
                args.accounts, args.account_customers, args.latency_ms, store
            ) as info:
                total = objects(info)
                expected = {
                    r.name: sum(c.get(r.name, 0) for c in info["counts"].values())
                    for r in RESOURCES
                }
                counted = [
                    r.name for r in RESOURCES if any(r.name in c for c in info["counts"].values())
                ]
                for n in counts:
                    dsn = server.create_database()
                    started = time.monotonic()
                    procs = [
                        start_sync(
                            info,
                            store,
                            destination="postgres",
                            dsn=dsn,
                            work_dir=work / f"run{n}-machine{i}",
                            parallel=args.parallel,
                        )
                        for i in range(n)
                    ]
                    reports = [finish_sync(p) for p in procs]
                    seconds = time.monotonic() - started
                    loaded = [set(r["loaded"]) for r in reports]
                    union = set().union(*loaded)
                    once = sum(len(s) for s in loaded) == len(union) == args.accounts
                    totals = pg_totals(dsn)  # the tables the sandbox counts
                    same = all(totals[name] == expected[name] for name in counted)
                    failed = sum(1 for r in reports for a in r["accounts"] if a.get("error"))
                    cpu = sum(r["cpu"] for r in reports)
                    ok = ok and once and same and not failed
                    rows.append((n, seconds, cpu, once, same, failed, [len(s) for s in loaded]))
    finally:
        server.remove()

    print(
        f"{args.accounts:,} installs ({total:,} objects), latency {args.latency_ms:.0f} ms, "
        f"live limits; one PostgreSQL destination; {cores} cores"
    )
    print(
        f"  {'processes':>9} {'seconds':>8} {'speed-up':>9} {'ideal':>6} {'CPU s':>7} "
        f"{'CPU/core':>8}  each loaded once, tables equal; accounts per process"
    )
    base = rows[0][1] if rows else 1.0
    for n, seconds, cpu, once, same, failed, split in rows:
        busy = cpu / (seconds * cores)
        bound = "cores" if busy >= 0.85 else "load lock / PostgreSQL / sandbox"
        print(
            f"  {n:>9} {seconds:8.1f} {base / seconds:8.2f}x {n:5}x {cpu:7.1f} {busy:7.0%}  "
            f"{once}, {same}{f', {failed} failed' if failed else ''}; {split}  (bound: {bound})"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
