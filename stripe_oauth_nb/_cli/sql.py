"""``stripe-oauth-nb sql "SELECT ..."``: the synced tables, brought up to date, then the query.

The tables the query names are synced incrementally first when their last sync is older than
``--fresh`` seconds (300; ``--fresh 0`` always, ``--fresh none`` never), for the account
``sync`` would use (``--account``, else the most recently authorized one). Then the query runs
read-only on the DuckDB file and prints a table, or CSV (``--csv``) or JSON lines (``--json``).
Writing statements, unknown tables and syntax errors get one line each
(:mod:`stripe_oauth_nb.sync._sql`).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path
from typing import Any

from ._args import account_id, add_store_option

__all__ = ["register", "run"]


def fresh_seconds(text: str) -> float | None:
    """An argparse ``type``: seconds, 0 or more, or ``none`` (never sync before the query).

    The rule itself is :func:`stripe_oauth_nb.sync._sql.check_fresh`'s, the one ``conn.sql``
    follows; this only reads the text."""
    from .._errors import QueryError
    from ..sync._sql import check_fresh

    if text.strip().lower() in ("none", "never"):
        return None
    try:
        return check_fresh(float(text))
    except (ValueError, QueryError):
        raise argparse.ArgumentTypeError(
            "expected seconds, 0 or more (e.g. 300; 0 syncs first every time), or 'none' never "
            "to sync before the query"
        ) from None


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "sql",
        help="query the synced tables (DuckDB), bringing the tables it names up to date first",
        description=(
            "Run one SELECT on the synced tables (stripe.duckdb). Tables the query names whose "
            "last sync is older than --fresh seconds are synced incrementally first. Writing "
            "statements are refused: the tables belong to the sync."
        ),
    )
    parser.add_argument("query", help='one SELECT, e.g. "SELECT count(*) FROM charges"')
    parser.add_argument(
        "--fresh",
        type=fresh_seconds,
        default=300.0,
        metavar="SECONDS",
        help="sync a named table first when its last sync is older than this (300; 0: always; "
        "none: never)",
    )
    parser.add_argument("--db", type=Path, help="DuckDB file (default: stripe.duckdb)")
    parser.add_argument(
        "--account", metavar="ACCT", type=account_id, help="the account to sync (acct_…)"
    )
    parser.add_argument("--mode", choices=("test", "live"), help="token mode (default: settings)")
    add_store_option(parser)
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--csv", action="store_true", help="print CSV with a header line")
    output.add_argument("--json", action="store_true", help="print one JSON object per row")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from .._target import target_settings
    from ..sync import query
    from ..sync._sql import parse
    from ..tokens import TokenManager

    parse(args.query)  # a refused query needs no target, tokens or sync
    settings = target_settings(args.store, mode=args.mode, need_target=args.fresh is not None)
    accounts = [args.account] if args.account else None
    with TokenManager(settings) as tokens:
        table = query(
            settings,
            tokens,
            args.query,
            db=args.db,
            fresh=args.fresh,
            accounts=accounts,
            mode=args.mode,
            result="arrow",
        )
    if args.csv or args.json:
        _write_rows(table, as_json=args.json)
    else:
        _print_table(table)
    return 0


def _write_rows(table: Any, *, as_json: bool) -> None:
    names = list(table.column_names)
    rows = table.to_pylist()
    if as_json:
        for row in rows:
            print(json.dumps(row, default=str, ensure_ascii=False))
        return
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(names)
    for row in rows:
        writer.writerow(["" if row[n] is None else row[n] for n in names])


def _print_table(table: Any) -> None:
    import duckdb

    with duckdb.connect() as memory:
        relation = memory.from_arrow(table)
        print(relation.__str__().rstrip())
    print(f"({table.num_rows} row{'' if table.num_rows == 1 else 's'})")
