"""``sync()`` against the sandbox: tables equal the API after every run (full, incremental after
simulated days, full again after 30 days), several accounts and modes in one database,
permissions, token refresh mid-load, locking, bad input, and no secret anywhere."""

from __future__ import annotations

import gc
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from _sync_helpers import (
    COUNTED,
    START,
    api_rows,
    db_rows,
    install,
    manager,
    sandbox_counts,
    sync_app,
    table_counts,
)

from stripe_oauth_nb._errors import (
    DestinationError,
    SyncConfigError,
    SyncLockedError,
)
from stripe_oauth_nb.sandbox import Sandbox
from stripe_oauth_nb.sync import RESOURCES, Progress, sync
from stripe_oauth_nb.sync._destination import open_destination
from stripe_oauth_nb.sync._memory import COLLECTIONS

pytest.importorskip("dlt")

#: Fields compared object by object between the API and the tables after a run.
COMPARED = {
    "customers": ["email", "name"],
    "subscriptions": ["status", "cancel_at_period_end"],
    "invoices": ["status", "amount_paid"],
    "charges": ["status", "amount_refunded"],
    "refunds": ["amount", "status"],
    "balance_transactions": ["status", "net"],  # pending -> available, with no event
}


@pytest.fixture
def world() -> Iterator[Sandbox]:
    """A small sandbox of its own (simulated days move its clock), limits off."""
    with Sandbox(customers=30, rate_limit=False, start=START) as sb:
        yield sb


def assert_equal_to_api(sb: Sandbox, settings, tokens, db: Path, account: str) -> None:  # type: ignore[no-untyped-def]
    assert table_counts(db, account) == sandbox_counts(sb, account)
    for resource, fields in COMPARED.items():
        listed = api_rows(settings, tokens, account, resource, fields)
        if listed:  # (a table without rows yet has only its key columns)
            assert db_rows(db, account, resource, fields) == listed, resource


@pytest.mark.slow
def test_full_then_incremental_then_full_again_after_30_days(
    world: Sandbox, tmp_path: Path
) -> None:
    app = sync_app(world)
    settings, tokens = manager(world, app)
    account = install(world, tokens, app).account_id
    db = tmp_path / "stripe.duckdb"

    first = sync(settings, tokens, db=db, work_dir=tmp_path / "work")
    assert first.ok, first.summary()
    assert all(t.full and t.status == "loaded" for t in first.tables)
    parents = {r.name for r in RESOURCES}  # (child tables: tests/test_sync_children.py)
    inserted = sum(t.inserted for t in first.tables if t.table in {r.name for r in COUNTED})
    assert inserted == sum(sandbox_counts(world, account).values())
    assert_equal_to_api(world, settings, tokens, db, account)

    world.simulate(3)
    second = sync(settings, tokens, db=db, work_dir=tmp_path / "work")
    assert second.ok, second.summary()
    reread = {r.name for r in RESOURCES if r.reread}  # short lists read whole every run
    assert not any(t.full for t in second.tables if t.table not in reread)
    # new objects come with their creation events; balance transactions, disputes: one page
    requests = {t.table: t.requests for t in second.tables if t.table in parents}
    # a completed checkout session's event lacks its line items: it is read again by id
    assert requests.pop("checkout_sessions") >= 1
    assert requests == {
        r.name: 0 if r.created_events else 1 for r in RESOURCES if r.name != "checkout_sessions"
    }
    assert sum(t.deleted for t in second.tables) + sum(t.updated for t in second.tables) > 0
    assert_equal_to_api(world, settings, tokens, db, account)

    # balance transactions loaded as pending become available days later, with no event
    pending = db_rows(db, account, "balance_transactions", ["status"])
    assert ("pending",) in pending.values()
    world.simulate(4)
    assert sync(settings, tokens, db=db, work_dir=tmp_path / "work").ok
    assert_equal_to_api(world, settings, tokens, db, account)

    world.simulate(31)  # the cursor is now older than Stripe's 30 days of events
    third = sync(settings, tokens, db=db, work_dir=tmp_path / "work")
    assert third.ok, third.summary()
    assert all(t.full for t in third.tables)
    assert_equal_to_api(world, settings, tokens, db, account)


@pytest.mark.slow
def test_resources_subset_and_full_flag(world: Sandbox, tmp_path: Path) -> None:
    app = sync_app(world)
    settings, tokens = manager(world, app)
    account = install(world, tokens, app).account_id
    db = tmp_path / "stripe.duckdb"
    report = sync(settings, tokens, db=db, resources=["customers", "prices"])
    assert sorted(t.table for t in report.tables) == ["customers", "prices"]
    again = sync(settings, tokens, db=db, resources=["customers", "charges"])
    kinds = {t.table: t.full for t in again.tables}
    assert kinds == {"customers": False, "charges": True}  # charges never loaded before
    forced = sync(settings, tokens, db=db, resources=["customers"], full=True)
    assert forced.tables[0].full
    assert forced.tables[0].inserted == 0
    assert table_counts(db, account)["customers"] == sandbox_counts(world, account)["customers"]


@pytest.mark.slow
def test_several_accounts_and_both_modes_share_one_database(world: Sandbox, tmp_path: Path) -> None:
    app = sync_app(world)
    settings, tokens = manager(world, app)
    installed = [
        install(world, tokens, app, "test", world.account_ids[0]),
        install(world, tokens, app, "test", world.account_ids[1]),
        install(world, tokens, app, "live", world.account_ids[0]),
    ]
    db = tmp_path / "stripe.duckdb"
    report = sync(settings, tokens, db=db, accounts="all")
    assert report.ok, report.summary()
    assert {(a.account_id, a.livemode) for a in report.accounts} == {
        (t.account_id, t.livemode) for t in installed
    }
    for t in installed:
        mode = "live" if t.livemode else "test"
        assert table_counts(db, t.account_id, t.livemode) == sandbox_counts(
            world, t.account_id, mode
        )


def test_a_resource_without_permission_is_skipped_and_named(world: Sandbox, tmp_path: Path) -> None:
    app = sync_app(world, ["customer_read", "event_read", "charge_read"])
    settings, tokens = manager(world, app)
    account = install(world, tokens, app).account_id
    db = tmp_path / "stripe.duckdb"
    report = sync(settings, tokens, db=db)
    assert report.ok
    status = {t.table: (t.status, t.permission) for t in report.tables}
    assert status["customers"] == ("loaded", None)
    assert status["charges"] == ("loaded", None)
    assert status["refunds"] == ("loaded", None)  # refunds need charge_read too
    assert status["invoices"] == ("skipped", "invoice_read")
    assert status["balance_transactions"] == ("skipped", "balance_read")
    assert "'invoice_read' permission" in report.summary()
    assert table_counts(db, account)["customers"] == sandbox_counts(world, account)["customers"]


@pytest.mark.slow
def test_tokens_refresh_mid_load(tmp_path: Path) -> None:
    # charges span several pages: the first comes with the disk estimate, the next ones after
    # the clock moved
    with Sandbox(customers=120, rate_limit=False, start=START) as world:
        _tokens_refresh_mid_load(world, tmp_path)


def _tokens_refresh_mid_load(world: Sandbox, tmp_path: Path) -> None:
    app = sync_app(world)
    settings, tokens = manager(world, app)
    first = install(world, tokens, app)
    assert sandbox_counts(world, first.account_id)["charges"] > 100
    moved = False
    lock = threading.Lock()  # progress comes from the reader threads
    before = gc.get_threshold()
    thresholds: set[tuple[int, ...]] = set()

    def progress(step: Progress) -> None:
        nonlocal moved
        with lock:
            thresholds.add(gc.get_threshold())
            if step.table == "charges" and step.rows and not moved:
                moved = True
                world.advance_clock(3 * 3600)  # the access token expires mid-load

    report = sync(settings, tokens, db=tmp_path / "stripe.duckdb", progress=progress)
    assert moved
    # the cycle collector ran less often during the sync, as often as before after it
    assert thresholds == {COLLECTIONS if before[0] < COLLECTIONS[0] else before}
    assert gc.get_threshold() == before
    assert report.ok, report.summary()
    assert tokens.get(first.account_id, False).access_token != first.access_token
    assert world.stats()["grants"].get("refresh_token", 0) == 1  # single-flight
    counts = table_counts(tmp_path / "stripe.duckdb", first.account_id)
    assert counts == sandbox_counts(world, first.account_id)


def test_a_second_sync_on_the_same_database_is_refused(world: Sandbox, tmp_path: Path) -> None:
    app = sync_app(world)
    settings, tokens = manager(world, app)
    install(world, tokens, app)
    db = tmp_path / "stripe.duckdb"
    with open_destination(db=db), pytest.raises(SyncLockedError, match="Another sync"):
        sync(settings, tokens, db=db)
    assert sync(settings, tokens, db=db, resources=["customers"]).ok  # free again


def test_secrets_stay_out_of_the_database_the_work_folder_and_the_report(
    world: Sandbox, tmp_path: Path
) -> None:
    app = sync_app(world)
    settings, tokens = manager(world, app)
    installed = install(world, tokens, app)
    db = tmp_path / "stripe.duckdb"
    report = sync(settings, tokens, db=db, work_dir=tmp_path / "work")
    refreshed = tokens.get(installed.account_id, False)
    secrets = {
        installed.access_token.reveal(),
        installed.refresh_token.reveal(),
        refreshed.access_token.reveal(),
        refreshed.refresh_token.reveal(),
        world.test.secret_key,
    }
    blobs = [db.read_bytes(), report.to_json().encode(), report.summary().encode()]
    blobs += [p.read_bytes() for p in (tmp_path / "work").rglob("*") if p.is_file()]
    for secret in secrets:
        assert all(secret.encode() not in blob for blob in blobs)


# -- bad input: one clear error, nothing loaded is damaged ---------------------------------
def test_unknown_resource_names_are_one_clear_error(world: Sandbox, tmp_path: Path) -> None:
    app = sync_app(world)
    settings, tokens = manager(world, app)
    install(world, tokens, app)
    with pytest.raises(SyncConfigError, match=r"Unknown resource names: charge, custmers\."):
        sync(settings, tokens, db=tmp_path / "x.duckdb", resources=["charge", "custmers"])
    assert not (tmp_path / "x.duckdb").exists()


def test_a_file_that_is_not_duckdb_is_refused_and_kept(world: Sandbox, tmp_path: Path) -> None:
    app = sync_app(world)
    settings, tokens = manager(world, app)
    install(world, tokens, app)
    db = tmp_path / "notes.duckdb"
    db.write_text("these are my notes, not a database\n" * 10)
    before = db.read_bytes()
    with pytest.raises(DestinationError, match="is not a DuckDB database"):
        sync(settings, tokens, db=db)
    assert db.read_bytes() == before


def test_postgres_bad_password_and_unreachable_server(
    world: Sandbox, tmp_path: Path, postgres: object
) -> None:
    app = sync_app(world)
    settings, tokens = manager(world, app)
    install(world, tokens, app)
    dsn = postgres.create_database()  # type: ignore[attr-defined]
    password = dsn.split(":")[2].split("@")[0]
    wrong = dsn.replace(f":{password}@", ":EXAMPLE-wrong-password@")
    with pytest.raises(DestinationError) as refused:
        sync(settings, tokens, destination="postgres", dsn=wrong, work_dir=tmp_path / "w")
    assert "password" in str(refused.value)
    assert "EXAMPLE-wrong-password" not in str(refused.value)
    assert ":***@" in str(refused.value)
    closed = "postgresql://som:EXAMPLE-secret@127.0.0.1:9/nowhere"
    with pytest.raises(DestinationError, match="Could not connect") as unreachable:
        sync(settings, tokens, destination="postgres", dsn=closed, work_dir=tmp_path / "w")
    assert "EXAMPLE-secret" not in str(unreachable.value)


@pytest.mark.slow
def test_postgres_full_and_incremental(world: Sandbox, tmp_path: Path, postgres: object) -> None:
    import psycopg2

    app = sync_app(world)
    settings, tokens = manager(world, app)
    account = install(world, tokens, app).account_id
    dsn = postgres.create_database()  # type: ignore[attr-defined]
    password = dsn.split(":")[2].split("@")[0]
    first = sync(settings, tokens, destination="postgres", dsn=dsn, work_dir=tmp_path / "w")
    assert first.ok, first.summary()
    assert password not in first.to_json()
    world.simulate(3)
    second = sync(settings, tokens, destination="postgres", dsn=dsn, work_dir=tmp_path / "w")
    assert second.ok, second.summary()
    with psycopg2.connect(dsn) as con, con.cursor() as cur:
        counts = {}
        for name in sandbox_counts(world, account):
            cur.execute(f"SELECT count(*) FROM stripe.{name} WHERE account_id = %s", (account,))  # noqa: S608
            counts[name] = cur.fetchone()[0]
        cur.execute("SELECT count(*) FROM stripe.charges WHERE outcome->>'type' IS NOT NULL")
        with_outcome = cur.fetchone()[0]  # nested objects are jsonb: ->> reaches inside
    assert counts == sandbox_counts(world, account), second.summary()
    assert with_outcome == counts["charges"] > 0
    dumped = json.dumps(second.to_dict())
    assert password not in dumped


def test_any_dlt_destination_object(world: Sandbox, tmp_path: Path) -> None:
    import dlt
    import duckdb

    app = sync_app(world)
    settings, tokens = manager(world, app)
    account = install(world, tokens, app).account_id
    target = dlt.destinations.duckdb(str(tmp_path / "elsewhere.duckdb"))
    report = sync(
        settings, tokens, destination=target, resources=["customers"], work_dir=tmp_path / "w"
    )
    assert report.ok, report.summary()
    assert report.dataset == "stripe"
    with duckdb.connect(str(tmp_path / "elsewhere.duckdb"), read_only=True) as con:
        found = con.execute("SELECT count(*) FROM stripe.customers").fetchone()
    assert found == (sandbox_counts(world, account)["customers"],)
