"""Load one resource of one account into its table with dlt, and keep its cursors in dlt's state.

Every (account, mode, resource) is its own dlt pipeline, so each resource is loaded (and its
state committed) as soon as it is read, while the others are still being read, and each load
package holds one resource of one account:

- the table is ``merge`` (``delete-insert``) on ``(id, account_id, livemode)``; dlt runs the
  delete and the insert in one transaction, so readers see a resource before or after a load,
  never half of it, and never a row twice;
- rows that delete an object carry ``_sync_deleted`` (dlt's ``hard_delete``), so deletions are
  applied in the same transaction; ``_sync_seq`` (dlt's ``dedup_sort``) makes the list's version
  of an object win over an event's in one load;
- the cursors (newest ``created`` read, newest event seen) are the resource's dlt state, which
  dlt writes into the database with the load: a load killed at any point is finished by the next
  run (dlt loads pending packages first), and until then the cursors stay where they were.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .._errors import DestinationError
from ._destination import Destination
from ._spill import DELETED, SEQ, Spill

if TYPE_CHECKING:  # pragma: no cover
    import dlt

__all__ = ["Counts", "Loader", "pipeline_name"]

PRIMARY_KEY = ("id", "account_id", "livemode")
_IN_BATCH = 500


def pipeline_name(account_id: str, livemode: bool, resource: str) -> str:
    return f"stripe_{account_id.lower()}_{'live' if livemode else 'test'}_{resource}"


@dataclass
class Counts:
    """What one load did to one account's rows of one table."""

    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    rows: int = 0


def _quiet_dlt() -> None:
    """dlt's warnings about columns that are empty so far are expected here: keep logs clean."""
    os.environ.setdefault("RUNTIME__LOG_LEVEL", "ERROR")
    logging.getLogger("dlt").setLevel(logging.ERROR)


class Loader:
    """dlt pipelines for one destination and dataset."""

    def __init__(self, destination: Destination, dataset: str) -> None:
        import dlt

        _quiet_dlt()
        # Arrow rows get dlt's load id column too: it counts what a load wrote.
        dlt.config["normalize.parquet_normalizer.add_dlt_load_id"] = True
        self.destination = destination
        self.dataset = dataset
        self.pipelines_dir = destination.work_dir / "pipelines"

    def pipeline(self, account_id: str, livemode: bool, resource: str) -> dlt.Pipeline:
        import dlt

        return dlt.pipeline(
            pipeline_name=pipeline_name(account_id, livemode, resource),
            destination=self.destination.dlt_destination,
            dataset_name=self.dataset,
            pipelines_dir=str(self.pipelines_dir),
        )

    def state(self, account_id: str, livemode: bool, resource: str) -> dict[str, Any]:
        """The resource's cursors from its last committed load ({} when never loaded)."""
        pipeline = self.pipeline(account_id, livemode, resource)
        try:
            pipeline.sync_destination()
        except Exception as exc:
            raise self._failed("read the sync state from", exc) from None
        sources = pipeline.state.get("sources", {})
        found = sources.get(pipeline.pipeline_name, {}).get("resources", {}).get(resource, {})
        return dict(found.get("cursors", {}))

    def load(
        self,
        account_id: str,
        livemode: bool,
        resource: str,
        spill: Spill,
        cursors: Mapping[str, Any],
        *,
        full: bool,
    ) -> Counts:
        """Load the spill as one package (one transaction per table); return the counts."""
        import dlt

        pipeline = self.pipeline(account_id, livemode, resource)
        try:
            before = self._count(pipeline, resource, account_id, livemode)
            if full and before:
                gone = self._ids(pipeline, resource, account_id, livemode) - spill.ids()
                spill.delete(sorted(gone), account_id, livemode)
                spill.close()
            tombstones = self._tombstones(spill)
            deleted = self._existing(pipeline, resource, account_id, livemode, tombstones)

            def rows() -> Iterator[Any]:
                yield from spill.tables()
                dlt.current.resource_state()["cursors"] = dict(cursors)

            columns: dict[str, Any] = {
                name: {"data_type": "json"} for name in sorted(spill.json_columns)
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
            source = dlt.resource(
                rows,
                name=resource,
                table_name=resource,
                write_disposition={"disposition": "merge", "strategy": "delete-insert"},
                primary_key=PRIMARY_KEY,
                columns=columns,
            )
            info = pipeline.run(source)
            load_ids = list(info.loads_ids)
            after = self._count(pipeline, resource, account_id, livemode)
            written = self._written(pipeline, resource, account_id, livemode, load_ids)
        except DestinationError:
            raise
        except Exception as exc:
            raise self._failed("load into", exc) from None
        inserted = max(after - before + deleted, 0)
        return Counts(
            inserted=inserted, updated=max(written - inserted, 0), deleted=deleted, rows=after
        )

    # -- counting ------------------------------------------------------------------------
    def _table(self, pipeline: dlt.Pipeline, resource: str) -> str | None:
        with pipeline.sql_client() as client:
            if not client.has_dataset():
                return None
            name = client.make_qualified_table_name(resource)
            try:
                client.execute_sql(f"SELECT 1 FROM {name} WHERE 1 = 0")  # noqa: S608 - our names
            except Exception:
                return None
            return str(name)

    def _count(self, pipeline: dlt.Pipeline, resource: str, account_id: str, live: bool) -> int:
        table = self._table(pipeline, resource)
        if table is None:
            return 0
        sql = f"SELECT count(*) FROM {table} WHERE account_id = %s AND livemode = %s"  # noqa: S608
        with pipeline.sql_client() as client:
            rows = client.execute_sql(sql, account_id, live)
        return int(rows[0][0]) if rows else 0

    def _ids(self, pipeline: dlt.Pipeline, resource: str, account_id: str, live: bool) -> set[str]:
        table = self._table(pipeline, resource)
        if table is None:
            return set()
        sql = f"SELECT id FROM {table} WHERE account_id = %s AND livemode = %s"  # noqa: S608
        with pipeline.sql_client() as client:
            return {str(row[0]) for row in client.execute_sql(sql, account_id, live) or []}

    def _tombstones(self, spill: Spill) -> list[str]:
        if not spill.deletes:
            return []
        found: list[str] = []
        for table in spill.tables():
            if DELETED not in table.column_names:
                continue
            ids = table.column("id").to_pylist()
            flags = table.column(DELETED).to_pylist()
            found.extend(str(i) for i, flag in zip(ids, flags, strict=True) if flag)
        return sorted(set(found))

    def _existing(
        self, pipeline: dlt.Pipeline, resource: str, account_id: str, live: bool, ids: list[str]
    ) -> int:
        table = self._table(pipeline, resource) if ids else None
        if table is None:
            return 0
        total = 0
        with pipeline.sql_client() as client:
            for start in range(0, len(ids), _IN_BATCH):
                chunk = ids[start : start + _IN_BATCH]
                marks = ", ".join(["%s"] * len(chunk))
                sql = (
                    f"SELECT count(*) FROM {table} WHERE account_id = %s AND livemode = %s "  # noqa: S608
                    f"AND id IN ({marks})"
                )
                rows = client.execute_sql(sql, account_id, live, *chunk)
                total += int(rows[0][0]) if rows else 0
        return total

    def _written(
        self,
        pipeline: dlt.Pipeline,
        resource: str,
        account_id: str,
        live: bool,
        load_ids: list[str],
    ) -> int:
        table = self._table(pipeline, resource)
        if table is None or not load_ids:
            return 0
        marks = ", ".join(["%s"] * len(load_ids))
        sql = (
            f"SELECT count(*) FROM {table} WHERE account_id = %s AND livemode = %s "  # noqa: S608
            f"AND _dlt_load_id IN ({marks})"
        )
        with pipeline.sql_client() as client:
            rows = client.execute_sql(sql, account_id, live, *load_ids)
        return int(rows[0][0]) if rows else 0

    def _failed(self, what: str, exc: Exception) -> DestinationError:
        reason = exc
        while getattr(reason, "__cause__", None) is not None:
            reason = reason.__cause__  # type: ignore[assignment]
        text = self.destination.scrub(f"{type(reason).__name__}: {reason}")
        return DestinationError(
            f"Could not {what} {self.destination.description}: {text}. What was loaded before "
            "is unchanged; fix the cause and sync again (an interrupted load is finished first)."
        )
