"""Which rows a load changed: a hash of each row's content, before and after, in the database.

A load writes objects again that did not change (the object of an event read again, a pending
balance transaction read every run, every row of a full pass), so "rows written" is not "rows
updated". For the ids a load writes, the database hashes each existing row's content before and
after the load (``md5`` of the row as text, the same SQL in DuckDB and PostgreSQL); a row is
updated when both hashes exist and differ. Content is every column except the bookkeeping of dlt
(``_dlt_load_id``, ``_dlt_id``) and of the sync (``_sync_seq``: where the version came from,
``_sync_deleted``). A column the load adds counts as a change of the rows where it is not NULL.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from ._arrays import empty, text_columns
from ._idlists import id_filters

__all__ = ["Snapshot", "content_columns", "snapshot", "updated"]

#: Columns that say how a row was loaded, not what the object is.
BOOKKEEPING = frozenset({"_dlt_load_id", "_dlt_id", "_sync_seq", "_sync_deleted"})


@dataclass
class Snapshot:
    """The content hash of each row of one account's table, and the columns hashed: ``ids``
    and ``digests`` are Arrow string arrays of the same length (``_arrays``: a full pass over
    a large table holds no Python object per row)."""

    columns: list[str]
    ids: Any
    digests: Any


def content_columns(client: Any, table: str) -> list[str]:
    """The table's columns, without the bookkeeping ones, in the table's order."""
    with client.execute_query(f"SELECT * FROM {table} WHERE 1 = 0") as cursor:  # noqa: S608
        names = [str(d[0]) for d in cursor.description]
    return [name for name in names if name not in BOOKKEEPING]


def snapshot(
    client: Any,
    table: str,
    key: tuple[str, bool],
    ids: Collection[str] | None,
    columns: list[str] | None = None,
    *,
    arrays: bool = False,
) -> Snapshot:
    """Hashes of the rows of ``key`` (account, mode) with these ids (all its rows when None).

    ``columns`` are the ones to hash (those before a load, to compare with its after); a column
    present now but not in ``columns`` makes a row's hash differ where it holds a value.
    ``arrays``: the database takes the ids as one array parameter (``_idlists``).
    """
    present = content_columns(client, table)
    hashed = [c for c in (columns if columns is not None else present) if c in present]
    added = [c for c in present if c not in hashed]
    quote = client.escape_column_name
    content = f"md5(CAST(ROW({', '.join(quote(c) for c in hashed)}) AS VARCHAR))"
    if added:  # a new column with a value is a change; NULL is what the row had before
        filled = " OR ".join(f"{quote(c)} IS NOT NULL" for c in added)
        content = f"CASE WHEN {filled} THEN 'new column' ELSE {content} END"
    base = (
        f"SELECT id, {content} FROM {table} "  # noqa: S608
        "WHERE account_id = %s AND livemode = %s"
    )
    wanted = None if ids is None else sorted(ids)
    ids_found: list[Any] = []
    digests_found: list[Any] = []
    for condition, values in id_filters("id", wanted, arrays=arrays):
        found_ids, found_digests = text_columns(client, base + condition, *key, *values, width=2)
        ids_found.append(found_ids)
        digests_found.append(found_digests)
    import pyarrow as pa

    if not ids_found:  # no ids asked about
        return Snapshot(hashed, empty(), empty())
    return Snapshot(hashed, pa.concat_arrays(ids_found), pa.concat_arrays(digests_found))


def updated(before: Snapshot, after: Snapshot) -> int:
    """How many rows exist before and after with different content."""
    import pyarrow.compute as pc

    # each row's hash from before, by id (null where the row is new): a hash lookup, no join
    # engine (pyarrow's costs about 14 ms a call, and most loads are a few rows)
    then = before.digests.take(pc.index_in(after.ids, value_set=before.ids))
    return int(pc.sum(pc.not_equal(after.digests, then)).as_py() or 0)
