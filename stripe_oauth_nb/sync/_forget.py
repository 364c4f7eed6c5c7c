"""Forget one account and mode: every row of it in every table, and its sync state.

For an account that uninstalled the app (``stripe-oauth-nb sync --forget acct_…``,
``conn.forget()``). Under the sync lock (PostgreSQL: the account's lock) and in one
transaction:

- rows of (account, mode) are deleted from every table of the dataset that has ``account_id``
  and ``livemode`` columns (whatever the resource list says today, so a table a past version
  loaded is not missed), and rows of dlt child tables (``parent__field``) that belong to them;
- the pipeline's state in the database is deleted, with the records of the loads that wrote it
  (dlt's ``_dlt_pipeline_state`` and ``_dlt_loads``), then its folder in the work folder. The
  schema copies in ``_dlt_version`` are shared by every account (``_load.SCHEMA_NAME``) and
  stay; those of a pipeline from before, under its own name, go with its load records. Records
  of its other loads stay (those that changed no state, and those whose state a later load
  replaced, ``_load``): a load id, a time, a status and the shared schema's name, nothing of the
  account.

A later sync of the account starts from nothing (a full pass).
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._account_id import account_id_problem
from .._errors import DestinationError, StripeOAuthNBError, SyncConfigError, SyncLockedError
from .._masking import Secret
from .._settings import Mode
from ._destination import DEFAULT_DB, open_destination
from ._load import Loader, pipeline_name

__all__ = ["ForgetReport", "forget"]


@dataclass
class ForgetReport:
    """What :func:`forget` deleted."""

    account_id: str
    livemode: bool
    destination: str
    #: Rows deleted per table (tables without a row of the account are listed with 0).
    rows: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.rows.values())

    def summary(self) -> str:
        mode = "live" if self.livemode else "test"
        touched = sum(1 for n in self.rows.values() if n)
        return (
            f"Forgot {self.account_id} ({mode} mode) in {self.destination}: deleted "
            f"{self.total} row(s) from {touched} table(s), and its sync state. A later sync of "
            "this account starts again from nothing."
        )


def forget(
    account_id: str,
    mode: Mode,
    *,
    db: str | Path | None = None,
    destination: Any = None,
    dsn: str | Secret | None = None,
    dataset: str | None = None,
    work_dir: str | Path | None = None,
) -> ForgetReport:
    """Delete every row of ``account_id`` in ``mode`` from every table, with its sync state."""
    problem = account_id_problem(account_id)
    if problem is not None:
        raise SyncConfigError(problem)
    livemode = mode == "live"
    if destination is None or destination == "duckdb":
        path = Path(db or DEFAULT_DB).expanduser()
        if not path.is_file():
            raise SyncConfigError(
                f"There is no database at {path}, so nothing to forget: give the --db the sync "
                "loaded into (or --destination postgres --dsn DSN)."
            )
    with open_destination(
        db=db, destination=destination, dsn=dsn, work_dir=work_dir, dataset=dataset
    ) as dest:
        dataset = dataset or dest.default_dataset
        if not dest.locks.try_lock(account_id, livemode):  # PostgreSQL: the account's own lock
            raise SyncLockedError(
                f"A sync is loading {account_id} into {dest.description} right now. Wait for it "
                "to finish, then forget the account again; nothing was deleted."
            )
        loader = Loader(dest, dataset)
        name = pipeline_name(account_id, livemode)
        report = ForgetReport(account_id, livemode, dest.description)
        pipeline = loader.pipeline(account_id, livemode)
        try:
            client = pipeline.sql_client()
            with client:
                report.rows = _delete(client, dataset, account_id, livemode, name)
        except StripeOAuthNBError:
            raise
        except Exception as exc:
            text = dest.scrub(f"{type(exc).__name__}: {exc}")
            raise DestinationError(
                f"Could not forget {account_id} in {dest.description}: {text}. Nothing was "
                "deleted (one transaction); fix the cause and run it again."
            ) from None
        shutil.rmtree(loader.pipelines_dir / name, ignore_errors=True)
        mode_name = "live" if livemode else "test"
        shutil.rmtree(dest.work_dir / "spill" / f"{account_id}_{mode_name}", ignore_errors=True)
    return report


def _delete(
    client: Any, dataset: str, account_id: str, livemode: bool, name: str
) -> dict[str, int]:
    """Delete in one transaction; rows deleted per table of ``dataset`` (its staging copy, which
    a failed load may have left filled, is emptied of the account too)."""
    schemas = (dataset, f"{dataset}_staging")
    rows = client.execute_sql(
        "SELECT table_schema, table_name, column_name FROM information_schema.columns "
        "WHERE table_schema IN (%s, %s)",
        *schemas,
    )
    columns: dict[tuple[str, str], set[str]] = {}
    for schema, table, column in rows or []:
        if _NAME.match(str(schema)) and _NAME.match(str(table)):
            columns.setdefault((str(schema), str(table)), set()).add(str(column))
    owned = sorted(k for k, c in columns.items() if {"account_id", "livemode"} <= c)
    children = sorted(
        k
        for k, c in columns.items()
        if "__" in k[1] and "_dlt_root_id" in c and "account_id" not in c
    )
    deleted: dict[str, int] = {}
    key = "account_id = %s AND livemode = %s"
    with client.begin_transaction():
        for schema, child in children:
            root = (schema, child.split("__", 1)[0])
            if root not in owned or "_dlt_id" not in columns[root]:
                continue
            where = f"_dlt_root_id IN (SELECT _dlt_id FROM {_q(*root)} WHERE {key})"  # noqa: S608
            count = _count_and_delete(client, _q(schema, child), where, account_id, livemode)
            if schema == dataset:
                deleted[child] = count
        for schema, table in owned:
            count = _count_and_delete(client, _q(schema, table), key, account_id, livemode)
            if schema == dataset:
                deleted[table] = count
        _delete_state(client, dataset, {t for s, t in columns if s == dataset}, name)
    return deleted


def _delete_state(client: Any, dataset: str, tables: set[str], name: str) -> None:
    """Delete the pipeline's rows from dlt's own tables of ``dataset`` (those it has): its load
    records (found through its state, or by a schema of its own), its own schema's copies,
    then its state."""
    from dlt.common.schema.typing import (
        LOADS_TABLE_NAME,
        PIPELINE_STATE_TABLE_NAME,
        VERSION_TABLE_NAME,
    )

    state = _q(dataset, PIPELINE_STATE_TABLE_NAME)
    if LOADS_TABLE_NAME in tables:
        sql = f"DELETE FROM {_q(dataset, LOADS_TABLE_NAME)} WHERE schema_name = %s"  # noqa: S608
        if PIPELINE_STATE_TABLE_NAME in tables:
            sql += f" OR load_id IN (SELECT _dlt_load_id FROM {state} WHERE pipeline_name = %s)"  # noqa: S608
        client.execute_sql(sql, *[name] * sql.count("%s"))
    if VERSION_TABLE_NAME in tables:
        sql = f"DELETE FROM {_q(dataset, VERSION_TABLE_NAME)} WHERE schema_name = %s"  # noqa: S608
        client.execute_sql(sql, name)
    if PIPELINE_STATE_TABLE_NAME in tables:
        client.execute_sql(f"DELETE FROM {state} WHERE pipeline_name = %s", name)  # noqa: S608


def _count_and_delete(client: Any, table: str, where: str, *args: Any) -> int:
    found = client.execute_sql(f"SELECT count(*) FROM {table} WHERE {where}", *args)  # noqa: S608
    count = int(found[0][0]) if found else 0
    if count:
        client.execute_sql(f"DELETE FROM {table} WHERE {where}", *args)  # noqa: S608
    return count


#: Names the sync's tables and schemas have (dlt normalizes them so): quoted as they are.
_NAME = re.compile(r"^[a-z0-9_]+$")


def _q(schema: str, table: str) -> str:
    return f'"{schema}"."{table}"'
