"""SQL in one call: the tables a query names are brought up to date, then it runs, read-only.

    frame = query(settings, tokens, "SELECT status, count(*) FROM charges GROUP BY 1")

1. DuckDB's own parser reads the query: one statement, a ``SELECT`` (the tables belong to the
   sync: ``DROP``, ``DELETE``, ``INSERT``, ``COPY``... are refused), and the tables it names
   (common table expressions are not tables). A table the toolkit does not load gets the list
   of those it does.
2. Each named table whose last sync of the account is older than ``fresh`` seconds (default
   5 minutes; the ``synced`` cursor the sync keeps with every load) is synced incrementally,
   those tables only. ``fresh=None`` never syncs.
3. The query runs on a read-only connection to the DuckDB file that cannot reach other files
   or the network. A sync that is loading holds the database: the query waits for it to finish
   and answers from that complete load, never from half of one (dlt merges each table in one
   transaction; DuckDB lets one process write a file, or several read it).

Errors are one line each (:class:`~stripe_oauth_nb._errors.QueryError`): DuckDB's message for a
syntax error or an unknown column, without its caret drawing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from .._errors import QueryError, SyncLockedError
from .._settings import Mode, Settings
from ._destination import DEFAULT_DB
from ._resources import TABLES, select

if TYPE_CHECKING:
    from ._report import SyncReport

__all__ = ["DEFAULT_FRESH", "LOCK_WAIT", "Query", "check_fresh", "parse", "query", "stale_tables"]

#: Seconds after which a table's last sync is old enough to sync again before a query.
DEFAULT_FRESH = 300.0
#: Seconds a query waits for a running sync to finish before giving up.
LOCK_WAIT = 600.0


@dataclass(frozen=True)
class Query:
    """A checked query: its text, and the resources whose tables it reads (a child table's
    parent), in the sync's order."""

    text: str
    tables: tuple[str, ...]


def _one_line(exc: Exception) -> str:
    """DuckDB's message without its ``LINE 1: ...`` and caret lines."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    kept = [line for line in lines if not line.startswith("LINE ") and set(line) != {"^"}]
    return " ".join(kept)[:500] or type(exc).__name__


def check_fresh(fresh: float | None) -> float | None:
    """``fresh`` if it is a number of seconds (0 or more) or None; else a clear error."""
    if fresh is None:
        return None
    try:
        value = float(fresh)
    except (TypeError, ValueError):
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise QueryError(
            f"fresh={fresh!r} is not a number of seconds: give 0 or more (e.g. 300, the default; "
            "0 syncs the tables first every time), or None never to sync before a query."
        )
    return value


def parse(sql: str) -> Query:
    """Check ``sql`` with DuckDB's parser: one read-only statement over the sync's tables."""
    import duckdb

    if not isinstance(sql, str) or not sql.strip():
        raise QueryError("The query is empty: give a SELECT, e.g. SELECT count(*) FROM charges.")
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise QueryError(f"{_one_line(exc)}. Fix the query and run it again.") from None
    if len(statements) != 1:
        raise QueryError(
            f"That is {len(statements)} statements; give one SELECT at a time."
            if statements
            else "The query has no statement: give a SELECT, e.g. SELECT count(*) FROM charges."
        )
    kind = statements[0].type
    if kind != duckdb.StatementType.SELECT:
        raise QueryError(
            f"Only SELECT queries run here, and this is {kind.name}: the tables belong to the "
            "sync, which would overwrite any change. Copy what you need into a database of "
            "your own (e.g. CREATE TABLE ... AS in duckdb.connect('mine.duckdb'))."
        )
    with duckdb.connect() as scratch:
        try:
            names = scratch.get_table_names(sql, qualified=False)
        except duckdb.Error as exc:
            raise QueryError(f"{_one_line(exc)}. Fix the query and run it again.") from None
    wanted: set[str] = set()
    unknown: list[str] = []
    for name in sorted(names):
        base = name.lower().split("__", 1)[0]  # dlt's child tables: charges__refunds
        if base in TABLES:
            wanted.add(base)
        elif not name.lower().startswith("_dlt_"):
            unknown.append(name)
    if unknown:
        raise QueryError(
            f"The sync loads no table named {', '.join(unknown)}. Its tables are: "
            f"{', '.join(TABLES)}."
        )
    # a child table (invoice_lines) is brought up to date with its parent resource (invoices)
    return Query(sql, tuple(r.name for r in select(wanted)) if wanted else ())


def stale_tables(
    db: str | Path | None,
    tables: Sequence[str],
    accounts: Sequence[tuple[str, bool]],
    fresh: float,
    *,
    now: float | None = None,
) -> list[str]:
    """The ``tables`` whose last sync of any of ``accounts`` (id, livemode) is older than
    ``fresh`` seconds, or that were never synced. A sync running now raises SyncLockedError."""
    import time

    from ._destination import open_destination
    from ._load import Loader

    now = time.time() if now is None else now
    stale: set[str] = set()
    with open_destination(db=db) as dest:
        loader = Loader(dest, dest.default_dataset)
        for account_id, livemode in accounts:
            cursors = loader.states(account_id, livemode)
            for table in tables:
                synced = cursors.get(table, {}).get("synced")
                if synced is None or now - float(synced) > fresh:
                    stale.add(table)
    return [t for t in tables if t in stale]


def query(
    settings: Settings,
    tokens: Any,
    sql: str,
    *,
    db: str | Path | None = None,
    fresh: float | None = DEFAULT_FRESH,
    accounts: Sequence[str] | Literal["all"] | None = None,
    mode: Mode | None = None,
    result: Literal["dataframe", "relation", "arrow"] = "dataframe",
    wait: float = LOCK_WAIT,
) -> Any:
    """Sync the tables ``sql`` names when older than ``fresh`` seconds, then run it read-only.

    ``accounts`` and ``mode`` are those of :func:`~stripe_oauth_nb.sync.sync` (which accounts
    are brought up to date; the query itself reads every row of the file). ``result``: a pandas
    DataFrame (default), a DuckDB relation (held in memory, so the file stays free for the next
    sync) or an Arrow table.
    """
    if result not in ("dataframe", "relation", "arrow"):
        raise QueryError(f"result={result!r} is not known: use 'dataframe', 'relation' or 'arrow'.")
    fresh = check_fresh(fresh)
    checked = parse(sql)
    path = Path(db or DEFAULT_DB).expanduser()
    if fresh is not None and checked.tables:
        refresh(
            settings, tokens, checked.tables, db=path, fresh=fresh, accounts=accounts, mode=mode
        )
    table = _read(path, checked, wait)
    if result == "arrow":
        return table
    import duckdb

    relation = duckdb.connect().from_arrow(table)  # in memory: nothing keeps the file open
    return relation if result == "relation" else relation.df()


def refresh(
    settings: Settings,
    tokens: Any,
    tables: Sequence[str],
    *,
    db: Path,
    fresh: float,
    accounts: Sequence[str] | Literal["all"] | None,
    mode: Mode | None,
) -> SyncReport | None:
    """Sync ``tables`` of ``accounts`` when their last sync is older than ``fresh`` seconds.

    None when nothing was due, or when another sync holds the database (the query then waits
    for that one). A refresh that fails is an error: an answer from old rows must not look new.
    """
    from ._sync import _token_sets, sync

    chosen = mode or settings.mode
    sets = _token_sets(tokens, accounts, mode if accounts == "all" else chosen)
    keys = [(t.account_id, t.livemode) for t in sets]
    try:
        due = stale_tables(db, tables, keys, fresh)
        if not due:
            return None
        ids: list[str] = [t.account_id for t in sets]
        report = sync(settings, tokens, db=db, resources=due, accounts=ids, mode=chosen)
    except SyncLockedError:
        return None
    if not report.ok:
        raise QueryError(
            f"The tables could not be brought up to date, so the query did not run: "
            f"{report.summary()} Fix that, or pass fresh=None (--fresh none) to query the rows "
            "as they are."
        )
    return report


def _connect(path: Path) -> Any:
    """A read-only connection that reaches no other file; when this process already holds the
    file open (a notebook's ``duckdb.connect``), a connection to that same database (DuckDB
    allows one configuration per file and process): the parser has let only a SELECT through."""
    import duckdb

    try:
        return duckdb.connect(str(path), read_only=True, config={"enable_external_access": False})
    except duckdb.ConnectionException as exc:
        if "different configuration" not in str(exc):
            raise
        return duckdb.connect(str(path))


def _read(path: Path, checked: Query, wait: float) -> Any:
    """Run the checked query on a read-only connection, once no sync is loading."""
    import duckdb
    from filelock import FileLock, Timeout

    if not path.is_file():
        raise QueryError(
            f"{path} does not exist yet: sync first (stripe-oauth-nb sync, or conn.sync()), or "
            "let the query do it (leave fresh at its default)."
        )
    lock = FileLock(str(path.with_name(path.name + ".sync-lock")), timeout=wait)
    try:
        lock.acquire()  # a sync loading now finishes first: no answer from half a load
    except Timeout:
        raise QueryError(
            f"A sync has been loading into {path} for more than {wait:g} s; run the query again "
            "when it is done."
        ) from None
    try:
        connection = _connect(path)
    except duckdb.Error as exc:
        raise QueryError(f"{path} cannot be read: {_one_line(exc)}") from None
    finally:
        lock.release()
    try:
        with connection:
            return connection.sql(checked.text).to_arrow_table()
    except duckdb.Error as exc:
        raise QueryError(f"{_one_line(exc)}. Fix the query and run it again.") from None
