"""The sync's loader: dlt merges rows, applies deletions, keeps cursors, counts what it did.

Run against DuckDB and a real PostgreSQL server (the ``postgres`` fixture).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from stripe_oauth_nb.sync._destination import Destination, open_destination
from stripe_oauth_nb.sync._load import SCHEMA_NAME, Batch, Counts, Loader, pipeline_name
from stripe_oauth_nb.sync._spill import Spill

pytest.importorskip("dlt")

ACCT = "acct_EXAMPLE1"


def customer(n: int, name: str = "", **extra: Any) -> dict[str, Any]:
    return {
        "id": f"cus_{n:04d}",
        "object": "customer",
        "created": 1_700_000_000 + n,
        "name": name or f"Customer {n}",
        "address": {"city": "Paris", "country": "FR"},
        "metadata": {"n": str(n)},
        **extra,
    }


@pytest.fixture(params=["duckdb", "postgres"])
def destination(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Destination]:
    if request.param == "duckdb":
        dest = open_destination(db=tmp_path / "stripe.duckdb")
    else:
        server = request.getfixturevalue("postgres")
        dest = open_destination(
            destination="postgres", dsn=server.create_database(), work_dir=tmp_path / "work"
        )
    with dest:
        yield dest


def rows(loader: Loader, sql: str) -> list[tuple[Any, ...]]:
    pipeline = loader.pipeline(ACCT, False)
    with pipeline.sql_client() as client:
        table = client.make_qualified_table_name("customers")
        return [tuple(r) for r in client.execute_sql(sql.format(table=table))]


def load(
    loader: Loader,
    spill: Spill,
    cursors: dict[str, int] | None = None,
    *,
    full: bool,
    account: str = ACCT,
    live: bool = False,
) -> Counts:
    batch = Batch("customers", spill, cursors or {}, full)
    return loader.load(account, live, [batch])["customers"]


def spill_of(tmp_path: Path, objects: list[dict[str, Any]], deletes: list[str] = ()) -> Spill:
    spill = Spill(tmp_path / "spill")
    if objects:
        spill.add(objects, ACCT, False, seq=1)
    if deletes:
        spill.delete(list(deletes), ACCT, False)
    spill.close()
    return spill


def test_full_then_incremental_with_updates_and_deletions(
    destination: Destination, tmp_path: Path
) -> None:
    loader = Loader(destination, destination.default_dataset)
    assert loader.states(ACCT, False) == {}
    spill = spill_of(tmp_path, [customer(i) for i in range(50)])
    counts = load(loader, spill, {"created": 5, "events": 7}, full=True)
    assert (counts.inserted, counts.updated, counts.deleted, counts.rows) == (50, 0, 0, 50)
    assert loader.states(ACCT, False) == {"customers": {"created": 5, "events": 7}}

    # an event's older version (seq 0) loses to the list's version of the same object
    spill = Spill(tmp_path / "spill2")
    spill.add([customer(3, "old name")], ACCT, False, seq=0)
    spill.add([customer(3, "new name"), customer(60), customer(61)], ACCT, False, seq=1)
    spill.delete(["cus_0007", "cus_9999"], ACCT, False)  # one existing, one never loaded
    spill.close()
    counts = load(loader, spill, {"created": 9, "events": 9}, full=False)
    assert (counts.inserted, counts.updated, counts.deleted, counts.rows) == (2, 1, 1, 51)
    assert rows(loader, "SELECT name FROM {table} WHERE id = 'cus_0003'") == [("new name",)]
    assert rows(loader, "SELECT count(*) FROM {table} WHERE id = 'cus_0007'") == [(0,)]
    assert rows(loader, "SELECT count(*), count(DISTINCT id) FROM {table}") == [(51, 51)]
    assert loader.states(ACCT, False) == {"customers": {"created": 9, "events": 9}}


def test_updated_counts_only_rows_whose_content_changed(
    destination: Destination, tmp_path: Path
) -> None:
    loader = Loader(destination, destination.default_dataset)
    objects = [customer(i) for i in range(5)]
    load(loader, spill_of(tmp_path / "a", objects), full=True)
    # the same objects written again (an event's version: another _sync_seq): nothing changed
    again = Spill(tmp_path / "b")
    again.add(objects, ACCT, False, seq=7)
    again.close()
    counts = load(loader, again, full=False)
    assert (counts.inserted, counts.updated, counts.deleted, counts.rows) == (0, 0, 0, 5)
    # one object changed in a nested field, one new, the rest written again unchanged
    changed = [*objects[:3], customer(3, address={"city": "Lyon"}), customer(4), customer(9)]
    counts = load(loader, spill_of(tmp_path / "c", changed), full=False)
    assert (counts.inserted, counts.updated, counts.deleted, counts.rows) == (1, 1, 0, 6)
    # a field seen for the first time is a change of the rows that have it, not of the others
    counts = load(
        loader,
        spill_of(tmp_path / "d", [customer(0, email="a@example.com"), customer(1)]),
        full=False,
    )
    assert (counts.inserted, counts.updated, counts.deleted) == (0, 1, 0)
    # a full pass that finds everything as it is: nothing updated
    same = [customer(0, email="a@example.com"), *changed[1:]]
    counts = load(loader, spill_of(tmp_path / "e", same), full=True)
    assert (counts.inserted, counts.updated, counts.deleted, counts.rows) == (0, 0, 0, 6)


def test_nested_objects_are_json_columns(destination: Destination, tmp_path: Path) -> None:
    loader = Loader(destination, destination.default_dataset)
    load(loader, spill_of(tmp_path, [customer(1)]), full=True)
    # the same SQL in DuckDB and PostgreSQL
    assert rows(loader, "SELECT address->>'city', metadata->>'n' FROM {table}") == [("Paris", "1")]


@pytest.mark.slow
def test_a_full_pass_removes_objects_gone_from_the_api(
    destination: Destination, tmp_path: Path
) -> None:
    loader = Loader(destination, destination.default_dataset)
    load(loader, spill_of(tmp_path, [customer(i) for i in range(10)]), full=True)
    other = Spill(tmp_path / "other")
    other.add([customer(1)], "acct_EXAMPLE2", True, seq=1)
    other.close()
    load(loader, other, full=True, account="acct_EXAMPLE2", live=True)
    again = Spill(tmp_path / "again")
    again.add([customer(i) for i in range(3, 12)], ACCT, False, seq=1)
    again.close()
    counts = load(loader, again, full=True)
    assert (counts.inserted, counts.updated, counts.deleted, counts.rows) == (2, 0, 3, 9)
    # the other account and mode are untouched
    assert rows(loader, "SELECT count(*) FROM {table} WHERE account_id = 'acct_EXAMPLE2'") == [(1,)]


def twice_each(path: Path) -> Spill:
    """12 MB of rows, every customer twice: the merge numbers each id's versions (a window
    over the whole load), which does not fit in 12 MB of DuckDB's memory."""
    return spill_of(path, [customer(i % 3_000, "x" * 2000) for i in range(6_000)])


@pytest.mark.slow  # a 12 MB DuckDB and 12 MB of rows: about 7 s
def test_duckdb_out_of_memory_is_named_as_such_not_as_a_lost_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import stripe_oauth_nb.sync._destination as destinations
    from stripe_oauth_nb.errors import DestinationError

    first = spill_of(tmp_path / "a", [customer(i) for i in range(20)])
    big = twice_each(tmp_path / "b")
    monkeypatch.setattr(destinations, "MEMORY_LIMIT", "12MB")  # DuckDB's cap for this sync
    with open_destination(db=tmp_path / "stripe.duckdb") as dest:
        loader = Loader(dest, dest.default_dataset)
        load(loader, first, full=True)
        with pytest.raises(DestinationError) as failed:
            load(loader, big, full=True)
    message = str(failed.value)
    assert "ran out of memory" in message
    assert "OutOfMemory" in message
    assert "--parallel 1" in message
    assert "went away" not in message  # not "the server restarted": nothing restarted


def test_a_duckdb_load_of_many_rows_gets_more_memory_and_gives_it_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The load that runs out of memory above (12 MB) loads with the larger limit."""
    import stripe_oauth_nb.sync._destination as destinations

    first = spill_of(tmp_path / "a", [customer(i) for i in range(20)])
    big = twice_each(tmp_path / "b")
    monkeypatch.setattr(destinations, "MEMORY_LIMIT", "12MB")
    monkeypatch.setattr(destinations, "LARGE_LOAD_MEMORY", "512MB")
    monkeypatch.setattr(destinations, "LARGE_LOAD_ROWS", 5_000)
    during: list[str] = []
    checkpoint = destinations._checkpoint

    def recorded(connection: Any, path: Path) -> None:  # after the load, before the limit is back
        during.append(connection.execute("SELECT current_setting('memory_limit')").fetchone()[0])
        checkpoint(connection, path)

    monkeypatch.setattr(destinations, "_checkpoint", recorded)
    with open_destination(db=tmp_path / "stripe.duckdb") as dest:
        loader = Loader(dest, dest.default_dataset)
        load(loader, first, full=True)
        assert load(loader, big, full=True).rows == 3_000
        with loader.pipeline(ACCT, False).sql_client() as client:
            (after,) = client.execute_sql("SELECT current_setting('memory_limit')")[0]
    small, large = during
    assert small == after  # 12 MB, as DuckDB writes it, before and after the big load
    assert large != small
    assert large.endswith("MiB")
    assert float(large.split()[0]) > 400  # 512 MB: 488.2 MiB


def test_duckdb_loads_on_the_threads_the_destination_sets(tmp_path: Path) -> None:
    """dlt's connections are clones of the sync's: they run on its threads (one, where DuckDB's
    own default is every core), after a reopening too."""
    import stripe_oauth_nb.sync._destination as destinations

    rows = spill_of(tmp_path / "a", [customer(i) for i in range(3)])
    with open_destination(db=tmp_path / "stripe.duckdb") as dest:
        loader = Loader(dest, dest.default_dataset)
        assert load(loader, rows, full=True).rows == 3
        seen = []
        for _ in range(2):
            with loader.pipeline(ACCT, False).sql_client() as client:
                seen.append(client.execute_sql("SELECT current_setting('threads')")[0][0])
            dest.reopen()
            loader = Loader(dest, dest.default_dataset)
    assert seen == [destinations.THREADS] * 2
    assert destinations.THREADS == 1


@pytest.mark.slow  # 30,000 rows loaded, then a full pass compared: about 10 s
def test_a_full_pass_compares_rows_without_a_python_object_per_row(
    destination: Destination, tmp_path: Path
) -> None:
    import tracemalloc

    from stripe_oauth_nb.sync._changes import updated
    from stripe_oauth_nb.sync._load import _Counter, _gone

    total = 30_000
    loader = Loader(destination, destination.default_dataset)
    load(loader, spill_of(tmp_path / "all", [customer(i) for i in range(total)]), full=True)
    # the next full pass lists all but three, and keeps one of those three for a next run
    listed = [customer(i) for i in range(total) if i not in (5, 17_000, 29_999)]
    spill = spill_of(tmp_path / "most", listed)
    batch = Batch("customers", spill, {}, True, frozenset({"cus_17000"}))
    peaks = {}
    with _Counter(loader.pipeline(ACCT, False), (ACCT, False)) as counter:
        for step in ("ids gone", "content hashes"):
            tracemalloc.start()
            try:
                if step == "ids gone":
                    gone = _gone(counter, batch)
                else:
                    before = counter.snapshot("customers", None)
                peaks[step] = tracemalloc.get_traced_memory()[1]
            finally:
                tracemalloc.stop()
    assert gone == ["cus_0005", "cus_29999"]
    assert len(before.ids) == total
    assert updated(before, before) == 0
    # As Python sets and dicts, 30,000 rows' ids took 8.5 MB and their hashes 7.5 MB;
    # in chunks of rows and Arrow arrays, far less.
    assert max(peaks.values()) < 4_000_000, {k: f"{v / 1e6:.1f} MB" for k, v in peaks.items()}


@pytest.mark.slow  # 12 tables of 4,000 rows in one load: about 4 s
def test_a_big_duckdb_load_of_many_tables_fits_in_a_small_memory_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A big load runs one table at a time. With dlt's up to 20 tables at once, this load
    failed under 24 MB (three runs of three: out of memory, each table's transaction holding
    buffers of its own); the sync's own limit is 128 MB."""
    import stripe_oauth_nb.sync._destination as destinations

    monkeypatch.setattr(destinations, "MEMORY_LIMIT", "24MB")
    wide = {f"field_{k}": f"value {k}" for k in range(20)}
    batches = []
    for t in range(12):
        objects = [customer(i, "x" * 300, **wide) for i in range(4_000)]
        batches.append(Batch(f"table_{t}", spill_of(tmp_path / f"s{t}", objects), {}, True))
    with open_destination(db=tmp_path / "stripe.duckdb") as dest:
        counts = Loader(dest, dest.default_dataset).load(ACCT, False, batches)
    assert {c.rows for c in counts.values()} == {4_000}
    assert len(counts) == 12


def test_duckdb_big_loads_take_turns_and_small_ones_do_not_wait(tmp_path: Path) -> None:
    import threading

    from stripe_oauth_nb.sync._destination import BIG_LOAD_ROWS

    with open_destination(db=tmp_path / "stripe.duckdb") as dest:
        inside = threading.Event()
        leave = threading.Event()
        workers: list[int | None] = []

        def big_load() -> None:
            with dest.loading(BIG_LOAD_ROWS) as n:
                workers.append(n)
                inside.set()
                leave.wait(10)

        first = threading.Thread(target=big_load)
        first.start()
        assert inside.wait(10)
        with dest.loading(BIG_LOAD_ROWS - 1) as n:  # a small load goes on beside it
            assert n is None  # dlt's own number of parallel jobs
        inside.clear()
        second = threading.Thread(target=big_load)
        second.start()
        assert not inside.wait(0.5)  # the second big load waits for the first
        leave.set()
        first.join(10)
        assert inside.wait(10)
        second.join(10)
        assert workers == [1, 1]  # one table at a time


def test_duckdb_checkpoints_after_a_load_once_its_log_has_grown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rows a load wrote go from DuckDB's write-ahead log (and its memory) into the file:
    the log is gone after the load, while the sync's connection is still open."""
    import stripe_oauth_nb.sync._destination as destinations

    wal = tmp_path / "stripe.duckdb.wal"
    with open_destination(db=tmp_path / "stripe.duckdb") as dest:
        loader = Loader(dest, dest.default_dataset)
        monkeypatch.setattr(destinations, "CHECKPOINT_WAL_BYTES", 1 << 40)
        load(loader, spill_of(tmp_path / "a", [customer(i) for i in range(50)]), full=True)
        assert wal.exists()  # below the threshold: left as it is
        assert wal.stat().st_size > 0
        monkeypatch.setattr(destinations, "CHECKPOINT_WAL_BYTES", wal.stat().st_size)
        load(loader, spill_of(tmp_path / "b", [customer(i) for i in range(60)]), full=True)
        assert not wal.exists() or wal.stat().st_size == 0
        assert rows(loader, "SELECT count(*) FROM {table}") == [(60,)]


def test_spilled_rows_are_compressed_owner_only_and_come_back_whole(tmp_path: Path) -> None:
    objects = [customer(i, name="x" * 200) for i in range(3000)]  # two batch files
    spill = Spill(tmp_path / "spill")
    spill.add(objects[:1000], ACCT, False, seq=1)
    spill.add(objects[1000:2000], ACCT, False, seq=1)  # a file holds BATCH_ROWS: the next is new
    spill.add(objects[2000:], ACCT, True, seq=2)
    spill.close()
    files = sorted((tmp_path / "spill").iterdir())
    assert [f.name for f in files] == ["part-000000.jsonl.zst", "part-000001.jsonl.zst"]
    assert all(f.stat().st_mode & 0o777 == 0o600 for f in files)
    plain = sum(len(json.dumps(o)) for o in objects)
    assert sum(f.stat().st_size for f in files) < plain / 5  # written compressed
    assert b"Customer 1" not in b"".join(f.read_bytes() for f in files)
    tables = list(spill.tables())
    assert [t.num_rows for t in tables] == [2000, 1000]
    back = [row for t in tables for row in t.to_pylist()]
    assert [r["id"] for r in back] == [o["id"] for o in objects]
    assert (back[2999]["livemode"], back[2999]["_sync_seq"]) == (True, 2)
    assert json.loads(back[0]["address"]) == {"city": "Paris", "country": "FR"}


def test_loads_write_each_row_to_parquet_once_and_fill_the_load_id(
    destination: Destination, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """dlt's normalize step reads a Parquet file back and writes it again when its columns are
    not the table's (in the schema's order): with the bookkeeping columns always there, DuckDB's
    loads never need it, in a first load, a next one, or one that deletes. (PostgreSQL's always
    do: dlt turns the Parquet file into the rows its loader sends.)"""
    from dlt.normalize.items_normalizers.arrow import ArrowItemsNormalizer

    rewrites: list[str] = []
    rewrite = ArrowItemsNormalizer._write_with_dlt_columns

    def counted(self: Any, extracted: str, table: str, *args: Any) -> Any:
        rewrites.append(table)
        return rewrite(self, extracted, table, *args)

    monkeypatch.setattr(ArrowItemsNormalizer, "_write_with_dlt_columns", counted)
    loader = Loader(destination, destination.default_dataset)
    load(loader, spill_of(tmp_path / "a", [customer(i) for i in range(30)]), full=True)
    load(loader, spill_of(tmp_path / "b", [customer(i, "again") for i in range(5)]), full=False)
    load(loader, spill_of(tmp_path / "c", [customer(40)], deletes=["cus_0020"]), full=False)
    assert rewrites == ([] if destination.kind == "duckdb" else ["customers"] * 3)
    assert rows(
        loader, "SELECT count(*), count(_dlt_load_id), count(DISTINCT _dlt_load_id) FROM {table}"
    ) == [(30, 30, 3)]
    assert rows(loader, "SELECT count(*) FROM {table} WHERE name = 'again'") == [(5,)]


def test_a_package_left_unloaded_is_aborted_by_the_next_run(
    destination: Destination, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A load that stopped after dlt wrote its package (a process killed between extract and
    load, say) left cursors in the work folder that the database never got. The next run aborts
    the package and takes the database's cursors, so its rows are read again; a package is
    never loaded by a later run (``fresh`` or not)."""
    import contextlib

    from stripe_oauth_nb.errors import DestinationError

    loader = Loader(destination, destination.default_dataset)
    load(
        loader, spill_of(tmp_path / "a", [customer(i) for i in range(5)]), {"created": 5}, full=True
    )

    @contextlib.contextmanager
    def killed(rows: int) -> Iterator[None]:
        raise RuntimeError("the process was killed here")
        yield

    with monkeypatch.context() as patch:
        patch.setattr(destination, "loading", killed)
        with pytest.raises(DestinationError):
            load(loader, spill_of(tmp_path / "b", [customer(9)]), {"created": 9}, full=False)
    pipeline = loader.pipeline(ACCT, False)
    assert pipeline.has_pending_data
    assert loader.states(ACCT, False) == {"customers": {"created": 5}}
    assert not pipeline.has_pending_data
    assert loader.states(ACCT, False, fresh=True) == {"customers": {"created": 5}}
    assert rows(loader, "SELECT count(*) FROM {table}") == [(5,)]
    counts = load(loader, spill_of(tmp_path / "c", [customer(9)]), {"created": 9}, full=False)
    assert (counts.inserted, counts.rows) == (1, 6)
    assert loader.states(ACCT, False) == {"customers": {"created": 9}}


def test_a_first_load_killed_after_its_rows_committed_is_read_again_into_one_row_each(
    destination: Destination, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A table's first load (appended where the destination allows it) whose rows committed,
    the process killed before dlt marked the package loaded: the next run aborts the package
    (it is never loaded again: an append done twice is every row twice), reads from the
    database's cursors (none yet), and the rows it reads replace those in the table."""
    from dlt.load.load import Load

    from stripe_oauth_nb.errors import DestinationError

    def killed(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("the process was killed here")

    with monkeypatch.context() as patch:
        patch.setattr(Load, "complete_package", killed)
        loader = Loader(destination, destination.default_dataset)
        spill = spill_of(tmp_path / "a", [customer(i) for i in range(5)])
        with pytest.raises(DestinationError):
            load(loader, spill, {"created": 5}, full=True)
    assert rows(loader, "SELECT count(*) FROM {table}") == [(5,)]  # committed, not recorded
    assert loader.pipeline(ACCT, False).has_pending_data
    assert loader.states(ACCT, False) == {}  # the database holds no complete load
    counts = load(
        loader, spill_of(tmp_path / "b", [customer(i) for i in range(6)]), {"created": 6}, full=True
    )
    assert (counts.inserted, counts.rows) == (1, 6)
    assert rows(loader, "SELECT count(*), count(DISTINCT id) FROM {table}") == [(6, 6)]
    assert loader.states(ACCT, False) == {"customers": {"created": 6}}


def test_a_spill_tells_whether_two_of_its_rows_share_an_id(tmp_path: Path) -> None:
    """Rows that delete count: a tombstone of an id written is a second row of it."""
    assert Spill(tmp_path / "none").unique_ids()
    spill = spill_of(tmp_path / "a", [customer(i) for i in range(150)], deletes=["cus_0999"])
    assert spill.unique_ids()
    spill.add([customer(149, "again")], ACCT, False, seq=2)
    assert not spill.unique_ids()
    pages = Spill(tmp_path / "b")
    for n in range(70):  # a page at a time, as the readers add them
        pages.add([customer(n)], ACCT, False, seq=1)
    assert pages.unique_ids()
    pages.delete(["cus_0002"], ACCT, False)
    assert not pages.unique_ids()
    pages.remove()
    assert pages.unique_ids()  # nothing left


def written(loader: Loader, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, bool]]:
    """(write disposition, declared deduplicated) of each table of each load from now on, as
    dlt's load step saw them."""
    from dlt.load.load import Load

    seen: list[tuple[str, bool]] = []
    complete = Load.complete_package

    def recorded(self: Load, load_id: str, schema: Any, aborted: bool = False) -> None:
        table = schema.tables["customers"]
        seen.append((table["write_disposition"], bool(table.get("x-stage-data-deduplicated"))))
        complete(self, load_id, schema, aborted)

    monkeypatch.setattr(Load, "complete_package", recorded)
    return seen


def test_each_load_is_written_the_cheapest_way_that_gives_the_merges_rows(
    destination: Destination, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A first load with one row per id is appended (DuckDB) or merged without numbering the
    versions; a load with an id twice is merged with them numbered, the newest kept; the hint
    is cleared again (dlt only ever sets it). The tables hold the merge's rows every time."""
    loader = Loader(destination, destination.default_dataset)
    seen = written(loader, monkeypatch)
    first = ("append", False) if destination.kind == "duckdb" else ("merge", True)
    load(loader, spill_of(tmp_path / "a", [customer(i) for i in range(5)]), full=True)
    twice = Spill(tmp_path / "b")
    twice.add([customer(1, "old"), customer(7, "old")], ACCT, False, seq=1)
    twice.add([customer(1, "new"), customer(7, "new")], ACCT, False, seq=2)
    twice.close()
    counts = load(loader, twice, full=False)
    assert (counts.inserted, counts.updated, counts.rows) == (1, 1, 6)
    counts = load(loader, spill_of(tmp_path / "c", [customer(8)], deletes=["cus_0000"]), full=False)
    assert (counts.inserted, counts.deleted, counts.rows) == (1, 1, 6)
    assert seen == [first, ("merge", False), ("merge", True)]
    found = rows(loader, "SELECT id, name FROM {table} WHERE id IN ('cus_0001', 'cus_0007')")
    assert sorted(found) == [("cus_0001", "new"), ("cus_0007", "new")]
    assert rows(loader, "SELECT count(*), count(DISTINCT id) FROM {table}") == [(6, 6)]


def test_a_first_load_that_deletes_or_repeats_an_id_is_merged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Appending is for a first load that is exactly inserts: a row that deletes, or an id
    twice, and the load goes through the merge, which applies them."""
    with open_destination(db=tmp_path / "stripe.duckdb") as dest:
        loader = Loader(dest, dest.default_dataset)
        seen = written(loader, monkeypatch)
        gone = spill_of(tmp_path / "a", [customer(i) for i in range(3)], deletes=["cus_0009"])
        assert load(loader, gone, full=False).rows == 3
        twice = Spill(tmp_path / "b")
        twice.add([customer(1, "old")], "acct_OTHER", False, seq=1)
        twice.add([customer(1, "new")], "acct_OTHER", False, seq=2)
        twice.close()
        assert load(loader, twice, full=False, account="acct_OTHER").rows == 1
        assert seen == [("merge", True), ("merge", False)]  # ids unique, then not
        with loader.pipeline("acct_OTHER", False).sql_client() as client:
            table = client.make_qualified_table_name("customers")
            sql = f"SELECT name FROM {table} WHERE account_id = 'acct_OTHER'"  # noqa: S608
            found = client.execute_sql(sql)
        assert [tuple(r) for r in found] == [("new",)]


def test_a_spill_without_codec_writes_plain_json_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The benchmark's comparison (``bench/bench_page.py``): the same rows, uncompressed."""
    from stripe_oauth_nb.sync import _spill

    monkeypatch.setattr(_spill, "CODEC", None)
    spill = spill_of(tmp_path, [customer(i) for i in range(3)])
    (only,) = (tmp_path / "spill").iterdir()
    assert only.name == "part-000000.jsonl"
    assert json.loads(only.read_bytes().splitlines()[2])["id"] == "cus_0002"
    assert [r["id"] for t in spill.tables() for r in t.to_pylist()] == [
        "cus_0000",
        "cus_0001",
        "cus_0002",
    ]


@pytest.mark.parametrize("arrays", [True, False], ids=["array parameter", "IN lists"])
def test_a_load_of_many_ids_asks_each_question_in_one_query_where_the_database_can(
    destination: Destination, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, arrays: bool
) -> None:
    """Ids of a load past one ``IN`` list (500): DuckDB and PostgreSQL take them as one array
    parameter, one query a question; other databases get lists of 500. Counts agree."""
    from stripe_oauth_nb.sync import _changes, _idlists, _load
    from stripe_oauth_nb.sync._load import _Counter

    if not arrays:  # what a destination without array parameters gets
        monkeypatch.setattr(_load, "takes_arrays", lambda pipeline: False)
    queries: list[int] = []

    def counted(column: str, ids: Any, *, arrays: bool) -> list[tuple[str, list[Any]]]:
        found = _idlists.id_filters(column, ids, arrays=arrays)
        queries.append(len(found))
        return found

    monkeypatch.setattr(_load, "id_filters", counted)
    monkeypatch.setattr(_changes, "id_filters", counted)
    loader = Loader(destination, destination.default_dataset)
    load(loader, spill_of(tmp_path / "all", [customer(i) for i in range(1_500)]), full=True)
    queries.clear()
    # 900 written again (every 24th changed), 100 new, 600 deleted (of which 550 exist)
    renamed = [i for i in range(600, 1_500) if i % 24 == 0]
    again = [customer(i, "changed" if i in renamed else "") for i in range(600, 1_500)]
    deletes = [f"cus_{i:04d}" for i in [*range(550), *range(9_000, 9_050)]]
    new = [customer(i) for i in range(2_000, 2_100)]
    counts = load(loader, spill_of(tmp_path / "some", again + new, deletes), full=False)
    assert (counts.inserted, counts.updated, counts.deleted, counts.rows) == (
        100,
        len(renamed),
        550,
        1_500 - 550 + 100,
    )
    assert rows(loader, "SELECT count(*) FROM {table} WHERE name = 'changed'") == [(len(renamed),)]
    # ids deleted that exist (600: 2 lists of 500); content before (1,600 ids: 4 lists) and
    # after (the 1,450 found before: 3 lists)
    assert queries == ([1, 1, 1] if arrays else [2, 4, 3])
    with _Counter(loader.pipeline(ACCT, False), (ACCT, False)) as counter:
        names = [f"Customer {i}" for i in range(1_000, 1_600)]
        found = counter.children("customers", "name", names)
    assert sorted(found) == [f"cus_{i:04d}" for i in range(1_000, 1_500) if i not in renamed]
    assert queries[-1] == (1 if arrays else 2)


@pytest.fixture(params=["duckdb", "postgres"])
def machines(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[Path], Destination]:
    """Opens one database from a work folder of the caller's choosing (a machine each)."""
    if request.param == "duckdb":
        db = tmp_path / "stripe.duckdb"
        return lambda work: open_destination(db=db, work_dir=work)
    dsn = request.getfixturevalue("postgres").create_database()
    return lambda work: open_destination(destination="postgres", dsn=dsn, work_dir=work)


def _stored_schemas(loader: Loader) -> list[tuple[str, int]]:
    """dlt's schema copies in the database: (name, copies) per name."""
    with loader.pipeline(ACCT, False).sql_client() as client:
        table = client.make_qualified_table_name("_dlt_version")
        sql = f"SELECT schema_name, count(*) FROM {table} GROUP BY 1"  # noqa: S608
        return [(str(r[0]), int(r[1])) for r in client.execute_sql(sql)]


def test_a_new_machine_continues_every_account_from_the_cursors_in_the_database(
    machines: Callable[[Path], Destination], tmp_path: Path
) -> None:
    """Each load writes the account's cursors into the database (dlt's state), so a loader with
    another work folder (a new machine, a deleted folder) continues from them. The accounts'
    pipelines share one schema name, so the database stores a schema copy per distinct
    content, not one per account (DuckDB rewrote them all at each checkpoint)."""
    accounts = [f"acct_EXAMPLE{n}" for n in range(1, 5)]
    copies = []
    with machines(tmp_path / "one") as dest:
        loader = Loader(dest, dest.default_dataset)
        for n, account in enumerate(accounts):
            spill = Spill(tmp_path / f"spill{n}")
            spill.add([customer(i) for i in range(5)], account, False, seq=1)
            spill.close()
            loader.load(account, False, [Batch("customers", spill, {"created": 10 + n}, True)])
            copies.append(_stored_schemas(loader))
    assert [names for names, _ in copies[0]] == [SCHEMA_NAME]
    assert copies[-1] == copies[0]  # the later accounts stored no copy of their own

    with machines(tmp_path / "two") as dest:
        loader = Loader(dest, dest.default_dataset)
        assert not (tmp_path / "two" / "pipelines" / pipeline_name(ACCT, False)).exists()
        for n, account in enumerate(accounts):
            assert loader.states(account, False) == {"customers": {"created": 10 + n}}


def test_cursors_of_a_pipeline_from_before_the_shared_schema_are_kept(
    destination: Destination, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pipeline first loaded when its schema had the account's pipeline name keeps its
    cursors under that name: they are read until a load under the shared name replaces them."""
    from stripe_oauth_nb.sync import _load

    loader = Loader(destination, destination.default_dataset)
    spill = spill_of(tmp_path / "a", [customer(1)])
    with monkeypatch.context() as patch:
        patch.setattr(_load, "SCHEMA_NAME", pipeline_name(ACCT, False))
        loader.load(
            ACCT,
            False,
            [
                Batch("customers", spill, {"created": 1}, True),
                Batch("charges", Spill(tmp_path / "b"), {"created": 2}, True),
            ],
        )
    assert loader.states(ACCT, False) == {"customers": {"created": 1}, "charges": {"created": 2}}
    counts = load(loader, spill_of(tmp_path / "c", [customer(2)]), {"created": 3}, full=False)
    assert (counts.inserted, counts.rows) == (1, 2)
    assert loader.states(ACCT, False) == {"customers": {"created": 3}, "charges": {"created": 2}}


def _stored_states(loader: Loader) -> dict[str, int]:
    """dlt's state rows in the database, per pipeline."""
    with loader.pipeline(ACCT, False).sql_client() as client:
        table = client.make_qualified_table_name("_dlt_pipeline_state")
        sql = f"SELECT pipeline_name, count(*) FROM {table} GROUP BY 1"  # noqa: S608
        return {str(r[0]): int(r[1]) for r in client.execute_sql(sql)}


def test_each_account_keeps_only_its_newest_state_in_the_database(
    destination: Destination, tmp_path: Path
) -> None:
    """dlt adds a state row at every load whose state changed and never deletes one; the loader
    keeps each account's newest (the one dlt restores), so the table does not grow by a row per
    account and run."""
    loader = Loader(destination, destination.default_dataset)
    for n in range(3):
        load(loader, spill_of(tmp_path / f"a{n}", [customer(n)]), {"created": n}, full=False)
    other = "acct_EXAMPLE2"
    spill = Spill(tmp_path / "b")
    spill.add([customer(9)], other, False, seq=1)
    spill.close()
    loader.load(other, False, [Batch("customers", spill, {"created": 9}, True)])
    assert _stored_states(loader) == {pipeline_name(ACCT, False): 1, pipeline_name(other, False): 1}
    assert loader.states(ACCT, False, fresh=True) == {"customers": {"created": 2}}
    assert rows(loader, "SELECT count(*) FROM {table}") == [(4,)]
