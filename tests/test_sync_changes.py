"""What a re-sync reports as updated: only rows whose content changed (DuckDB and PostgreSQL).

A re-sync writes rows again that did not change (an event's object read again, balance
transactions still pending, a full pass), and the report must not call them updated.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _sync_helpers import START, db_rows, install, manager, sync_app

from stripe_oauth_nb.api import ApiClient
from stripe_oauth_nb.sandbox import Sandbox
from stripe_oauth_nb.sandbox._rows import Event, replace
from stripe_oauth_nb.sync import RESOURCES, sync
from stripe_oauth_nb.sync._reader import _is_deletion
from stripe_oauth_nb.sync._resources import TABLES, by_object

pytest.importorskip("dlt")


@pytest.fixture
def world() -> Iterator[Sandbox]:
    """Small: what changes here is made by the test (a rename) or counted whatever the size."""
    with Sandbox(customers=5, rate_limit=False, start=START) as sb:
        yield sb


@pytest.fixture
def busy_world() -> Iterator[Sandbox]:
    """Big enough that a simulated day changes objects that existed before it (5 customers'
    day changes none)."""
    with Sandbox(customers=20, rate_limit=False, start=START) as sb:
        yield sb


def where(request: pytest.FixtureRequest, tmp_path: Path, kind: str) -> dict[str, Any]:
    """``sync()``'s destination arguments for DuckDB or a fresh PostgreSQL database."""
    if kind == "duckdb":
        return {"db": tmp_path / "stripe.duckdb", "work_dir": tmp_path / "work"}
    server = request.getfixturevalue("postgres")
    return {"destination": "postgres", "dsn": server.create_database(), "work_dir": tmp_path / "w"}


def updated(report: Any) -> dict[str, int]:
    assert report.ok, report.summary()
    return {t.table: t.updated for t in report.tables}


def rename_a_customer(sb: Sandbox, account: str) -> str:
    """Change one customer's name, with its ``customer.updated`` event, as Stripe would."""
    sb.advance_clock(5)
    with sb.state.lock:
        w = sb.world(account)
        position = next(i for i, row in enumerate(w.customers.rows) if not row.deleted)
        row = w.customers.rows[position]
        new = replace(row, name=row.name + " (renamed)")
        before = w.customers.update(position, new)
        w.events.add(
            Event(w.ids.new("evt_"), int(sb.now()), "customer.updated", "customers", new, before)
        )
    return str(row.id)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["duckdb", "postgres"])
def test_a_resync_with_nothing_changed_updates_nothing(
    world: Sandbox, tmp_path: Path, request: pytest.FixtureRequest, kind: str
) -> None:
    app = sync_app(world)
    settings, tokens = manager(world, app)
    account = install(world, tokens, app).account_id
    dest = where(request, tmp_path, kind)
    first = sync(settings, tokens, **dest)
    assert first.ok, first.summary()
    world.simulate(1)  # events since the first run, pending balance transactions: rows re-read
    assert updated(sync(settings, tokens, **dest))
    again = sync(settings, tokens, **dest)
    assert updated(again) == dict.fromkeys(TABLES, 0)  # child tables too
    # (a snapshot table, the balance, gains its row of each run: that is its history)
    history = {r.name for r in RESOURCES if r.snapshot}
    moved = {t.table: (t.inserted, t.deleted) for t in again.tables if t.inserted or t.deleted}
    assert {name: n for name, n in moved.items() if name not in history} == {}
    # a full pass over the same data: every row written again, none updated
    assert updated(sync(settings, tokens, full=True, **dest)) == dict.fromkeys(TABLES, 0)
    # one object changed: exactly one row updated, in its table
    rename_a_customer(world, account)
    changed = updated(sync(settings, tokens, **dest))
    assert changed == {name: int(name == "customers") for name in TABLES}


@pytest.mark.slow
def test_after_a_simulated_day_updated_equals_the_objects_the_sandbox_changed(
    busy_world: Sandbox, tmp_path: Path
) -> None:
    world = busy_world
    app = sync_app(world)
    settings, tokens = manager(world, app)
    account = install(world, tokens, app).account_id
    db = tmp_path / "stripe.duckdb"
    assert sync(settings, tokens, db=db, work_dir=tmp_path / "work").ok
    for _ in range(2):
        since = int(world.now())
        before = {
            r.name: db_rows(db, account, r.name, ["status"] if r.unsettled else [])
            for r in RESOURCES
        }
        world.simulate(1)
        report = sync(settings, tokens, db=db, work_dir=tmp_path / "work")
        # what the sandbox changed: objects with an event since the last run that existed
        # then and still exist; balance transactions settle with no event (their status)
        touched: dict[str, set[str]] = {r.name: set() for r in RESOURCES}
        gone: dict[str, set[str]] = {r.name: set() for r in RESOURCES}
        with ApiClient.from_settings(settings, tokens, account_id=account) as client:
            for event in client.list_all("/v1/events", {"created[gte]": since}):
                obj = event["data"]["object"]
                resource = by_object(obj.get("object"))
                if resource is None or int(event["created"]) < since:
                    continue
                deletion = _is_deletion(event["type"], obj, resource)
                (gone if deletion else touched)[resource.name].add(obj["id"])
        after = {
            r.name: db_rows(db, account, r.name, ["status"] if r.unsettled else [])
            for r in RESOURCES
        }
        for r in RESOURCES:
            if r.unsettled:
                touched[r.name] |= {
                    i for i, v in after[r.name].items() if before[r.name].get(i, v) != v
                }
        expected = {
            name: len((ids & before[name].keys()) - gone[name]) for name, ids in touched.items()
        }
        # (child tables change with their parents' events, not events of their own)
        assert {k: v for k, v in updated(report).items() if k in expected} == expected
        assert sum(expected.values()) > 0
