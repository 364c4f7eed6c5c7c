"""What counting changed rows costs a load: N customers already in DuckDB, loaded again
unchanged, side by side:

- a full pass, with the content hashes (this sync) and without them (the old count);
- an incremental load of every one of them (a batch of events that touched them all), asking
  the database about its ids as one array parameter (DuckDB and PostgreSQL, ``_idlists``) and
  as ``IN`` lists of 500 ids (any other destination; every destination before): each list is
  one read of the account's table.

    python bench/bench_changes.py [--customers 20000]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from stripe_oauth_nb.sync import _load
from stripe_oauth_nb.sync._destination import open_destination
from stripe_oauth_nb.sync._load import Batch, Loader
from stripe_oauth_nb.sync._spill import Spill

ACCT = "acct_EXAMPLE1"


def customer(n: int) -> dict[str, Any]:
    return {
        "id": f"cus_{n:07d}",
        "object": "customer",
        "created": 1_700_000_000 + n,
        "name": f"Customer {n}",
        "email": f"c{n}@example.com",
        "balance": n % 1000,
        "address": {"city": "Paris", "country": "FR", "line1": f"{n} rue de Rivoli"},
        "metadata": {"n": str(n)},
    }


def run(
    folder: Path, n: int, hashes: bool, *, full: bool = True, arrays: bool = True
) -> tuple[float, float]:
    """Seconds of the first full load and of a second, unchanged, load (a full pass or not)."""
    objects = [customer(i) for i in range(n)]
    seconds = []
    with open_destination(db=folder / "stripe.duckdb") as dest:
        loader = Loader(dest, dest.default_dataset)
        original, takes = _load._Counter.snapshot, vars(_load)["takes_arrays"]
        if not hashes:
            _load._Counter.snapshot = lambda self, resource, batch: None  # type: ignore[method-assign]
        if not arrays:  # what a destination without array parameters gets
            setattr(_load, "takes_arrays", lambda pipeline: False)  # noqa: B010
        try:
            for k in range(2):
                spill = Spill(folder / f"spill{k}")
                spill.add(objects, ACCT, False, seq=1 + k)
                spill.close()
                started = time.perf_counter()
                batch = Batch("customers", spill, {}, full or k == 0)
                counts = loader.load(ACCT, False, [batch])
                seconds.append(time.perf_counter() - started)
                spill.remove()
            assert counts["customers"].rows == n
            assert counts["customers"].updated == 0
        finally:
            _load._Counter.snapshot = original  # type: ignore[method-assign]
            setattr(_load, "takes_arrays", takes)  # noqa: B010
    return seconds[0], seconds[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs (the median is shown)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:  # imports and dlt's first pipeline: not timed
        run(Path(tmp), 100, True)
    print(
        f"{args.customers:,} customers, DuckDB; seconds of a load (first full, then again), "
        f"median of {args.repeat} runs, the cases in turn"
    )
    cases = (
        ("full pass, without hashes (old count)", False, True, True),
        ("full pass, with content hashes", True, True, True),
        ("incremental, ids as one array", True, False, True),
        ("incremental, ids in IN lists of 500", True, False, False),
    )
    times: dict[str, list[tuple[float, float]]] = {label: [] for label, *_ in cases}
    for k in range(args.repeat):
        for label, hashes, full, arrays in cases if k % 2 == 0 else cases[::-1]:
            with tempfile.TemporaryDirectory() as tmp:
                times[label].append(
                    run(Path(tmp), args.customers, hashes, full=full, arrays=arrays)
                )
    for label, found in times.items():
        first = statistics.median(t[0] for t in found)
        again = statistics.median(t[1] for t in found)
        print(f"  {label:40} first {first:6.2f}   again {again:6.2f}")


if __name__ == "__main__":
    main()
