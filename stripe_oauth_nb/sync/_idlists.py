"""Conditions that pick many ids in one query, where the database takes a list as one value.

A load asks the database about the ids it writes: their rows' content before and after (which
rows changed), how many of those it deletes exist, which children its parents have. Asked as
``id IN (%s, %s, ...)`` lists of :data:`IN_BATCH` ids, a load of 60,000 objects is 120 queries,
and each reads every row of the account's table: the cost grew with the batch times the table.
DuckDB and PostgreSQL take the ids as one array parameter (``CAST(%s AS TEXT[])``, the same SQL
in both), which they join by hashing: one query, one read of the table. Any other dlt
destination keeps the lists, the SQL every database understands.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["IN_BATCH", "id_filters", "takes_arrays"]

#: Ids in one ``IN`` list, where the database is not known to take an array parameter.
IN_BATCH = 500
#: dlt destination types (the last part of ``destination_type``) that take an array parameter.
_ARRAYS = frozenset({"duckdb", "postgres"})


def takes_arrays(pipeline: Any) -> bool:
    """Whether the dlt pipeline's destination takes a list of ids as one array parameter."""
    kind = str(getattr(pipeline.destination, "destination_type", ""))
    return kind.rsplit(".", 1)[-1] in _ARRAYS


def id_filters(
    column: str, ids: Sequence[str] | None, *, arrays: bool
) -> list[tuple[str, list[Any]]]:
    """SQL conditions (each with its parameters) that together pick the rows whose ``column``
    is one of ``ids``: one when the database takes ``arrays``, else one per :data:`IN_BATCH`
    ids; none for no ids; one that picks every row (empty) for None. Each starts with
    `` AND``, to follow a ``WHERE``."""
    if ids is None:
        return [("", [])]
    if not ids:
        return []
    if arrays:
        return [(f" AND {column} IN (SELECT unnest(CAST(%s AS TEXT[])))", [list(ids)])]
    found: list[tuple[str, list[Any]]] = []
    for start in range(0, len(ids), IN_BATCH):
        chunk = list(ids[start : start + IN_BATCH])
        found.append((f" AND {column} IN ({', '.join(['%s'] * len(chunk))})", chunk))
    return found
