"""Rows of one resource on their way to the database: batches spilled to disk.

Pages arrive from many threads; :class:`Spill` turns them into rows (top-level fields as
columns, nested objects and lists as JSON text, the account and mode added) and appends them to
JSON-lines files of :data:`BATCH_ROWS` rows, so memory holds a page, not a resource, whatever the
number of objects. The files are compressed (Zstandard, by Arrow's codec): writing a tenth of the
bytes costs less CPU than writing them plain, and reading them back too (see the README). When
the resource is complete, :meth:`Spill.tables` reads the files back as
Arrow tables, one at a time, for dlt, which loads Arrow tables several times faster than Python
dictionaries (see the README's figures). The folders are 0700 and the files 0600 whatever the
umask (``_privacy``); the files are deleted as soon as their rows are loaded.
"""

from __future__ import annotations

import json
import shutil
import threading
from array import array
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from .._errors import StripeOAuthNBError
from ._disk import DiskBudget, is_disk_full
from ._privacy import private_folder, private_opener

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow

__all__ = ["DELETED", "SEQ", "Spill", "to_row", "tombstone"]

#: Column flagging a row that deletes the object (dlt's ``hard_delete``); never stored.
DELETED = "_sync_deleted"
#: Column ordering versions of one object in one load (dlt's ``dedup_sort``, highest wins): a
#: list's version wins over any event's, a newer event's over an older one's.
SEQ = "_sync_seq"
#: Rows per Arrow batch (one file each).
BATCH_ROWS = 2000
#: How the batch files are compressed (an Arrow codec; None: plain, for a benchmark's comparison).
CODEC: str | None = "zstd"


def to_row(
    obj: Mapping[str, Any], account_id: str, livemode: bool, seq: int, json_names: set[str]
) -> dict[str, Any]:
    """One table row: scalars as they are, nested objects and lists as JSON text (their names
    are added to ``json_names``).

    Objects come from a JSON decoder, so a nested value is exactly a ``dict`` or a ``list``
    (the class is compared, not ``isinstance``: this runs for every field of every object).
    """
    import orjson  # the sql extra (sync() checks it is there)

    row = dict(obj)
    nested = [name for name, value in obj.items() if value.__class__ in _NESTED]
    if nested:
        json_names.update(nested)
        dumps = orjson.dumps
        for name in nested:
            row[name] = dumps(row[name]).decode()
    row["account_id"] = account_id
    row["livemode"] = livemode
    row[SEQ] = seq
    return row


#: The classes a JSON decoder gives nested values.
_NESTED = (dict, list)


def tombstone(object_id: str, account_id: str, livemode: bool, seq: int) -> dict[str, Any]:
    """A row that deletes the object from the table when loaded."""
    return {
        "id": object_id,
        "account_id": account_id,
        "livemode": livemode,
        SEQ: seq,
        DELETED: True,
    }


def _column(values: list[Any]) -> tuple[pyarrow.Array, bool]:
    """An Arrow column; values Arrow cannot type together become JSON text (and say so)."""
    import pyarrow as pa

    try:
        return pa.array(values), False
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        text = [None if v is None else json.dumps(v, separators=(",", ":")) for v in values]
        return pa.array(text, type=pa.string()), True


class Spill:
    """The rows of one (account, mode, resource), as compressed JSON lines, a file per batch.

    Rows are written as they come (nested values already JSON text), so memory holds no more
    than a page and a hash of each id; :meth:`tables` reads each file back as an Arrow table
    with pyarrow's JSON reader (C++, outside the interpreter lock), one batch at a time.
    """

    def __init__(self, folder: Path, budget: DiskBudget | None = None) -> None:
        self.folder = folder
        self._budget = budget
        shutil.rmtree(folder, ignore_errors=True)
        private_folder(folder)
        self._lock = threading.Lock()
        self._handle: pyarrow.NativeFile | None = None
        self._raw: BinaryIO | None = None  # the file under the compressing stream
        self._in_file = 0
        self._files: list[Path] = []
        #: Columns holding JSON text (nested objects), for the table's column types.
        self.json_columns: set[str] = set()
        self.rows = 0
        self.deletes = 0
        #: A hash of the id of every row written, 8 bytes a row (:meth:`unique_ids`).
        self._hashes = array("q")
        #: Why rows are missing from the files (a full disk): the spill is not to be loaded.
        self.error: StripeOAuthNBError | None = None

    def add(
        self,
        objects: Sequence[Mapping[str, Any]],
        account_id: str,
        livemode: bool,
        seq: int | Sequence[int],
    ) -> None:
        """Add Stripe objects as rows (thread-safe); ``seq``: one for all, or one per object."""
        names: set[str] = set()
        seqs = [seq] * len(objects) if isinstance(seq, int) else seq
        rows = [
            to_row(obj, account_id, livemode, n, names)
            for obj, n in zip(objects, seqs, strict=True)
        ]
        self._append(rows, names, deletes=0)

    def delete(
        self,
        object_ids: Sequence[str],
        account_id: str,
        livemode: bool,
        seq: int | Sequence[int] = 0,
    ) -> None:
        """Add rows that delete these objects."""
        seqs = [seq] * len(object_ids) if isinstance(seq, int) else seq
        rows = [
            tombstone(i, account_id, livemode, n) for i, n in zip(object_ids, seqs, strict=True)
        ]
        self._append(rows, set(), deletes=len(rows))

    def _append(self, rows: list[dict[str, Any]], names: set[str], *, deletes: int) -> None:
        import orjson

        if not rows:
            return
        lines = [orjson.dumps(row) for row in rows]
        lines.append(b"")
        data = b"\n".join(lines)
        hashes = [hash(row.get("id")) for row in rows]
        with self._lock:
            try:
                if self._handle is None or self._in_file >= BATCH_ROWS:
                    self._rotate()
                assert self._handle is not None
                self._handle.write(data)
            except OSError as exc:
                raise self._failed(exc) from None
            self.json_columns |= names
            self.rows += len(rows) - deletes
            self.deletes += deletes
            self._in_file += len(rows)
            self._hashes.extend(hashes)

    def _rotate(self) -> None:
        self._finish()
        import pyarrow as pa

        suffix = {"zstd": ".zst", "gzip": ".gz"}.get(CODEC, f".{CODEC}") if CODEC else ""
        path = self.folder / f"part-{len(self._files):06d}.jsonl{suffix}"
        self._files.append(path)
        self._raw = open(path, "wb", buffering=0, opener=private_opener)  # noqa: SIM115
        self._handle = (
            pa.CompressedOutputStream(self._raw, CODEC)
            if CODEC
            else pa.PythonFile(self._raw, mode="w")
        )
        self._in_file = 0

    def _finish(self) -> None:
        """Close the current file, if any: its last rows reach the disk here (OSError if not)."""
        handle, raw = self._handle, self._raw
        self._handle = self._raw = None
        try:
            if handle is not None:
                handle.close()
        finally:
            if raw is not None:
                raw.close()

    def close(self) -> None:
        """Finish the current file (more rows may still be added: they start a new one)."""
        with self._lock:
            self._in_file = BATCH_ROWS
            try:
                self._finish()
            except OSError as exc:
                self._failed(exc)

    def _failed(self, exc: OSError) -> StripeOAuthNBError:
        """Rows that could not be written: the spill is incomplete, and must not be loaded."""
        error: StripeOAuthNBError
        if self._budget is not None and is_disk_full(exc):
            error = self._budget.full("writing the objects read")
        else:
            error = StripeOAuthNBError(
                f"The rows read could not be written to {self.folder} ({exc.strerror or exc}): "
                "fix the cause and sync again; nothing of this table was loaded."
            )
        if self.error is None:
            self.error = error
        return error

    def tables(self) -> Iterator[pyarrow.Table]:
        """The batches, one Arrow table each."""
        for path in list(self._files):
            yield _read(path)

    def ids(self) -> set[str]:
        """Every object id in the batches (a few: see :meth:`id_array` for a full pass)."""
        return {str(v) for v in self.id_array().to_pylist()}

    def id_array(self) -> pyarrow.Array:
        """Every object id in the batches, as one Arrow string array: a full pass over a large
        table holds its ids in a few dozen bytes each, where a Python set takes over a hundred."""
        import pyarrow as pa

        from ._arrays import empty

        chunks = [c for t in self.tables() for c in t.column("id").cast(pa.string()).chunks]
        return pa.concat_arrays(chunks) if chunks else empty()

    def unique_ids(self) -> bool:
        """True when no two rows of the batches (rows that delete included) have the same id.

        Told by the ids' hashes, kept as the rows were written (the files are not read again,
        and 8 bytes a row stay in memory, not the ids): two ids with one hash make it False,
        which is always safe (the load then numbers the versions of each id, ``_load``)."""
        import pyarrow as pa
        import pyarrow.compute as pc

        with self._lock:  # Arrow reads the hashes where they are, without a copy
            count = len(self._hashes)
            hashes = pa.Array.from_buffers(pa.int64(), count, [None, pa.py_buffer(self._hashes)])
            distinct = pc.count_distinct(hashes).as_py()
            del hashes  # let go of the buffer before a writer may extend it
        return bool(distinct == count)

    def remove(self) -> None:
        self.close()
        self._hashes = array("q")
        shutil.rmtree(self.folder, ignore_errors=True)


#: Bytes pyarrow's JSON reader takes at once (a batch file fits in one, so types are inferred
#: over the whole batch).
_BLOCK = 64 << 20


def _read(path: Path) -> pyarrow.Table:
    """One batch file as an Arrow table; values the JSON reader cannot type together (a field
    that is a number in one object and text in another) are read column by column instead."""
    import pyarrow as pa
    import pyarrow.json as pj

    try:
        with pa.input_stream(str(path), compression=CODEC) as stream:
            return pj.read_json(stream, read_options=pj.ReadOptions(block_size=_BLOCK))
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        pass
    import orjson

    with pa.input_stream(str(path), compression=CODEC) as stream:
        data = stream.read()
    rows = [orjson.loads(line) for line in data.splitlines() if line.strip()]
    names = dict.fromkeys(rows[0]) if rows else {}
    names.update(dict.fromkeys(set().union(*rows) - names.keys()))
    return pa.table({name: _column([row.get(name) for row in rows])[0] for name in names})
