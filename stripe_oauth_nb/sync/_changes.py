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

__all__ = ["Snapshot", "content_columns", "snapshot", "updated"]

#: Columns that say how a row was loaded, not what the object is.
BOOKKEEPING = frozenset({"_dlt_load_id", "_dlt_id", "_sync_seq", "_sync_deleted"})
_IN_BATCH = 500


@dataclass
class Snapshot:
    """The content hash of each row of one account's table (by id), and the columns hashed."""

    columns: list[str]
    hashes: dict[str, str]


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
) -> Snapshot:
    """Hashes of the rows of ``key`` (account, mode) with these ids (all its rows when None).

    ``columns`` are the ones to hash (those before a load, to compare with its after); a column
    present now but not in ``columns`` makes a row's hash differ where it holds a value.
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
    hashes: dict[str, str] = {}
    if ids is None:
        chunks: list[list[str]] = [[]]
    else:
        wanted = sorted(ids)
        chunks = [wanted[i : i + _IN_BATCH] for i in range(0, len(wanted), _IN_BATCH)]
    for chunk in chunks:
        query = base
        if chunk:
            query += f" AND id IN ({', '.join(['%s'] * len(chunk))})"
        for row in client.execute_sql(query, *key, *chunk) or []:
            hashes[str(row[0])] = str(row[1])
    return Snapshot(columns=hashed, hashes=hashes)


def updated(before: Snapshot, after: Snapshot) -> int:
    """How many rows exist before and after with different content."""
    return sum(
        1
        for object_id, digest in after.hashes.items()
        if object_id in before.hashes and before.hashes[object_id] != digest
    )
