"""Rows of one resource on their way to the database: Arrow batches spilled to disk.

Pages arrive from many threads; :class:`Spill` turns them into rows (top-level fields as
columns, nested objects and lists as JSON text, the account and mode added), gathers them into
Arrow batches and writes each batch to an Arrow IPC file, so memory holds at most one batch per
resource whatever the number of objects. When the resource is complete, :meth:`Spill.tables`
reads the batches back (memory-mapped) for dlt, which loads Arrow tables several times faster
than Python dictionaries (see the README's figures).
"""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow

__all__ = ["DELETED", "SEQ", "Spill", "to_row", "tombstone"]

#: Column flagging a row that deletes the object (dlt's ``hard_delete``); never stored.
DELETED = "_sync_deleted"
#: Column ordering two versions of one object in one load (dlt's ``dedup_sort``): the list's
#: version (1) wins over an event's (0).
SEQ = "_sync_seq"
#: Rows per Arrow batch (one file each).
BATCH_ROWS = 2000


def to_row(
    obj: Mapping[str, Any], account_id: str, livemode: bool, seq: int, json_names: set[str]
) -> dict[str, Any]:
    """One table row: scalars as they are, nested objects and lists as JSON text (their names
    are added to ``json_names``)."""
    import orjson  # the sql extra (sync() checks it is there)

    row: dict[str, Any] = {}
    for name, value in obj.items():
        if isinstance(value, dict | list):
            row[name] = orjson.dumps(value).decode()
            json_names.add(name)
        else:
            row[name] = value
    row["account_id"] = account_id
    row["livemode"] = livemode
    row[SEQ] = seq
    return row


def tombstone(object_id: str, account_id: str, livemode: bool) -> dict[str, Any]:
    """A row that deletes the object from the table when loaded."""
    return {"id": object_id, "account_id": account_id, "livemode": livemode, SEQ: 0, DELETED: True}


def _column(values: list[Any]) -> tuple[pyarrow.Array, bool]:
    """An Arrow column; values Arrow cannot type together become JSON text (and say so)."""
    import pyarrow as pa

    try:
        return pa.array(values), False
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        text = [None if v is None else json.dumps(v, separators=(",", ":")) for v in values]
        return pa.array(text, type=pa.string()), True


class Spill:
    """The rows of one (account, mode, resource), batched into Arrow files under ``folder``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        self._lock = threading.Lock()
        self._rows: list[dict[str, Any]] = []
        self._files: list[Path] = []
        #: Columns holding JSON text (nested objects), for the table's column types.
        self.json_columns: set[str] = set()
        self.rows = 0
        self.deletes = 0

    def add(
        self, objects: Sequence[Mapping[str, Any]], account_id: str, livemode: bool, seq: int
    ) -> None:
        """Add Stripe objects as rows (thread-safe); a full batch is written out."""
        names: set[str] = set()
        rows = [to_row(obj, account_id, livemode, seq, names) for obj in objects]
        self._append(rows, names, deletes=0)

    def delete(self, object_ids: list[str], account_id: str, livemode: bool) -> None:
        """Add rows that delete these objects."""
        rows = [tombstone(i, account_id, livemode) for i in object_ids]
        self._append(rows, set(), deletes=len(rows))

    def _append(self, rows: list[dict[str, Any]], names: set[str], *, deletes: int) -> None:
        full: list[dict[str, Any]] | None = None
        with self._lock:
            self._rows.extend(rows)
            self.json_columns |= names
            self.rows += len(rows) - deletes
            self.deletes += deletes
            if len(self._rows) >= BATCH_ROWS:
                full, self._rows = self._rows, []
        if full is not None:
            self._write(full)

    def close(self) -> None:
        """Write the last partial batch."""
        with self._lock:
            rest, self._rows = self._rows, []
        if rest:
            self._write(rest)

    def _write(self, rows: list[dict[str, Any]]) -> None:
        import pyarrow as pa

        names = dict.fromkeys(rows[0])  # the rows of a resource mostly share their fields
        names.update(dict.fromkeys(set().union(*rows) - names.keys()))
        columns: dict[str, pa.Array] = {}
        as_text: set[str] = set()
        for name in names:
            columns[name], mixed = _column([row.get(name) for row in rows])
            if mixed:
                as_text.add(name)
        table = pa.table(columns)
        with self._lock:
            path = self.folder / f"part-{len(self._files):06d}.arrow"
            self._files.append(path)
            self.json_columns |= as_text
        with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table)

    def tables(self) -> Iterator[pyarrow.Table]:
        """The batches, one Arrow table each (memory-mapped from disk)."""
        import pyarrow as pa

        for path in list(self._files):
            with pa.memory_map(str(path)) as source:
                yield pa.ipc.open_file(source).read_all()

    def ids(self) -> set[str]:
        """Every object id in the batches (for a full pass over a table that has rows)."""
        import pyarrow as pa

        found: set[str] = set()
        for path in list(self._files):
            with pa.memory_map(str(path)) as source:
                table = pa.ipc.open_file(source).read_all()
                found.update(str(v) for v in table.column("id").to_pylist())
        return found

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
