"""Incremental runs take new objects from their creation events: after simulated days the re-sync
asks for no ``created`` window of a resource whose creations are events, the first page of
events is also the request that finds the newest event, and every field of every row still
equals what the API lists."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from _sync_helpers import START, install, manager, sandbox_counts, sync_app, table_counts

from stripe_oauth_nb.api import ApiClient
from stripe_oauth_nb.sandbox import Sandbox
from stripe_oauth_nb.sync import RESOURCES, sync
from stripe_oauth_nb.sync._reader import BALANCE_KINDS, balance_rows
from stripe_oauth_nb.sync._resources import CHILDREN, Resource

if TYPE_CHECKING:
    from duckdb import DuckDBPyConnection

CHILD_TABLES = [c.name for c in CHILDREN]

#: Real processes or kernels in most tests here: out of the fast loop (`-m "not slow"`).
pytestmark = pytest.mark.slow

pytest.importorskip("dlt")

#: Columns the loader adds to a row (not the API's).
ADDED = {"account_id", "livemode"}


@pytest.fixture
def world() -> Iterator[Sandbox]:
    """A sandbox big enough for several pages of events in four simulated days (about 210 new
    events each time: 3 pages; 400 customers made 265 and 464, for a quarter more CPU), limits
    off."""
    with Sandbox(customers=250, rate_limit=False, start=START) as sb:
        yield sb


def listed(client: ApiClient, path: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    return list(client.list_all(path, params))


def db_objects(con: DuckDBPyConnection, account: str, table: str) -> dict[str, dict[str, Any]]:
    cursor = con.execute(f"SELECT * FROM {table} WHERE account_id = ?", [account])  # noqa: S608
    names = [d[0] for d in cursor.description]
    rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    return {row["id"]: row for row in rows}


def complete_children(
    client: ApiClient, resource: Resource, objects: list[dict[str, Any]]
) -> dict[str, dict[str, dict[str, Any]]]:
    """Per child table: id -> the entry as the API lists it, with its parent's id; an embedded
    list with more is read whole from its sub-list (starting after the embedded entries)."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for child in resource.children:
        rows = out.setdefault(child.name, {})
        for obj in objects:
            embedded = obj[child.embedded]
            entries = list(embedded["data"])
            if embedded["has_more"]:
                path, params = child.sub_list(obj["id"])
                entries += listed(client, path, {**params, "starting_after": entries[-1]["id"]})
            for entry in entries:
                rows[entry["id"]] = {**entry, child.parent: obj["id"]}
    return out


def assert_row_equals(table: str, row: dict[str, Any], obj: dict[str, Any]) -> None:
    for name, value in obj.items():
        stored = row.get(name)
        if isinstance(value, dict | list) and isinstance(stored, str):
            stored = json.loads(stored)
        assert stored == value, (table, obj["id"], name)
    extra = {
        k: v
        for k, v in row.items()
        if k not in obj and k not in ADDED and not k.startswith("_") and v is not None
    }
    assert not extra, (table, obj["id"], extra)


def assert_latest_balance_equals_api(
    client: ApiClient, con: DuckDBPyConnection, account: str
) -> None:
    """The balance rows of the last run: one per currency, the amounts ``/v1/balance`` gives."""
    rows = db_objects(con, account, "balance")
    newest = max(row["created"] for row in rows.values())
    latest = {r["currency"]: r for r in rows.values() if r["created"] == newest}
    api = {r["currency"]: r for r in balance_rows(client.get("/v1/balance"), newest)}
    assert latest.keys() == api.keys()
    for currency, row in api.items():
        for kind in BALANCE_KINDS:
            assert latest[currency].get(kind) == row[kind], (currency, kind)  # (no column: None)


def assert_rows_equal_api(client: ApiClient, db: Path, account: str) -> None:
    """Every row of every table, field by field, equals the object the API lists (nested values
    are JSON in the table; a field null in every row may have no column); a child table holds
    every entry of its parents' lists, and a parent's embedded list keeps all but the entries.
    One read-only connection for the whole comparison (opening the file costs more than most
    tables' reads)."""
    import duckdb

    with duckdb.connect(str(db), read_only=True) as con:
        for resource in RESOURCES:
            _assert_resource_equals_api(client, con, account, resource)


def _assert_resource_equals_api(
    client: ApiClient, con: DuckDBPyConnection, account: str, resource: Resource
) -> None:
    if resource.snapshot:
        assert_latest_balance_equals_api(client, con, account)
        return
    if resource.per_parent is not None:
        objects = [
            obj
            for parent in listed(client, resource.per_parent.parents, {})
            for obj in listed(client, resource.per_parent.of(parent["id"]), {})
        ]
    else:
        objects = listed(client, resource.path, dict(resource.params))
    api = {o["id"]: o for o in objects}
    rows = db_objects(con, account, resource.name)
    assert rows.keys() == api.keys(), resource.name
    for table, children in complete_children(client, resource, objects).items():
        stored = db_objects(con, account, table)
        assert stored.keys() == children.keys(), table
        for child_id, entry in children.items():
            assert_row_equals(table, stored[child_id], entry)
    for object_id, obj in api.items():
        row = rows[object_id]
        for child in resource.children:
            embedded = obj[child.embedded]
            obj = {
                **obj,
                child.embedded: {
                    k: v for k, v in embedded.items() if k not in ("data", "has_more")
                },
            }
        assert_row_equals(resource.name, row, obj)


def test_resync_reads_no_created_window_where_creations_are_events(
    world: Sandbox, tmp_path: Path
) -> None:
    app = sync_app(world)
    settings, tokens = manager(world, app)
    account = install(world, tokens, app).account_id
    db, work = tmp_path / "stripe.duckdb", tmp_path / "work"
    assert sync(settings, tokens, db=db, work_dir=work).ok

    with ApiClient.from_settings(settings, tokens, account_id=account) as client:
        cursor = int(client.get("/v1/events", {"limit": 1})["data"][0]["created"])
        for _ in range(2):  # two incremental runs: the second starts from the first's cursors
            world.simulate(4)
            events = listed(client, "/v1/events", {"created[gte]": cursor})
            cursor = int(events[0]["created"])
            kinds = {e["type"] for e in events}
            assert {"customer.created", "invoice.created", "payment_intent.created"} <= kinds
            assert len(events) > 100  # several pages of events

            # one window of events (no splits): exactly the pages the events fill
            report = sync(settings, tokens, db=db, work_dir=work, max_windows=1)
            assert report.ok, report.summary()
            reread = {r.name for r in RESOURCES if r.reread}  # short lists read whole
            assert not any(t.full for t in report.tables if t.table not in reread)
            assert all(t.full for t in report.tables if t.table in reread)
            requests = {t.table: t.requests for t in report.tables}
            assert {r.name for r in RESOURCES if requests[r.name] == 0} == {
                r.name for r in RESOURCES if r.created_events
            }
            (result,) = report.accounts
            assert result.event_requests == math.ceil(len(events) / 100)  # no separate probe
            listed_new = sum(requests[r.name] for r in RESOURCES if not r.created_events)
            sub_lists = sum(requests[name] for name in CHILD_TABLES)
            assert result.requests == result.event_requests + listed_new + sub_lists

            assert table_counts(db, account) == sandbox_counts(world, account)
            assert_rows_equal_api(client, db, account)
