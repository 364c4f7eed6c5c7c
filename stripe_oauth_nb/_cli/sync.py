"""``stripe-oauth-nb sync``: the connected accounts' Stripe data into SQL tables.

A progress bar per table on a terminal (stderr), then the report (JSON with ``--json``). Exits 0
when every table loaded (or was skipped for a missing permission, named in the report), 1
otherwise. The PostgreSQL DSN can come from ``STRIPE_OAUTH_NB_SYNC_DSN`` so its password stays
out of the shell history; it is shown masked everywhere.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._args import account_id, add_store_option

if TYPE_CHECKING:  # the sync (dlt, DuckDB) loads only when the command runs
    from ..sync import Progress

__all__ = ["DSN_ENV", "register", "run"]

DSN_ENV = "STRIPE_OAUTH_NB_SYNC_DSN"


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "sync",
        help="load Stripe data of the connected accounts into DuckDB or PostgreSQL tables",
        description=(
            "Read customers, products, prices, subscriptions, invoices, charges, payment "
            "intents, refunds, balance transactions, payouts and disputes of the connected "
            "accounts at Stripe's rate limit, and load them into one table each (DuckDB file "
            "stripe.duckdb by default). Later runs read only what changed."
        ),
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--db", type=Path, help="DuckDB file (default: stripe.duckdb)")
    where.add_argument(
        "--destination",
        choices=("duckdb", "postgres"),
        help="where to load (postgres needs --dsn or " + DSN_ENV + ")",
    )
    parser.add_argument(
        "--dsn", help=f"PostgreSQL DSN, postgresql://USER:PASSWORD@HOST:5432/DB (or {DSN_ENV})"
    )
    parser.add_argument(
        "--dataset", help="schema of the tables (default: main in DuckDB, stripe in PostgreSQL)"
    )
    parser.add_argument(
        "--resources", metavar="A,B", help="only these tables, comma-separated (default: all)"
    )
    who = parser.add_mutually_exclusive_group()
    who.add_argument(
        "--account", metavar="ACCT", action="append", type=account_id, help="this account (acct_…)"
    )
    who.add_argument(
        "--all-accounts",
        action="store_true",
        help="every account with stored tokens (deauthorized ones are skipped, and named)",
    )
    who.add_argument(
        "--forget",
        metavar="ACCT",
        type=account_id,
        help="delete every row of this account (in --mode) from every table, and its sync state",
    )
    parser.add_argument("--mode", choices=("test", "live"), help="token mode (default: settings)")
    parser.add_argument("--full", action="store_true", help="read everything again")
    parser.add_argument(
        "--parallel",
        type=_positive,
        metavar="N",
        help="accounts read at the same time (default: 4 per CPU core)",
    )
    add_store_option(parser)
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.set_defaults(func=run)


def _positive(text: str) -> int:
    """A whole number of 1 or more (argparse's type: a bad one is a usage error)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of 1 or more")
    return value


class _Bars:
    """One tqdm bar per table on stderr, fed by the core's progress callback."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._bars: dict[str, Any] = {}
        self._rows: dict[tuple[str, bool, str], int] = {}
        self._lock = threading.Lock()

    def __call__(self, step: Progress) -> None:
        if self.enabled:
            with self._lock:  # the core reports from its reader threads
                self._show(step)

    def _show(self, step: Progress) -> None:
        from tqdm import tqdm

        bar = self._bars.get(step.table)
        if bar is None:
            bar = tqdm(
                desc=f"{step.table:<21}",
                unit=" rows",
                file=sys.stderr,
                position=len(self._bars),
                dynamic_ncols=True,
                leave=True,
            )
            self._bars[step.table] = bar
        self._rows[(step.account_id, step.livemode, step.table)] = step.rows
        total = sum(n for (_, _, table), n in self._rows.items() if table == step.table)
        if step.stage in ("loaded", "skipped", "failed"):
            bar.total = total
        bar.set_postfix_str(step.stage, refresh=False)
        bar.update(total - bar.n)

    def close(self) -> None:
        for bar in self._bars.values():
            bar.close()


def run(args: argparse.Namespace) -> int:
    from .._target import target_settings

    settings = target_settings(args.store, mode=args.mode)
    destination = args.destination
    dsn = args.dsn or (os.environ.get(DSN_ENV) if destination == "postgres" else None)
    with _warnings_as_lines():
        if args.forget is not None:
            return _forget(args, args.mode or settings.mode, destination, dsn)
        return _sync(args, settings, destination, dsn)


@contextlib.contextmanager
def _warnings_as_lines() -> Iterator[None]:
    """A database others can read is said in one line on stderr (not Python's warning format,
    with its source line); other warnings are shown as usual."""
    from ..sync import DataPermissionsWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DataPermissionsWarning)
        try:
            yield
        finally:
            for found in caught:
                if issubclass(found.category, DataPermissionsWarning):
                    print(f"warning: {found.message}", file=sys.stderr)
                else:
                    warnings.showwarning(
                        found.message, found.category, found.filename, found.lineno
                    )


def _sync(args: argparse.Namespace, settings: Any, destination: Any, dsn: str | None) -> int:
    from ..sync import sync
    from ..tokens import TokenManager

    resources = args.resources.split(",") if args.resources is not None else None
    accounts: Any = "all" if args.all_accounts else args.account
    bars = _Bars(enabled=sys.stderr.isatty() and not args.json)
    try:
        with TokenManager(settings) as tokens:
            report = sync(
                settings,
                tokens,
                db=args.db,
                destination=destination,
                dsn=dsn,
                dataset=args.dataset,
                resources=resources,
                accounts=accounts,
                mode=args.mode,
                full=args.full,
                parallel=args.parallel,
                progress=bars,
            )
    finally:
        bars.close()
    print(report.to_json() if args.json else report.summary())
    return 0 if report.ok else 1


def _forget(args: argparse.Namespace, mode: Any, destination: Any, dsn: str | None) -> int:
    from ..sync import forget

    report = forget(
        args.forget, mode, db=args.db, destination=destination, dsn=dsn, dataset=args.dataset
    )
    if args.json:
        shown = {"destination": report.destination, "account_id": report.account_id}
        print(json.dumps(shown | {"mode": mode, "deleted": report.rows}))
    else:
        print(report.summary())
    return 0
