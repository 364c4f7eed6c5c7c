"""Customers' data at rest, under the usual umask 022: the database, its work folder and every
file in it owner-only (spill files while a sync reads, too); an existing database others can
read is warned about and left as it is; the work folder keeps no copy of the rows and does not
grow with the number of runs."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from _sync_helpers import (
    START,
    install,
    leftovers,
    manager,
    sandbox_counts,
    sync_app,
    table_counts,
    wider_than_owner,
)

from stripe_oauth_nb.sandbox import Sandbox
from stripe_oauth_nb.sync import DataPermissionsWarning, Progress, sync

pytest.importorskip("dlt")


@pytest.fixture(autouse=True)
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


@pytest.fixture
def world() -> Iterator[Sandbox]:
    """Small: what these tests look at (modes of files, what a run leaves) does not grow with
    the rows, and a sync's CPU does a little (30 customers cost a fifth more per run)."""
    with Sandbox(customers=5, rate_limit=False, start=START) as sb:
        yield sb


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_database_work_folder_and_every_file_in_it_are_owner_only(
    world: Sandbox, tmp_path: Path
) -> None:
    app = sync_app(world)
    settings, tokens = manager(world, app)
    account = install(world, tokens, app).account_id
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    db = data / "stripe.duckdb"
    work = data / "stripe.duckdb.sync"
    seen: list[str] = []
    spilled: list[Path] = []

    def watch(step: Progress) -> None:  # while rows wait on disk for their load
        if step.stage == "loading":
            spilled.extend(p for p in (work / "spill").rglob("*") if p.is_file())
            seen.extend(wider_than_owner(work / "spill"))
            # dlt writes with the umask while it runs, behind folders no one else can enter
            seen.extend(
                f"{p} {_mode(p):04o}" for p in (work, work / "pipelines") if _mode(p) != 0o700
            )

    report = sync(settings, tokens, db=db, progress=watch)
    assert report.ok, report.summary()
    assert table_counts(db, account) == sandbox_counts(world, account)
    assert spilled, "no spill file was seen while the sync ran"
    assert seen == []
    assert _mode(db) == 0o600
    assert _mode(data / "stripe.duckdb.sync-lock") == 0o600
    assert wider_than_owner(work) == []
    assert not (data / "stripe.duckdb.wal").exists() or _mode(data / "stripe.duckdb.wal") == 0o600
    assert _mode(data) == 0o755  # the user's folder is the user's business

    world.simulate(2)  # a second run writes into what the first made: still private
    assert sync(settings, tokens, db=db).ok
    assert _mode(db) == 0o600
    assert wider_than_owner(work) == []


def test_a_named_work_folder_and_its_missing_parents_are_made_private(
    world: Sandbox, tmp_path: Path
) -> None:
    app = sync_app(world)
    settings, tokens = manager(world, app)
    install(world, tokens, app)
    work = tmp_path / "deep" / "work"
    assert sync(settings, tokens, db=tmp_path / "s.duckdb", work_dir=work).ok
    assert wider_than_owner(tmp_path / "deep") == []


def test_an_existing_database_others_can_read_is_named_and_left_as_it_is(
    world: Sandbox, tmp_path: Path
) -> None:
    import duckdb

    app = sync_app(world)
    settings, tokens = manager(world, app)
    account = install(world, tokens, app).account_id
    db = tmp_path / "shared.duckdb"
    duckdb.connect(str(db)).close()
    db.chmod(0o644)
    with pytest.warns(DataPermissionsWarning) as caught:
        report = sync(settings, tokens, db=db)
    assert report.ok, report.summary()
    message = str(caught[0].message)
    assert str(db) in message
    assert f"chmod 600 '{db}'" in message
    assert _mode(db) == 0o644  # not changed behind the user's back
    assert table_counts(db, account) == sandbox_counts(world, account)
    db.chmod(0o600)  # once fixed, no warning (warnings are errors in this suite)
    assert sync(settings, tokens, db=db).ok


def test_an_older_wider_work_folder_of_the_sync_is_made_private(
    world: Sandbox, tmp_path: Path
) -> None:
    app = sync_app(world)
    settings, tokens = manager(world, app)
    install(world, tokens, app)
    work = tmp_path / "stripe.duckdb.sync"
    (work / "pipelines").mkdir(parents=True, mode=0o755)
    work.chmod(0o755)
    (work / "pipelines" / "old.json").write_text("{}")
    assert sync(settings, tokens, db=tmp_path / "stripe.duckdb", resources=["customers"]).ok
    assert wider_than_owner(work) == []


def _size(folder: Path) -> tuple[int, set[str]]:
    files = [p for p in folder.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files), {str(p.relative_to(folder)) for p in files}


@pytest.mark.slow
def test_the_work_folder_does_not_grow_over_ten_runs(world: Sandbox, tmp_path: Path) -> None:
    app = sync_app(world)
    settings, tokens = manager(world, app)
    account = install(world, tokens, app).account_id
    db, work = tmp_path / "stripe.duckdb", tmp_path / "work"
    sizes: list[int] = []
    names: list[set[str]] = []
    for run in range(10):
        if run:
            world.simulate(1)
        report = sync(settings, tokens, db=db, work_dir=work)
        assert report.ok, report.summary()
        assert leftovers(work) == []
        size, files = _size(work)
        sizes.append(size)
        names.append(files)
    assert table_counts(db, account) == sandbox_counts(world, account)
    # the same files after every run (dlt's state, schema and last trace), about the same size
    assert all(n == names[1] for n in names[1:]), names
    assert max(sizes[1:]) <= 1.2 * sizes[1], sizes
    assert not any("parquet" in name or "jsonl" in name for name in names[-1])
