"""What counting changed rows costs a load: a full pass over N customers already in DuckDB,
loaded again unchanged, with the content hashes (this sync) and without them (the old count).

    python bench/bench_changes.py [--customers 20000]
"""

from __future__ import annotations

import argparse
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


def run(folder: Path, n: int, hashes: bool) -> tuple[float, float]:
    """Seconds of the first full load and of a second, unchanged, full load."""
    objects = [customer(i) for i in range(n)]
    seconds = []
    with open_destination(db=folder / "stripe.duckdb") as dest:
        loader = Loader(dest, dest.default_dataset)
        original = _load._Counter.snapshot
        if not hashes:
            _load._Counter.snapshot = lambda self, resource, batch: None  # type: ignore[method-assign]
        try:
            for k in range(2):
                spill = Spill(folder / f"spill{k}")
                spill.add(objects, ACCT, False, seq=1)
                spill.close()
                started = time.perf_counter()
                counts = loader.load(ACCT, False, [Batch("customers", spill, {}, True)])
                seconds.append(time.perf_counter() - started)
                spill.remove()
            assert counts["customers"].rows == n
        finally:
            _load._Counter.snapshot = original  # type: ignore[method-assign]
    return seconds[0], seconds[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=20_000)
    args = parser.parse_args()
    print(f"{args.customers:,} customers, DuckDB; seconds of a load (first full, then full again)")
    for label, hashes in (("without hashes (old count)", False), ("with content hashes", True)):
        with tempfile.TemporaryDirectory() as tmp:
            first, again = run(Path(tmp), args.customers, hashes)
        print(f"  {label:28} first {first:6.2f}   again {again:6.2f}")


if __name__ == "__main__":
    main()
