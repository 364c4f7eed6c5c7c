"""Arrow tables with every bookkeeping column, so dlt imports their Parquet file as it is.

dlt's normalize step compares each Parquet file the extract step wrote with the table's schema
(the same columns, in the same order); when they differ it reads the whole file back and writes
it again. Two columns made every load differ:

- ``_sync_deleted`` is only in a batch that deletes something, so a load without deletions
  lacked it (the extract step adds it, at its place in the schema);
- ``_dlt_load_id``, which dlt fills with the load's id, was appended at the end by the extract
  step, while the schema has it where the table first got it, before ``_sync_deleted``.

A batch that carries both (nulls, of their types) keeps its columns where the schema has them:
the extract step orders the columns as the schema does and replaces ``_dlt_load_id`` in place.
The second Parquet copy of every row loaded is gone (0.3 to 1 ms of CPU per 100 charges in
``bench/bench_page.py``). Values are never changed; whatever else differs, dlt still finds and
rewrites.
"""

from __future__ import annotations

from typing import Any

from ._spill import DELETED

__all__ = ["LOAD_ID", "with_bookkeeping"]

#: The column dlt fills with the load's id (``normalize.parquet_normalizer.add_dlt_load_id``).
LOAD_ID = "_dlt_load_id"


def with_bookkeeping(table: Any) -> Any:
    """``table`` (Arrow) with ``_sync_deleted`` and ``_dlt_load_id`` added as nulls when
    missing."""
    import pyarrow as pa

    for name, kind in ((DELETED, pa.bool_()), (LOAD_ID, pa.string())):
        if name not in table.column_names:
            table = table.append_column(pa.field(name, kind), pa.nulls(table.num_rows, kind))
    return table
