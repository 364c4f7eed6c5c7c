"""Load resources of one account into their tables with dlt; keep their cursors in dlt's state.

Each (account, mode) is one dlt pipeline; each resource is one of its dlt resources with its own
state. Every pipeline's dlt schema has one name, :data:`SCHEMA_NAME`, as its tables are the
dataset's, shared by the accounts. dlt stores a copy of a schema (about 30 KB of JSON) in
``_dlt_version`` whenever its content is new under its name: a name per account stored one per
account, which DuckDB rewrote at every checkpoint, a spike that grew with the number of accounts
(see the README); one name stores one copy per distinct content.

Resources are loaded as soon as they are read, while the others are still being read (several
that are ready together share one load):

- each table is ``merge`` (``delete-insert``) on ``(id, account_id, livemode)``; dlt runs a
  table's delete and insert in one transaction, so readers see a resource before or after a
  load, never half of it, and never a row twice;
- rows that delete an object carry ``_sync_deleted`` (dlt's ``hard_delete``), so deletions are
  applied in the same transaction; ``_sync_seq`` (dlt's ``dedup_sort``) makes the list's version
  of an object win over an event's in one load;
- a child table (``invoice_lines``) replaces the children of every parent read in the run: rows
  of the newest version of each parent are kept (:class:`Children`), and the parent's other rows
  in the table are deleted in the same load; a full pass deletes every child whose parent was
  not read, except the children of parents left out because their lists could not be read whole;
- the cursors (newest ``created`` read, newest event seen) are the resource's dlt state, which
  dlt writes into the database with the load: a load killed at any point is aborted by the next
  run, whose cursors are then the database's, so its rows are read again;
- a table's first load for an account, when it has one row per id and deletes nothing, is
  appended to the table without dlt's staging copy and merge (:func:`_writes`), which is the
  same rows for about two thirds of the CPU and half the bytes written (see the README).

After every load the completed package (a Parquet copy of every row loaded) is deleted, and what
dlt wrote is made owner-only (``_privacy``): the work folder keeps dlt's state, schemas and
pending packages only, so it does not grow with the number of runs.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .._errors import DestinationError
from ._arrays import empty, text_columns
from ._changes import Snapshot, snapshot, updated
from ._destination import Destination
from ._disk import DiskBudget, is_disk_full
from ._dltconfig import prepare
from ._idlists import id_filters, takes_arrays
from ._layout import with_bookkeeping
from ._privacy import FILE_MODE, clean_work_folder, duckdb_wal, private_folder, tighten
from ._spill import DELETED, SEQ, Spill

if TYPE_CHECKING:  # pragma: no cover
    import dlt

__all__ = ["SCHEMA_NAME", "Batch", "Children", "Counts", "Loader", "pipeline_name"]

PRIMARY_KEY = ("id", "account_id", "livemode")
#: The dlt schema (and source) name of every account's pipeline. Pipelines loaded before it
#: have their account's pipeline name instead; their cursors are read from both (:meth:`states`).
SCHEMA_NAME = "stripe"


def pipeline_name(account_id: str, livemode: bool) -> str:
    return f"stripe_{account_id.lower()}_{'live' if livemode else 'test'}"


@dataclass(frozen=True)
class Children:
    """What a child table's batch replaces.

    ``newest``: parent id -> ``_sync_seq`` of the parent's newest version read in the run (its
    rows are kept, the parent's other rows deleted); ``skip``: parents left out because a list
    could not be read whole (their rows stay as they are, even in a full pass).
    """

    parent: str
    newest: Mapping[str, int]
    skip: frozenset[str] = frozenset()


@dataclass
class Batch:
    """One table ready to load: its rows, the cursors to keep, whether it was a full pass.

    ``keep``: ids a full pass must not delete though it did not read them (objects left out
    for a next run); ``children``: set for a child table.
    """

    resource: str
    spill: Spill
    cursors: Mapping[str, Any]
    full: bool
    keep: frozenset[str] = frozenset()
    children: Children | None = field(default=None)


@dataclass
class Counts:
    """What one load did to one account's rows of one table."""

    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    rows: int = 0


def _configure_dlt() -> None:
    """Quiet logs (dlt warns about columns that are empty so far, which is expected here), the
    load id on Arrow rows, and no extra round trips; telemetry off (``_dltconfig``)."""
    prepare()
    import dlt

    dlt.config["runtime.log_level"] = "ERROR"
    dlt.config["normalize.parquet_normalizer.add_dlt_load_id"] = True
    dlt.config["normalize.workers"] = 1
    # the staging copies of a load are emptied once it is merged (not kept in the database)
    dlt.config["load.truncate_staging_dataset"] = True
    # each load writes the pipeline's state (the cursors) into the database with its rows
    # (dlt's _dlt_pipeline_state), where states() finds it on a new machine; dlt's own restore
    # before a step is run()'s only, which the sync does not call (states() restores instead)
    dlt.config["restore_from_destination"] = True
    # a loaded package's data files go at once (tidy() removes the rest of the package)
    dlt.config["load.delete_completed_jobs"] = True


class Loader:
    """dlt pipelines for one destination and dataset."""

    def __init__(self, destination: Destination, dataset: str) -> None:
        _configure_dlt()
        self.destination = destination
        self.dataset = dataset
        self.pipelines_dir = private_folder(destination.work_dir / "pipelines")
        self._pipelines: dict[tuple[str, bool], dlt.Pipeline] = {}
        #: The run's disk budget: a load refused for want of space names the MB to free.
        self.budget: DiskBudget | None = None

    def pipeline(self, account_id: str, livemode: bool) -> dlt.Pipeline:
        """The dlt pipeline of (account, mode), made once per loader: making one resolves its
        configuration and restores its state from the work folder, a good part of a second."""
        import dlt

        key = (account_id, livemode)
        if key in self._pipelines:
            return self._pipelines[key]
        pipeline = dlt.pipeline(
            pipeline_name=pipeline_name(account_id, livemode),
            destination=self.destination.dlt_destination,
            dataset_name=self.dataset,
            pipelines_dir=str(self.pipelines_dir),
        )
        logging.getLogger("dlt").setLevel(logging.ERROR)  # dlt sets it up on first use
        tighten(self.pipelines_dir)  # the folders and state dlt just made with the umask
        self._pipelines[key] = pipeline
        return pipeline

    def forget(self, account_id: str, livemode: bool) -> None:
        """Let go of the account's pipeline (its state and schemas) once it is done."""
        self._pipelines.pop((account_id, livemode), None)

    def states(
        self, account_id: str, livemode: bool, *, fresh: bool = False
    ) -> dict[str, dict[str, Any]]:
        """Each resource's cursors from its last load (absent when never loaded).

        The pipeline's local state is used when there is one and no package is pending;
        otherwise dlt restores it from the database (a new machine, a deleted work folder).
        A package this machine left unloaded or half loaded (a killed run) is aborted, never
        loaded again: its rows are read again from the cursors the database holds (a load
        whose rows were appended, ``_writes``, would put them in twice). ``fresh`` (other
        processes load into the same destination): the database is the truth, always.
        """
        pipeline = self.pipeline(account_id, livemode)
        pending = pipeline.has_pending_data
        if fresh or pending or not pipeline.state.get("sources"):
            try:
                if pending:
                    pipeline.abort_packages()  # and restores the state from before them
                pipeline.sync_destination()
            except Exception as exc:
                raise self._failed("read the sync state from", exc) from None
        sources = pipeline.state.get("sources", {})
        resources = {  # a resource loaded since the schema got its shared name: its state wins
            **sources.get(pipeline.pipeline_name, {}).get("resources", {}),
            **sources.get(SCHEMA_NAME, {}).get("resources", {}),
        }
        return {
            name: dict(state.get("cursors", {}))
            for name, state in resources.items()
            if state.get("cursors")
        }

    def oldest_unsettled(
        self, account_id: str, livemode: bool, resource: str, status: str
    ) -> int | None:
        """``created`` of the oldest row of (account, mode) whose ``status`` is ``status``."""
        pipeline = self.pipeline(account_id, livemode)
        try:
            with _Counter(pipeline, (account_id, livemode)) as counter:
                return counter.oldest(resource, status)
        except Exception as exc:
            raise self._failed("read", exc) from None

    def load(self, account_id: str, livemode: bool, batches: list[Batch]) -> dict[str, Counts]:
        """Load the batches as one package (one transaction per table); the counts per table."""
        import dlt

        pipeline = self.pipeline(account_id, livemode)
        key = (account_id, livemode)
        before: dict[str, tuple[int, int]] = {}
        hashes: dict[str, Snapshot] = {}
        exists: set[str] = set()
        writes: dict[str, tuple[Any, bool]] = {}
        try:
            with _Counter(pipeline, key) as counter:
                for batch in batches:
                    table = batch.resource
                    rows = counter.rows(table)
                    gone = _gone(counter, batch) if rows else []
                    if gone:
                        batch.spill.delete(gone, account_id, livemode)
                        batch.spill.close()
                    if batch.spill.error is not None:  # never load part of a table
                        raise batch.spill.error
                    before[table] = (rows, counter.existing(table, _tombstones(batch.spill)))
                    if counter.exists(table):  # an empty batch then costs no dlt table job
                        exists.add(table)
                    old = counter.snapshot(table, None if batch.full else batch) if rows else None
                    if old is not None:  # the content of the rows this load may write again
                        hashes[table] = old
                    appends = self.destination.appends_first_loads and not rows
                    writes[table] = _writes(batch, appends=appends)
            try:
                # run()'s steps one by one: the load alone waits for other processes' loads
                pipeline.extract(
                    [_resource(b, *writes[b.resource], b.resource in exists) for b in batches],
                    schema=dlt.Schema(SCHEMA_NAME),  # dlt continues the pipeline's own copy
                )
                pipeline.normalize()
                rows = sum(b.spill.rows + b.spill.deletes for b in batches)
                with self.destination.loading(rows) as workers:
                    if workers is None:
                        pipeline.load()
                    else:
                        pipeline.load(workers=workers)
            finally:
                self.tidy()
            counts: dict[str, Counts] = {}
            with _Counter(pipeline, key) as counter:
                counter.prune_states(pipeline.pipeline_name)
                for batch in batches:
                    after = counter.rows(batch.resource)
                    rows, deleted = before[batch.resource]
                    old = hashes.get(batch.resource)
                    changed = 0 if old is None else counter.changed(batch, old)
                    counts[batch.resource] = Counts(
                        inserted=max(after - rows + deleted, 0),
                        updated=changed,
                        deleted=deleted,
                        rows=after,
                    )
        except DestinationError:
            raise
        except Exception as exc:
            if self.budget is not None and is_disk_full(exc):
                raise self.budget.full(f"loading into {self.destination.description}") from None
            raise self._failed("load into", exc) from None
        return counts

    def tidy(self) -> None:
        """Delete completed load packages; make what dlt and DuckDB wrote owner-only."""
        clean_work_folder(self.pipelines_dir)
        tighten(self.pipelines_dir)
        db = self.destination.db_path
        if db is not None:  # DuckDB makes its write-ahead log with the umask
            with contextlib.suppress(FileNotFoundError):
                duckdb_wal(db).chmod(FILE_MODE)

    def _failed(self, what: str, exc: Exception) -> DestinationError:
        reason = exc
        while getattr(reason, "__cause__", None) is not None:
            reason = reason.__cause__  # type: ignore[assignment]
        text = self.destination.scrub(f"{type(reason).__name__}: {reason}")
        if _caused_by(exc, _OUT_OF_MEMORY):  # before the connection test: DuckDB's is one too
            return DestinationError(
                f"{self.destination.description} ran out of memory while the sync loaded "
                f"({text}). What was loaded before is unchanged; sync again with fewer accounts "
                "at once (--parallel 1) or with more memory free."
            )
        if _caused_by(exc, _CONNECTION_LOST):
            return DestinationError(
                f"Lost the connection to {self.destination.description} ({text}): the server "
                "restarted or went away. What was loaded before is unchanged; try again (sync "
                "again once it is back: this account is read again from where it was)."
            )
        return DestinationError(
            f"Could not {what} {self.destination.description}: {text}. What was loaded before "
            "is unchanged; fix the cause and sync again (an interrupted load is finished first)."
        )


#: Exception class names of a database connection lost or refused (dlt's transient errors,
#: the drivers' operational and interface errors).
_CONNECTION_LOST = frozenset({"DatabaseTransientException", "OperationalError", "InterfaceError"})
#: ... and of a database out of memory (DuckDB past its memory limit, PostgreSQL's 53200).
_OUT_OF_MEMORY = frozenset({"OutOfMemoryException", "OutOfMemory"})


def _caused_by(exc: BaseException, names: frozenset[str]) -> bool:
    """True when ``exc`` or an exception it came from is of a class (or subclass) named in
    ``names``."""
    seen: BaseException | None = exc
    while seen is not None:
        if names & {k.__name__ for k in type(seen).__mro__}:
            return True
        seen = seen.__cause__ or seen.__context__
    return False


#: dlt's write disposition of a table: replace the rows of the ids loaded (in one transaction).
MERGE = {"disposition": "merge", "strategy": "delete-insert"}
#: dlt's table hint that the merge's rows have one row per key (``deduplicated`` in the merge's
#: write disposition, which dlt only ever sets, never clears: given here both ways).
DEDUPLICATED = "x-stage-data-deduplicated"


def _writes(batch: Batch, *, appends: bool) -> tuple[Any, bool]:
    """How dlt writes the batch: its write disposition, and whether the rows are declared to
    have one row per id.

    dlt's merge copies the rows into a staging table, numbers the versions of each id to keep
    the newest (a window over the whole load, which DuckDB materialises), deletes the ids from
    the table, and inserts. When no two rows of the batch share an id (``Spill.unique_ids``,
    the rows that delete included), there is nothing to number: the merge is told so. When,
    besides, nothing is deleted and the account has no row in the table (``appends``: its first
    load, where the destination allows it) there is nothing to delete either: the rows are
    appended to the table as they are, the merge's result without its staging copy.
    """
    unique = batch.spill.unique_ids()
    if unique and appends and not batch.spill.deletes:
        return "append", False
    return MERGE, unique


def _resource(batch: Batch, write: Any, unique: bool, exists: bool = False) -> Any:
    """The dlt resource of one batch: its Arrow tables, then its new cursors into dlt's state.

    A batch with no rows yields nothing when its table ``exists`` already (only its cursors
    change): each table in a dlt load costs a file, a load job and a merge of its own, and most
    of a small account's tables have no row (a thousand small accounts spent half their loads'
    time on empty tables)."""
    import dlt

    def rows() -> Iterator[Any]:
        empty = True
        for table in _tables(batch):
            empty = False
            yield with_bookkeeping(table)
        if empty and not exists:  # no objects (yet): the table is made, with its key columns
            yield _empty_table(batch.children.parent if batch.children else None)
        dlt.current.resource_state()["cursors"] = dict(batch.cursors)

    columns: dict[str, Any] = {
        name: {"data_type": "json"} for name in sorted(batch.spill.json_columns)
    }
    columns.update(
        {
            "id": {"data_type": "text", "nullable": False},
            "account_id": {"data_type": "text", "nullable": False},
            "livemode": {"data_type": "bool", "nullable": False},
            SEQ: {"data_type": "bigint", "dedup_sort": "desc"},
            DELETED: {"data_type": "bool", "hard_delete": True},
        }
    )
    if batch.children is not None:
        columns[batch.children.parent] = {"data_type": "text"}
    resource = dlt.resource(
        rows,
        name=batch.resource,
        table_name=batch.resource,
        write_disposition=write,
        primary_key=PRIMARY_KEY,
        columns=columns,
    )
    resource.apply_hints(additional_table_hints={DEDUPLICATED: unique})
    return resource


def _empty_table(parent: str | None = None) -> Any:
    import pyarrow as pa

    columns = {
        "id": pa.array([], pa.string()),
        "account_id": pa.array([], pa.string()),
        "livemode": pa.array([], pa.bool_()),
        "created": pa.array([], pa.int64()),
    }
    if parent is not None:
        columns[parent] = pa.array([], pa.string())
    return pa.table(columns)


def _tables(batch: Batch) -> Iterator[Any]:
    """The batch's Arrow tables; a child table's keep only the newest version of each parent's
    children (rows that delete are always kept)."""
    children = batch.children
    for table in batch.spill.tables():
        if children is None or not children.newest or children.parent not in table.column_names:
            yield table
            continue
        yield _newest_only(table, children)


def _newest_only(table: Any, children: Children) -> Any:
    import pyarrow as pa

    count = table.num_rows
    parents = table.column(children.parent).to_pylist()
    seqs = table.column(SEQ).to_pylist() if SEQ in table.column_names else [None] * count
    flags = table.column(DELETED).to_pylist() if DELETED in table.column_names else [None] * count
    newest = children.newest
    mask = [
        bool(flag) or parent is None or newest.get(parent, seq) == seq
        for parent, seq, flag in zip(parents, seqs, flags, strict=True)
    ]
    return table if all(mask) else table.filter(pa.array(mask, pa.bool_()))


def _written_ids(batch: Batch) -> Any:
    """Ids of the objects the batch writes (not those it deletes), as an Arrow string array."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if batch.children is None:
        return batch.spill.id_array()
    chunks: list[Any] = []
    for table in _tables(batch):
        ids = table.column("id").cast(pa.string())
        if DELETED in table.column_names:
            deletes = pc.fill_null(table.column(DELETED).cast(pa.bool_()), False)
            ids = pc.filter(ids, pc.invert(deletes))
        chunks.extend(ids.chunks)
    return pa.concat_arrays(chunks) if chunks else empty()


def _gone(counter: _Counter, batch: Batch) -> list[str]:
    """Ids of rows the batch deletes besides its own tombstones, sorted: a full pass's rows the
    API no longer lists; a child table's rows of the parents it replaces.

    A full pass compares every id of the account's table with every id it read: both are held
    as Arrow arrays (tens of bytes an id), never as Python sets, so a full pass over a table of
    millions of rows stays within tens of MB.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    table, children = batch.resource, batch.children
    if children is None:
        if not batch.full:
            return []
        candidates = counter.column_arrays(table, ["id"])[0]
        kept = pa.concat_arrays([_written_ids(batch), pa.array(sorted(batch.keep), pa.string())])
    else:
        if batch.full:
            ids, parents = counter.column_arrays(table, ["id", children.parent])
            skipped = pc.is_in(parents, value_set=pa.array(sorted(children.skip), pa.string()))
            candidates = pc.filter(ids, pc.invert(skipped))
        elif not children.newest:
            return []
        else:
            found = counter.children(table, children.parent, sorted(children.newest))
            candidates = pa.array(sorted(found), pa.string())
        kept = _written_ids(batch)
    gone = pc.filter(candidates, pc.invert(pc.is_in(candidates, value_set=kept)))
    return sorted({str(i) for i in gone.to_pylist()})


def _tombstones(spill: Spill) -> list[str]:
    """Ids of the objects the spill deletes."""
    if not spill.deletes:
        return []
    found: set[str] = set()
    for table in spill.tables():
        if DELETED not in table.column_names:
            continue
        ids = table.column("id").to_pylist()
        flags = table.column(DELETED).to_pylist()
        found.update(str(i) for i, flag in zip(ids, flags, strict=True) if flag)
    return sorted(found)


class _Counter:
    """Counts one account's rows of its tables, over one connection (and prunes its states
    in dlt's table of them, :meth:`prune_states`)."""

    def __init__(self, pipeline: dlt.Pipeline, key: tuple[str, bool]) -> None:
        self._client = pipeline.sql_client()
        self._key = key
        self._arrays = takes_arrays(pipeline)
        self._tables: dict[str, str | None] = {}

    def __enter__(self) -> _Counter:
        self._client.open_connection()
        return self

    def __exit__(self, *exc: object) -> None:
        self._client.close_connection()

    def _table(self, resource: str) -> str | None:
        """The table's qualified name, or None while it does not exist."""
        if resource not in self._tables:
            name = str(self._client.make_qualified_table_name(resource))
            try:
                self._client.execute_sql(f"SELECT 1 FROM {name} WHERE 1 = 0")  # noqa: S608
            except Exception:
                self._tables[resource] = None
            else:
                self._tables[resource] = name
        return self._tables[resource]

    def exists(self, resource: str) -> bool:
        return self._table(resource) is not None

    def prune_states(self, pipeline_name: str) -> None:
        """Delete the pipeline's states older than its newest one of a completed load.

        dlt adds a row to ``_dlt_pipeline_state`` at every load whose state changed (every
        load here: the cursors say when they were loaded) and never deletes one, and it only
        ever reads the newest of a completed load: a thousand accounts synced hourly would add
        8.7 million rows a year. The newest completed state, and any newer one (a load not
        completed), stay."""
        from dlt.common.schema.typing import LOADS_TABLE_NAME, PIPELINE_STATE_TABLE_NAME

        state = self._table(PIPELINE_STATE_TABLE_NAME)
        loads = self._table(LOADS_TABLE_NAME)
        if state is None or loads is None:
            return
        self._client.execute_sql(
            f"DELETE FROM {state} WHERE pipeline_name = %s AND _dlt_load_id < "  # noqa: S608
            f"(SELECT max(s._dlt_load_id) FROM {state} AS s JOIN {loads} AS l "
            "ON l.load_id = s._dlt_load_id WHERE s.pipeline_name = %s AND l.status = 0)",
            pipeline_name,
            pipeline_name,
        )

    def _where(self, resource: str, sql: str, *args: Any) -> int:
        table = self._table(resource)
        if table is None:
            return 0
        query = f"SELECT count(*) FROM {table} WHERE account_id = %s AND livemode = %s{sql}"  # noqa: S608
        rows = self._client.execute_sql(query, *self._key, *args)
        return int(rows[0][0]) if rows else 0

    def rows(self, resource: str) -> int:
        return self._where(resource, "")

    def oldest(self, resource: str, status: str) -> int | None:
        table = self._table(resource)
        if table is None:
            return None
        query = (
            f"SELECT min(created) FROM {table} WHERE account_id = %s AND livemode = %s "  # noqa: S608
            "AND status = %s"
        )
        try:
            rows = self._client.execute_sql(query, *self._key, status)
        except Exception:
            return None  # no such column yet: nothing is unsettled
        return int(rows[0][0]) if rows and rows[0][0] is not None else None

    def column_arrays(self, resource: str, columns: list[str]) -> list[Any]:
        """These columns of every row of (account, mode), as Arrow string arrays (``_arrays``)."""
        table = self._table(resource)
        if table is None:
            return [empty() for _ in columns]
        names = ", ".join(self._client.escape_column_name(c) for c in columns)
        query = f"SELECT {names} FROM {table} WHERE account_id = %s AND livemode = %s"  # noqa: S608
        return text_columns(self._client, query, *self._key, width=len(columns))

    def children(
        self, resource: str, parent: str, parents: list[str] | None = None
    ) -> dict[str, str]:
        """Child id -> parent id of the rows of (account, mode), of ``parents`` when given."""
        table = self._table(resource)
        if table is None:
            return {}
        base = f"SELECT id, {parent} FROM {table} WHERE account_id = %s AND livemode = %s"  # noqa: S608
        found: dict[str, str] = {}
        for condition, values in id_filters(parent, parents, arrays=self._arrays):
            rows = self._client.execute_sql(base + condition, *self._key, *values) or []
            found.update((str(r[0]), str(r[1])) for r in rows)
        return found

    def existing(self, resource: str, ids: list[str]) -> int:
        return sum(
            self._where(resource, condition, *values)
            for condition, values in id_filters("id", ids, arrays=self._arrays)
        )

    def snapshot(self, resource: str, batch: Batch | None) -> Snapshot | None:
        """Content hashes of the rows the batch writes (all of the account's when None)."""
        table = self._table(resource)
        if table is None:
            return None
        ids = None if batch is None else batch.spill.ids()
        return snapshot(self._client, table, self._key, ids, arrays=self._arrays)

    def changed(self, batch: Batch, before: Snapshot) -> int:
        """How many rows hashed before the load now have another content (``_changes``)."""
        table = self._table(batch.resource)
        if table is None:
            return 0
        ids = None if batch.full else before.ids.to_pylist()
        after = snapshot(self._client, table, self._key, ids, before.columns, arrays=self._arrays)
        return updated(before, after)
