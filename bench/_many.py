"""Many small installs for the sync benchmarks: a sandbox in its own process with ``N`` installed
accounts (live mode, Stripe's limits, a round trip added), and ``sync --all-accounts`` runs in
child processes (each its own CPU time and peak memory). Used by ``bench_sync.py`` (the
1,000-account run) and ``bench_sync_processes.py`` (1/2/4 processes)."""

from __future__ import annotations

import contextlib
import json
import math
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from stripe_oauth_nb.sync import ENDPOINT_RATE, LIVE_RATE, RESOURCES

#: The sandbox: N accounts made and their worlds built before the first line is printed, so a
#: timed sync reads, never waits for the sandbox to make data.
SANDBOX = r"""
import json, sys
from pathlib import Path
from stripe_oauth_nb.tokens import FileTokenStore
from stripe_oauth_nb._tokenset import TokenSet
from stripe_oauth_nb.sandbox import Sandbox
from stripe_oauth_nb.sync import RESOURCES
n, customers, latency, store = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
permissions = sorted({r.permission for r in RESOURCES} | {"event_read"})
with Sandbox(customers=1, latency_ms=latency, rate_limit=True) as sb:
    app = sb.register_app({
        "id": "com.example.bench-many", "name": "Bench many", "stripe_api_access_type": "oauth",
        "distribution_type": "public", "allowed_redirect_uris": ["https://example.com/callback"],
        "permissions": [{"permission": p, "purpose": "Load it into SQL."} for p in permissions],
    })
    sets, counts = [], {}
    for i in range(n):
        account = sb.create_account(f"Installer {i}", customers=customers)
        body = sb.mint_tokens("live", app, account)
        sets.append(TokenSet.from_response(body, obtained_at=sb.now()))
        counts[account] = sb.counts(account, "live")
    FileTokenStore(Path(store)).save_many(sets)
    info = sb.connection_info()
    info["client_id"] = app.client_id("live")
    info["counts"] = counts
    print(json.dumps(info), flush=True)
    sys.stdin.read()  # serve until the parent closes our stdin
"""

#: One ``sync --all-accounts`` process: its report, CPU seconds and peak RSS as JSON.
CHILD = r"""
import json, resource, sys
from pathlib import Path
from stripe_oauth_nb._settings import ModeCredentials, Settings
from stripe_oauth_nb._masking import Secret
from stripe_oauth_nb.tokens import FileTokenStore, TokenManager
from stripe_oauth_nb.sync import sync
info, store, options = json.loads(sys.argv[1]), Path(sys.argv[2]), json.loads(sys.argv[3])
settings = Settings(
    target="sandbox", mode="live", api_base=info["api_base"], marketplace_base=info["api_base"],
    live=ModeCredentials("live", Secret(info["live"]["secret_key"]), info["client_id"]),
    token_store_path=store,
)
with TokenManager(settings, FileTokenStore(store)) as tokens:
    report = sync(settings, tokens, accounts="all", mode="live", **options)
out = report.to_dict()
del out["tables"]
out["loaded"] = sorted({t.account_id for t in report.tables if t.status == "loaded"})
usage = resource.getrusage(resource.RUSAGE_SELF)
out["cpu"] = usage.ru_utime + usage.ru_stime
out["max_rss_mb"] = usage.ru_maxrss / 1024
print(json.dumps(out))
"""


@contextmanager
def sandbox_child(command: list[str], timeout: float = 120) -> Iterator[dict[str, Any]]:
    """Run ``command`` (a sandbox script that prints its info as one JSON line and serves until
    its stdin closes); its info, with ``pid``."""
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
        proc.wait(timeout=timeout)
        proc.stdout.close()  # type: ignore[union-attr]


@contextmanager
def many_accounts(
    accounts: int, customers: int, latency_ms: float, store: Path
) -> Iterator[dict[str, Any]]:
    """The sandbox with ``accounts`` installs (tokens in the file store ``store``); its info,
    with ``client_id`` and ``counts`` (objects per resource per account)."""
    command = [sys.executable, "-c", SANDBOX, str(accounts), str(customers), str(latency_ms)]
    with sandbox_child([*command, str(store)]) as info:
        yield info


def start_sync(info: dict[str, Any], store: Path, **options: Any) -> subprocess.Popen[str]:
    """A ``sync --all-accounts`` child process (``options``: ``sync()``'s keyword arguments)."""
    payload = json.dumps({k: str(v) if isinstance(v, Path) else v for k, v in options.items()})
    info_arg = json.dumps({k: v for k, v in info.items() if k != "counts"})
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, info_arg, str(store), payload],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish_sync(proc: subprocess.Popen[str]) -> dict[str, Any]:
    out, err = proc.communicate()
    if proc.returncode != 0:
        raise SystemExit(f"the sync failed:\n{err[-3000:]}")
    report: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return report


def account_floor(counts: dict[str, int]) -> float:
    """Seconds Stripe's live limits allow one account's full read at best."""
    pages = {r.name: max(math.ceil(counts.get(r.name, 0) / 100), 1) for r in RESOURCES}
    return max((sum(pages.values()) + 1) / LIVE_RATE, max(pages.values()) / ENDPOINT_RATE)


def objects(info: dict[str, Any]) -> int:
    return sum(sum(c.get(r.name, 0) for r in RESOURCES) for c in info["counts"].values())


def busiest_floor(info: dict[str, Any]) -> float:
    return max(account_floor(c) for c in info["counts"].values())


def pg_totals(dsn: str) -> dict[str, int]:
    """Rows of every table the sandbox counts in the PostgreSQL dataset ``stripe``."""
    import psycopg2

    out: dict[str, int] = {}
    with contextlib.closing(psycopg2.connect(dsn)) as con, con.cursor() as cur:
        for r in RESOURCES:
            cur.execute("SELECT to_regclass(%s)", (f"stripe.{r.name}",))
            row = cur.fetchone()
            if row is None or row[0] is None:
                out[r.name] = 0
                continue
            cur.execute(f"SELECT count(*) FROM stripe.{r.name}")  # noqa: S608
            found = cur.fetchone()
            out[r.name] = int(found[0]) if found else 0
    return out
