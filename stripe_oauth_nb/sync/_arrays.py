"""Query results as Arrow string arrays, fetched a chunk of rows at a time.

A full pass compares every row of an account's table with what it read (which ids are gone,
which rows changed). Held as Python objects (a tuple per row, a string per value, a set or dict
slot each) that costs a few hundred bytes a row, all at once: hundreds of MB for a table of a
million rows. Held as Arrow arrays it is the bytes of the values plus a few per row, and only
:data:`FETCH` rows are Python objects at any moment.
"""

from __future__ import annotations

from typing import Any

__all__ = ["FETCH", "empty", "text_columns"]

#: Rows turned into Python objects at a time.
FETCH = 5_000


def empty() -> Any:
    """An empty Arrow string array."""
    import pyarrow as pa

    return pa.array([], pa.string())


def text_columns(client: Any, query: str, *args: Any, width: int) -> list[Any]:
    """The ``width`` columns of ``query``'s rows (run with ``args`` on a dlt SQL client), each
    as one Arrow string array (values as text; NULL stays null)."""
    import pyarrow as pa

    chunks: list[list[Any]] = [[] for _ in range(width)]
    with client.execute_query(query, *args) as cursor:
        for rows in cursor.iter_fetch(FETCH):
            for i, found in enumerate(chunks):
                values = [None if row[i] is None else str(row[i]) for row in rows]
                found.append(pa.array(values, pa.string()))
    return [pa.concat_arrays(c) if c else empty() for c in chunks]
