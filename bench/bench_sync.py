"""Sync a sandbox of about 100,000 objects into DuckDB, next to the alternatives; print figures.

The sandbox runs in its own process with Stripe's live-mode rate
limits (100 requests/s per account, 25/s per endpoint) and ``--latency-ms 150`` on every answer,
to rehearse the internet. Side by side, in one run:

1. this loader's full sync (``stripe_oauth_nb.sync.sync``) into a fresh DuckDB file;
2. a sequential stripe-python ``auto_paging_iter`` loop over the same resources (what the dlt
   Stripe source does), objects counted, not loaded;
3. the rate-limit floor: the requests a full read needs, per endpoint (one per 100 objects of
   each list; one per further 100 entries of each parent whose embedded list has more than 10;
   one per customer, and per further 100, for the payment methods Stripe lists per customer;
   one for the balance; one for events), divided by the requests Stripe allows per second
   (100/s for the account, 25/s per endpoint): the floor is the larger of the total over 100/s
   and the busiest endpoint over 25/s. The sizes of the nested lists come from the tables
   (each parent keeps its list's ``total_count``), which are checked against the sandbox.

Then the sandbox plays ``--days`` days of business and the sync runs again (incremental): its
requests next to the full sync's, and every table compared with ``/_sandbox/counts``. Each sync
runs in a child process, so its peak memory (max RSS) and its CPU time are its own (CPU per
request and per 100 rows loaded are printed); ``--memory`` also syncs ``--customers`` and
``--scale`` (10) times as many customers with no rate limit (the sandbox's nor the sync's), to
show whether peak memory grows with the number of objects, and what each further page costs
in CPU (the difference of the two runs); at both sizes it also syncs the charges alone, whose
pages hold 100 objects: the difference of those two syncs is the CPU of a 100-object page,
read to loaded.

Last, ``--accounts`` (1,000 by default; 0 skips it) small installs (``--account-customers``
customers each) in a sandbox of their own, synced by one ``sync --all-accounts`` process into
one DuckDB file and, from the same sandbox, into one PostgreSQL database (``--many-into``):
side by side, objects per second per CPU core, CPU per account, peak RSS and the time against
the rate-limit floor of the busiest account (what the run would take if every account were
read at once at Stripe's limit); every table compared with the sandbox. ``--rss-accounts``
(100) installs are synced into DuckDB too, for peak memory at two numbers of accounts.

    python bench/bench_sync.py [--customers N] [--latency-ms 150] [--days 3] [--memory [--scale 10]]
        [--skip-sequential] [--accounts 1000] [--account-customers 1] [--only-accounts]
        [--many-into duckdb,postgres] [--rss-accounts 100]
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

from _many import (
    busiest_floor,
    finish_sync,
    many_accounts,
    objects,
    pg_totals,
    sandbox_child,
    start_sync,
)

from stripe_oauth_nb._http import httpx
from stripe_oauth_nb._tokenset import TokenSet
from stripe_oauth_nb.sandbox._browser import approve
from stripe_oauth_nb.sync import ENDPOINT_RATE, LIVE_RATE, RESOURCES
from stripe_oauth_nb.sync._resources import CHILDREN, TABLES
from stripe_oauth_nb.tokens import FileTokenStore

MODE = "live"
#: stripe-python's name of a service whose path is spelt otherwise.
PYTHON_NAMES = {"invoiceitems": "invoice_items"}


SANDBOX = r"""
import json, sys
from stripe_oauth_nb.sandbox import Sandbox
limited = sys.argv[3] == "1"
with Sandbox(customers=int(sys.argv[1]), latency_ms=float(sys.argv[2]), rate_limit=limited) as sb:
    print(json.dumps(sb.connection_info()), flush=True)
    sys.stdin.read()  # serve until the parent closes our stdin
"""


@contextmanager
def sandbox(customers: int, latency_ms: int, limited: bool = True) -> Iterator[dict[str, Any]]:
    """The sandbox in a child process (Stripe's limits on unless ``limited`` is False, a round
    trip added); its info."""
    command = [sys.executable, "-c", SANDBOX, str(customers), str(latency_ms), str(int(limited))]
    with sandbox_child(command, timeout=60) as info:
        yield info


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
    """Rows of every table the sync loads (0 for a table it did not make)."""
    import duckdb

    with duckdb.connect(str(db), read_only=True) as con:
        made = {row[0] for row in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        return {
            name: int(con.execute(f"SELECT count(*) FROM {name}").fetchone()[0])  # type: ignore[index]  # noqa: S608
            if name in made
            else 0
            for name in TABLES
        }


def nested_sizes(db: Path) -> dict[str, list[int]]:
    """Per child table, the entries of each parent's list (its ``total_count``, kept in the
    parent's column); per per-parent resource, the objects of each parent (customers with none
    included)."""
    import duckdb

    out: dict[str, list[int]] = {}
    with duckdb.connect(str(db), read_only=True) as con:
        made = {row[0] for row in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        for r in RESOURCES:
            for child in r.children:
                if r.name not in made:
                    continue
                sql = f"SELECT CAST({child.embedded} ->> 'total_count' AS BIGINT) FROM {r.name}"  # noqa: S608
                out[child.name] = [int(n or 0) for (n,) in con.execute(sql).fetchall()]
            if r.per_parent is not None and r.name in made and "customers" in made:
                sql = (
                    f"SELECT count(m.id) FROM customers AS c LEFT JOIN {r.name} AS m "  # noqa: S608
                    "ON m.customer = c.id GROUP BY c.id"
                )
                out[r.name] = [int(n) for (n,) in con.execute(sql).fetchall()]
    return out


# -- the sync, in a child process (its own peak memory) ------------------------------------
CHILD = r"""
import json, resource, sys, time
from pathlib import Path
from stripe_oauth_nb._settings import ModeCredentials, Settings
from stripe_oauth_nb._masking import Secret
from stripe_oauth_nb.tokens import FileTokenStore, TokenManager
from stripe_oauth_nb.sync import sync
info, store, db = json.loads(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
settings = Settings(
    target="sandbox", mode="live", api_base=info["api_base"], marketplace_base=info["api_base"],
    live=ModeCredentials("live", Secret(info["live"]["secret_key"]), sys.argv[4]),
    token_store_path=store,
)
limited = sys.argv[6] == "1"
with TokenManager(settings, FileTokenStore(store)) as tokens:
    cpu = time.process_time()  # every thread of this process (the sandbox is another one)
    report = sync(
        settings, tokens, db=db, mode="live", resources=json.loads(sys.argv[5]),
        rate_limit=limited,
    )
    cpu = time.process_time() - cpu
out = report.to_dict()
out["max_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
out["cpu"] = cpu
out["rows"] = sum(t["rows"] for t in out["tables"])
out["libraries"] = sorted(m for m in ("pandas", "sqlalchemy") if m in sys.modules)
print(json.dumps(out))
"""

#: The Python the syncs run in (``--sync-python``): by default this one.
SYNC_PYTHON = [sys.executable]


#: The list synced alone at two sizes for the CPU of a full page (its pages hold 100 objects).
PAGE_RESOURCE = "charges"

#: The resources synced (``--without`` leaves some out).
CHOSEN = list(RESOURCES)


def run_sync(
    info: dict[str, Any],
    app: dict[str, Any],
    store: Path,
    db: Path,
    limited: bool = True,
    only: list[str] | None = None,
) -> dict[str, Any]:
    """One sync in a child process (``only``: these resources, else the chosen ones)."""
    client_id = app["client_ids"][MODE]
    names = json.dumps(only or [r.name for r in CHOSEN])
    args = [json.dumps(info), str(store), str(db), client_id, names, str(int(limited))]
    done = subprocess.run(
        [*SYNC_PYTHON, "-c", CHILD, *args],
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
    """The dlt source's way: one resource after another, one page at a time (the resources
    that are plain lists: no sub-lists, no per-customer lists, no balance)."""
    import stripe

    client = stripe.StripeClient(
        tokens.access_token.reveal(), base_addresses={"api": info["api_base"]}
    )
    started = time.perf_counter()
    objects = requests = 0
    for r in CHOSEN:
        if r.per_parent is not None or r.snapshot:
            continue
        params: dict[str, Any] = {"limit": 100, **r.params}
        service: Any = client.v1
        for part in r.path.removeprefix("/v1/").split("/"):  # checkout/sessions
            service = getattr(service, PYTHON_NAMES.get(part, part))
        pages = service.list(params)
        count = sum(1 for _ in pages.auto_paging_iter())
        objects += count
        requests += count // 100 + 1
    return time.perf_counter() - started, objects, requests


def needed_requests(counts: dict[str, int], nested: dict[str, list[int]]) -> dict[str, int]:
    """The requests a full read needs at best, per endpoint (Stripe's: method and route)."""
    per: dict[str, int] = {"GET /v1/events": 1}  # the one events request that sets the cursor

    def add(endpoint: str, n: int) -> None:
        per[f"GET {endpoint}"] = per.get(f"GET {endpoint}", 0) + n

    for r in CHOSEN:
        if r.snapshot:
            add(r.path, 1)
        elif r.per_parent is not None:
            parents = nested.get(r.name, [])
            add(r.per_parent.parents, max(math.ceil(len(parents) / 100), 1))
            add(r.per_parent.path, sum(max(math.ceil(n / 100), 1) for n in parents))
        else:
            add(r.path, max(math.ceil(counts.get(r.name, 0) / 100), 1))
    for child in (c for r in CHOSEN for c in r.children):  # past 10: the rest, 100 a page
        add(
            child.path, sum(math.ceil((n - 10) / 100) for n in nested.get(child.name, []) if n > 10)
        )
    return per


def floor(per_endpoint: dict[str, int]) -> tuple[float, int, str, int]:
    """Seconds Stripe's limits allow a full read at best; requests; the busiest endpoint."""
    total = sum(per_endpoint.values())
    busiest = max(per_endpoint, key=per_endpoint.__getitem__)
    seconds = max(total / LIVE_RATE, per_endpoint[busiest] / ENDPOINT_RATE)
    return seconds, total, busiest, per_endpoint[busiest]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--customers", type=int, default=8300, help="sandbox size (8,300: about 20,000 charges)"
    )
    parser.add_argument("--latency-ms", type=int, default=150)
    parser.add_argument("--days", type=int, default=3, help="days simulated before the re-sync")
    parser.add_argument("--repeat", type=int, default=3, help="full syncs (median reported)")
    parser.add_argument(
        "--memory",
        action="store_true",
        help="also sync --customers and --scale times as many with no rate limit (peak RSS, CPU)",
    )
    parser.add_argument("--scale", type=int, default=10, help="the larger sandbox of --memory")
    parser.add_argument("--skip-sequential", action="store_true")
    parser.add_argument(
        "--without", default="", help="resources left out, comma-separated (payment_methods)"
    )
    parser.add_argument("--accounts", type=int, default=1000, help="small installs (0: skip)")
    parser.add_argument("--account-customers", type=int, default=1)
    parser.add_argument("--parallel", type=int, default=2, help="accounts in flight")
    parser.add_argument("--only-accounts", action="store_true", help="only the installs run")
    parser.add_argument(
        "--many-into",
        default="duckdb,postgres",
        help="destinations of the installs run, comma-separated (duckdb, postgres)",
    )
    parser.add_argument(
        "--rss-accounts", type=int, default=100, help="installs of the peak-memory comparison"
    )
    parser.add_argument(
        "--sync-python",
        default=sys.executable,
        help="the Python the single-account syncs run in (another install's, to compare: one "
        "with only stripe-oauth-nb[sql] lacks pandas and SQLAlchemy)",
    )
    args = parser.parse_args()
    SYNC_PYTHON[:] = [args.sync_python]
    left_out = {n.strip() for n in args.without.split(",") if n.strip()}
    CHOSEN[:] = [r for r in RESOURCES if r.name not in left_out]
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
            nested = nested_sizes(db)
            per_endpoint = needed_requests(before, nested)
            floor_s, needed, busiest, busiest_n = floor(per_endpoint)
            seq = None if args.skip_sequential else sequential_stripe(info, tokens)

            httpx.post(
                f"{info['api_base']}/_sandbox/simulate", json={"days": args.days}, timeout=600
            ).raise_for_status()
            after = counts(info, account)
            incremental = run_sync(info, app, store, db)
            reloaded = table_counts(db)
            nested_after = nested_sizes(db)

        sizes: list[tuple[int, dict[str, Any]]] = []
        page_runs: list[dict[str, Any]] = []  # PAGE_RESOURCE alone, at each size
        if args.memory:  # no rate limit (Stripe's, or this sync's): to fit in minutes
            for scale in (1, args.scale):
                with sandbox(args.customers * scale, args.latency_ms, limited=False) as info:
                    size_store = work / f"tokens-{scale}x.json"
                    size_app = register_app(info)
                    install(info, size_app, size_store)
                    db = work / f"size-{scale}x.duckdb"
                    sizes.append((scale, run_sync(info, size_app, size_store, db, limited=False)))
                    db = work / f"page-{scale}x.duckdb"
                    only = [PAGE_RESOURCE]
                    page_runs.append(run_sync(info, size_app, size_store, db, False, only))

    rows = sum(loaded.values())
    print(
        f"Sandbox: {rows:,} rows in {sum(1 for n in loaded.values() if n)} of {len(TABLES)} "
        f"tables ({before.get('charges', 0):,} charges, {loaded.get('invoice_lines', 0):,} "
        f"invoice lines), live-mode limits {LIVE_RATE:.0f}/s per account, "
        f"{ENDPOINT_RATE:.0f}/s per endpoint, latency {args.latency_ms} ms"
    )
    print(f"  {'':<40} {'seconds':>9} {'requests':>9} {'x floor':>8}")
    print(
        f"  {'rate-limit floor':<40} {floor_s:9.1f} {needed:9,} {1:8.2f}"
        f"   (busiest endpoint: {busiest}, {busiest_n:,} requests)"
    )
    for endpoint, n in sorted(per_endpoint.items(), key=lambda e: -e[1])[:6]:
        print(f"      {endpoint:<52} {n:9,}")
    print(
        f"  {'this sync, full (median)':<40} {full['seconds']:9.1f} {full['requests']:9,} "
        f"{full['seconds'] / floor_s:8.2f}   (runs: {spread} s; {full['rate_limited']} answered "
        f"429; peak RSS {full['max_rss_mb']:.0f} MB; the sandbox used {server_cpu:.1f} s of CPU)"
    )
    cpus = ", ".join(f"{r['cpu']:.1f}" for r in runs)
    print(
        f"  CPU of this sync (its own process, not the sandbox's): {full['cpu']:.1f} s (runs: "
        f"{cpus} s), {per_page(full)}"
    )
    if seq is not None:
        seconds, objects, pages = seq
        print(
            f"  {'stripe-python auto_paging_iter, sequential':<40} {seconds:9.1f} {pages:9,} "
            f"{seconds / floor_s:8.2f}   ({objects:,} objects of the plain lists, no entries "
            f"past 10 nor per-customer lists; this sync is {seconds / full['seconds']:.1f}x "
            "faster)"
        )
    share = incremental["requests"] / max(full["requests"], 1)
    print(
        f"  {f'this sync, after {args.days} simulated days':<40} {incremental['seconds']:9.1f} "
        f"{incremental['requests']:9,} {'':>8}   ({share:.1%} of the full sync's requests)"
    )
    # the sandbox counts its resources; a child table holds its parents' total_count entries
    counted = [r for r in CHOSEN if r.name in before]
    same_full = all(loaded[r.name] == before[r.name] for r in counted) and all(
        loaded[c.name] == sum(nested.get(c.name, [])) for c in CHILDREN
    )
    same_after = all(reloaded[r.name] == after.get(r.name, 0) for r in counted) and all(
        reloaded[c.name] == sum(nested_after.get(c.name, [])) for c in CHILDREN
    )
    print(f"  tables equal to the sandbox after the full sync: {same_full}")
    print(f"  tables equal to the sandbox after the re-sync:   {same_after}")
    if not (same_full and same_after):
        for r in counted:
            print(
                f"    {r.name:<21} sandbox {before.get(r.name, 0):>7,} -> "
                f"{after.get(r.name, 0):>7,}  tables {loaded[r.name]:>7,} -> {reloaded[r.name]:>7,}"
            )
    if sizes:
        shown = ", ".join(sizes[0][1]["libraries"]) or "neither"
        print(
            "  with no rate limit (the sandbox's nor the sync's), the objects scaled up "
            f"(pandas and SQLAlchemy in the sync's process: {shown}; {SYNC_PYTHON[0]}):"
        )
        for scale, size in sizes:
            print(
                f"    {scale:>3}x ({args.customers * scale:,} customers, {size['rows']:,} rows): "
                f"{size['seconds']:6.1f} s, peak RSS {size['max_rss_mb']:4.0f} MB, "
                f"{size['cpu']:.1f} s of CPU, {per_page(size)}"
            )
        (_, one), (scale, many) = sizes[0], sizes[-1]
        pages = many["requests"] - one["requests"]
        print(
            f"    peak RSS {many['max_rss_mb'] / one['max_rss_mb']:.2f}x at {scale}x the objects; "
            f"each further page cost {(many['cpu'] - one['cpu']) / max(pages, 1) * 1000:.1f} ms "
            f"of CPU (the difference of the two runs over their {pages:,} more requests; "
            f"{(many['cpu'] - one['cpu']) / max(many['rows'] - one['rows'], 1) * 1e5:.1f} ms "
            "per further 100 rows)"
        )
        print(f"    {page_cost(page_runs[0], page_runs[-1])}")
    same_many = True
    if args.accounts:
        same_many = many_run(args)
    print(f"  (this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB)")
    return 0 if same_full and same_after and same_many else 1


def page_cost(one: dict[str, Any], many: dict[str, Any]) -> str:
    """CPU per 100-object page read to loaded: two syncs of a list whose pages are full, the
    difference of their CPU over the difference of their pages (imports and the fixed cost of
    each load drop out)."""
    more = int(many["requests"]) - int(one["requests"])
    rows = int(many["rows"]) - int(one["rows"])
    cpu_ms = (float(many["cpu"]) - float(one["cpu"])) * 1000
    return (
        f"CPU per 100-object page, read to loaded: {cpu_ms / max(more, 1):.1f} ms "
        f"({PAGE_RESOURCE} alone, {one['rows']:,} and {many['rows']:,} rows: the difference of "
        f"the two syncs' CPU over their {more:,} more pages of {rows / max(more, 1):.0f} "
        "objects on average)"
    )


def per_page(report: dict[str, Any]) -> str:
    """CPU per request (a page of up to 100 objects, read to loaded) and per 100 rows loaded."""
    cpu_ms = float(report["cpu"]) * 1000
    return (
        f"{cpu_ms / max(int(report['requests']), 1):.1f} ms per request, "
        f"{cpu_ms / max(int(report['rows']), 1) * 100:.1f} ms per 100 rows loaded"
    )


def many_run(args: argparse.Namespace) -> bool:
    """``sync --all-accounts`` over ``--accounts`` small installs, into one DuckDB file and into
    one PostgreSQL database (a throw-away server, as the tests start it), one after the other
    from the same sandbox; then ``--rss-accounts`` installs into DuckDB, for peak memory at two
    numbers of accounts."""
    rows: list[tuple[str, dict[str, Any], bool]] = []
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        store = work / "tokens.json"
        with many_accounts(args.accounts, args.account_customers, args.latency_ms, store) as info:
            expected = {
                r.name: sum(c.get(r.name, 0) for c in info["counts"].values()) for r in RESOURCES
            }
            # the sandbox counts its resources (a child table's rows are checked by the run above)
            counted = [
                r.name for r in RESOURCES if any(r.name in c for c in info["counts"].values())
            ]

            def same(loaded: dict[str, int], report: dict[str, Any]) -> bool:
                failed = any(a.get("error") for a in report["accounts"])
                return not failed and all(loaded.get(n, 0) == expected[n] for n in counted)

            if "duckdb" in args.many_into:
                db = work / "many.duckdb"
                report = finish_sync(start_sync(info, store, db=db, parallel=args.parallel))
                rows.append(("one DuckDB file", report, same(table_counts(db), report)))
            if "postgres" in args.many_into:
                sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
                from _postgres import PostgresServer

                server = PostgresServer().start()
                try:
                    dsn = server.create_database()
                    proc = start_sync(
                        info,
                        store,
                        destination="postgres",
                        dsn=dsn,
                        work_dir=work / "pg-work",
                        parallel=args.parallel,
                    )
                    report = finish_sync(proc)
                    rows.append(("one PostgreSQL database", report, same(pg_totals(dsn), report)))
                finally:
                    server.remove()
        total = objects(info)
        floor_s = busiest_floor(info)
        small: dict[str, Any] | None = None
        if args.rss_accounts and args.rss_accounts != args.accounts:
            small_store = work / "small-tokens.json"
            with many_accounts(
                args.rss_accounts, args.account_customers, args.latency_ms, small_store
            ) as small_info:
                small_db = work / "small.duckdb"
                small = finish_sync(
                    start_sync(small_info, small_store, db=small_db, parallel=args.parallel)
                )
    cores = len(os.sched_getaffinity(0))
    print(
        f"{args.accounts:,} installs of {args.account_customers} customer(s) each: {total:,} "
        f"objects; one `sync --all-accounts` process ({args.parallel} accounts in flight, "
        f"{cores} cores); rate-limit floor of the busiest account {floor_s:.2f} s (every "
        "account read at once at the limit)"
    )
    print(
        f"  {'into':<24} {'seconds':>8} {'requests':>9} {'x floor':>8} {'CPU s':>7} "
        f"{'objects/s/core':>14} {'CPU/account':>11} {'peak RSS':>8} {'failed':>6}  tables equal"
    )
    for name, report, equal in rows:
        failed = sum(1 for a in report["accounts"] if a.get("error"))
        cpu = float(report["cpu"])
        print(
            f"  {name:<24} {report['seconds']:8.1f} {report['requests']:9,} "
            f"{report['seconds'] / floor_s:8.0f} {cpu:7.1f} {total / max(cpu, 1e-9):14,.0f} "
            f"{cpu / args.accounts * 1000:8.0f} ms {report['max_rss_mb']:5.0f} MB {failed:6}  "
            f"{equal}"
        )
    if small is not None and rows and rows[0][0] == "one DuckDB file":
        print(
            f"  peak RSS into DuckDB: {small['max_rss_mb']:.0f} MB at {args.rss_accounts:,} "
            f"accounts, {rows[0][1]['max_rss_mb']:.0f} MB at {args.accounts:,}"
        )
    return all(equal for _, _, equal in rows)


if __name__ == "__main__":
    raise SystemExit(main())
