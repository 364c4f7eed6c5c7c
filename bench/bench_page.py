"""Where the CPU of a 100-object page goes, step by step, next to the alternatives; print figures.

``bench_sync.py`` measures a whole page read to loaded (the difference of two syncs of the
charges alone). This script takes real pages of charges from the sandbox (its own process, no
rate limit) and times each step of the sync on them in this process, a step at a time, so the
figures do not depend on how the reader threads and the load overlap:

1. parsing the page's JSON (``orjson``, as the API client does);
2. making rows and writing them to the spill (``Spill.add``), compressed as the sync does and,
   beside it, plain JSON lines (the spill before Zstandard);
3. reading the spill back as Arrow tables (pyarrow's JSON reader), both ways;
4. loading the rows into a new DuckDB file with dlt (``Loader.load``: extract, normalize, the
   merge through dlt's staging table), with every batch carrying its bookkeeping columns (as the
   sync does) and without them (dlt then writes each row to Parquet a second time), with the
   number of Parquet files dlt rewrote;
5. beside it, the floor of a DuckDB load: the same rows inserted straight into a table from one
   Parquet file (no staging table, no merge);
6. the dlt load again under each of DuckDB's memory limits in ``--limits`` (the sync's 64 MB
   and the 128 MB of a load of many rows, ``sync/_destination.py``): with enough pages
   (``--pages 450``) the rows no longer fit in 64 MB and DuckDB spills to disk;
7. the same first load written each way the loader can (``_load._writes``): dlt's merge with
   each id's versions numbered (every load before), the merge told the ids are unique, and the
   append a table's first load now gets;
8. the dlt load again with DuckDB on one thread (the sync's, ``THREADS``) and on two.

Steps 4, 6 and 8 load as the sync does: a table's first load is appended (step 7).

Every step runs as in a sync (Arrow's allocator and the collector's thresholds as a sync sets
them), the alternatives in turn first. The CPU is every thread's of this process (DuckDB's and
Arrow's included). Bytes written are this process's (Linux
``/proc/self/io``), since writing costs CPU in the kernel.

    python bench/bench_page.py [--customers 20000] [--pages 100] [--repeat 3] [--limits 64MB,128MB]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/bench_sync.py

from bench_sync import MODE, install, register_app, sandbox

from stripe_oauth_nb._http import httpx
from stripe_oauth_nb.sync._memory import fewer_collections, thin_allocators

ACCOUNT = "acct_BENCH"


def written() -> int:
    """Bytes this process has written so far (Linux)."""
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("wchar:"):
            return int(line.split()[1])
    return 0


@contextmanager
def measured(into: dict[str, list[float]], name: str) -> Iterator[None]:
    """Add the CPU seconds (every thread of the process) and MB written of the block to
    ``into[name]``, ``into[name + ' MB']``."""
    cpu, wrote = time.process_time(), written()
    yield
    into.setdefault(name, []).append(time.process_time() - cpu)
    into.setdefault(f"{name} MB", []).append((written() - wrote) / 1e6)


def fetch_pages(customers: int, pages: int) -> list[bytes]:
    """``pages`` pages of 100 charges, the API's bytes, from a sandbox of its own."""
    with sandbox(customers, 0, limited=False) as info, tempfile.TemporaryDirectory() as folder:
        app = register_app(info)
        tokens = install(info, app, Path(folder) / "tokens.json")
        headers = {"Authorization": f"Bearer {tokens.access_token.reveal()}"}
        found: list[bytes] = []
        after: str | None = None
        while len(found) < pages:
            params = {"limit": "100", **({"starting_after": after} if after else {})}
            answer = httpx.get(
                f"{info['api_base']}/v1/charges", params=params, headers=headers, timeout=60
            )
            answer.raise_for_status()
            body = answer.json()
            if not body["data"]:
                break
            found.append(answer.content)
            after = body["data"][-1]["id"]
            if not body["has_more"]:
                break
    if len(found) < pages:
        raise SystemExit(f"only {len(found)} pages of charges: use more --customers")
    return found


def one_run(
    pages: list[bytes],
    work: Path,
    into: dict[str, list[float]],
    *,
    flip: bool,
    limits: list[str],
) -> dict[str, int]:
    """Each step once over every page (the alternatives in the other order when ``flip``); the
    number of Parquet files dlt rewrote per layout."""
    import orjson
    from dlt.normalize.items_normalizers.arrow import ArrowItemsNormalizer

    from stripe_oauth_nb.sync import _layout, _load, _spill
    from stripe_oauth_nb.sync._spill import Spill

    with measured(into, "1. parse the page (orjson)"):
        objects = [orjson.loads(page)["data"] for page in pages]

    spills: dict[str, Spill] = {}
    codecs: list[tuple[str | None, str]] = [("zstd", "zstd"), (None, "plain")]
    for codec, name in reversed(codecs) if flip else codecs:
        _spill.CODEC = codec
        spill = Spill(work / f"spill-{name}")
        with measured(into, f"2. rows and spill, {name}"):
            for page in objects:
                spill.add(page, ACCOUNT, True, seq=1)
            spill.close()
        with measured(into, f"3. spill read back, {name}"):
            tables = list(spill.tables())
        del tables
        spills[name] = spill
    _spill.CODEC = "zstd"
    del objects  # the load runs with the pages' objects gone, as in a sync

    rewrites: dict[str, int] = {}
    rewrite = ArrowItemsNormalizer._write_with_dlt_columns
    keep = _layout.with_bookkeeping
    layouts = ["bookkeeping columns", "as read"]
    for layout in reversed(layouts) if flip else layouts:
        count: list[str] = []

        def counted(
            self: Any, extracted: str, table: str, *args: Any, _count: list[str] = count
        ) -> Any:
            _count.append(table)
            return rewrite(self, extracted, table, *args)

        ArrowItemsNormalizer._write_with_dlt_columns = counted  # type: ignore[method-assign,assignment]
        _load.with_bookkeeping = keep if layout == "bookkeeping columns" else _as_read  # type: ignore[attr-defined]
        try:
            db = work / f"{layout.split()[0]}.duckdb"
            timed_load(spills["zstd"], db, into, f"4. dlt load into DuckDB, {layout}")
        finally:
            ArrowItemsNormalizer._write_with_dlt_columns = rewrite  # type: ignore[method-assign]
            _load.with_bookkeeping = keep  # type: ignore[attr-defined]
        rewrites[layout] = len(count)

    straight_into(spills["zstd"], work, into)
    limits = limits[::-1] if flip else limits
    under_each(
        spills["zstd"], work, into, "MEMORY_LIMIT", limits, "6. dlt load into DuckDB, limit {}"
    )
    threads = [2, 1] if flip else [1, 2]
    under_each(
        spills["zstd"], work, into, "THREADS", threads, "8. dlt load into DuckDB, threads {}"
    )
    written_ways(spills["zstd"], work, into, flip=flip)
    for spill in spills.values():
        spill.remove()
    return rewrites


def _as_read(table: Any) -> Any:
    return table


def straight_into(spill: Any, work: Path, into: dict[str, list[float]]) -> None:
    """The floor of a DuckDB load: the rows from one Parquet file into a table, no staging."""
    import duckdb
    import pyarrow as pa
    import pyarrow.parquet as pq

    source = work / "rows.parquet"
    pq.write_table(pa.concat_tables(list(spill.tables()), promote_options="default"), source)
    db = work / "straight.duckdb"
    connection = duckdb.connect(str(db), config={"memory_limit": "128MB"})
    try:
        connection.execute(
            "CREATE TABLE charges AS SELECT * FROM read_parquet(?) LIMIT 0", [str(source)]
        )
        with measured(into, "5. DuckDB insert, no staging (floor)"):
            connection.execute("INSERT INTO charges SELECT * FROM read_parquet(?)", [str(source)])
            connection.execute("CHECKPOINT")
    finally:
        connection.close()


def under_each(
    spill: Any, work: Path, into: dict[str, list[float]], setting: str, values: list[Any], step: str
) -> None:
    """The dlt load (bookkeeping columns) into a new DuckDB file with the destination's
    ``setting`` (a name in ``sync/_destination.py``) at each of ``values`` in turn."""
    from stripe_oauth_nb.sync import _destination

    default = getattr(_destination, setting)
    for value in values:
        setattr(_destination, setting, value)
        try:
            db = work / f"{setting}-{value}.duckdb"
            timed_load(spill, db, into, step.format(value))
        finally:
            setattr(_destination, setting, default)


def written_ways(spill: Any, work: Path, into: dict[str, list[float]], *, flip: bool) -> None:
    """The first load written each way (``_load._writes`` chooses; here each is imposed)."""
    from stripe_oauth_nb.sync import _load

    ways: dict[str, tuple[Any, bool]] = {
        "merge, versions numbered": (_load.MERGE, False),
        "merge, one row per id": (_load.MERGE, True),
        "append": ("append", False),
    }
    chosen = _load._writes
    for n, name in enumerate(reversed(ways) if flip else ways):

        def imposed(batch: Any, *, appends: bool, _way: tuple[Any, bool] = ways[name]) -> Any:
            return _way

        _load._writes = imposed
        try:
            timed_load(spill, work / f"way-{n}.duckdb", into, f"7. dlt load into DuckDB, {name}")
        finally:
            _load._writes = chosen


def timed_load(spill: Any, db: Path, into: dict[str, list[float]], name: str) -> None:
    """The spill's charges loaded by the sync's loader into a new DuckDB file, timed as
    ``name`` (the pipeline made before the clock: a fixed cost)."""
    from stripe_oauth_nb.sync._destination import open_destination
    from stripe_oauth_nb.sync._load import Batch, Loader

    with open_destination(db=db) as destination:
        loader = Loader(destination, destination.default_dataset)
        loader.pipeline(ACCOUNT, True)
        batch = Batch("charges", spill, {}, True)
        with measured(into, name):
            loader.load(ACCOUNT, True, [batch])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=20_000, help="the sandbox's size")
    parser.add_argument("--pages", type=int, default=100, help="pages of 100 charges timed")
    parser.add_argument("--repeat", type=int, default=3, help="runs (the median is shown)")
    parser.add_argument(
        "--limits", default="64MB,128MB", help="DuckDB memory limits of step 6, comma-separated"
    )
    args = parser.parse_args()
    limits = [x.strip() for x in args.limits.split(",") if x.strip()]
    pages = fetch_pages(args.customers, args.pages)
    objects = 100 * len(pages)
    into: dict[str, list[float]] = {}
    rewrites: dict[str, int] = {}
    thin_allocators()  # as a sync sets them up
    with fewer_collections():  # as while a sync runs
        for run in range(args.repeat):
            with tempfile.TemporaryDirectory() as folder:
                rewrites = one_run(pages, Path(folder), into, flip=run % 2 == 1, limits=limits)
    size = sum(len(p) for p in pages) / len(pages) / 1000
    print(
        f"{len(pages)} pages of 100 charges ({size:.0f} KB each, from the sandbox, mode {MODE}); "
        f"CPU per 100 objects, median of {args.repeat} runs:"
    )
    print(f"  {'step':<48} {'ms':>7} {'MB written':>11}")
    for name in sorted(k for k in into if not k.endswith(" MB")):
        ms = statistics.median(into[name]) / objects * 100 * 1000
        mb = statistics.median(into[f"{name} MB"])
        print(f"  {name:<48} {ms:7.2f} {mb:11.1f}")
    shown = ", ".join(f"{k}: {v}" for k, v in rewrites.items())
    print(f"  Parquet files dlt's normalize step wrote again, per layout: {shown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
