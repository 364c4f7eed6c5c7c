"""Disk is bounded and checked, on a small tmpfs of its own (mounting needs root: CI runs as
root; elsewhere the tests are skipped, never in CI): a full sync that will not fit stops before
it writes; a disk that fills up during a run ends with "free N MB and run again", the tables as
they were, and the next run finishes; what ENOSPC looks like through dlt and DuckDB."""

from __future__ import annotations

import errno
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from _sync_helpers import (
    START,
    db_rows,
    install,
    leftovers,
    manager,
    sandbox_counts,
    sync_app,
    table_counts,
)
from _tmpfs import fill, tmpfs

from stripe_oauth_nb._errors import DiskSpaceError
from stripe_oauth_nb.sandbox import Sandbox
from stripe_oauth_nb.sync import RESOURCES, Progress, sync
from stripe_oauth_nb.sync._disk import RESERVE, DiskBudget, free_bytes, is_disk_full

pytest.importorskip("dlt")

SIZE_MB = 192
#: Fields compared row by row before and after a run that failed.
COMPARED_FIELDS = {
    "customers": ["email", "name"],
    "subscriptions": ["status"],
    "invoices": ["status", "amount_paid"],
    "charges": ["status", "amount_refunded"],
    "balance_transactions": ["status", "net"],
}


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A tmpfs of SIZE_MB of its own, unmounted after the test."""
    with tmpfs(tmp_path / "disk", f"{SIZE_MB}m") as disk:
        yield disk


@pytest.fixture
def world() -> Iterator[Sandbox]:
    with Sandbox(customers=30, rate_limit=False, start=START) as sb:
        yield sb


def _snapshot(db: Path, account: str) -> tuple[dict[str, int], dict[str, object]]:
    rows = {name: db_rows(db, account, name, fields) for name, fields in COMPARED_FIELDS.items()}
    return table_counts(db, account), rows


@pytest.mark.slow
def test_a_full_sync_that_will_not_fit_stops_before_it_writes(
    world: Sandbox, small_disk: Path
) -> None:
    app = sync_app(world)
    settings, tokens = manager(world, app)
    install(world, tokens, app)
    fill(small_disk, RESERVE + (256 << 10))
    db = small_disk / "stripe.duckdb"
    report = sync(settings, tokens, db=db)
    assert not report.ok
    (account,) = report.accounts
    assert account.error is not None
    found = re.search(
        r"needs about (\d+) MB .* (\d+) MB are free: free (\d+) MB and run again", account.error
    )
    assert found, account.error
    assert "Nothing was read or written" in account.error
    assert report.tables == []  # no table was read, none loaded
    assert report.requests <= 2 + len(RESOURCES)  # the age and the first pages: then it stopped
    assert leftovers(db.with_name("stripe.duckdb.sync")) == []
    (small_disk / "filler").unlink()
    assert sync(settings, tokens, db=db).ok  # with room, the same sync runs


@pytest.mark.slow
@pytest.mark.parametrize("stage", ["reading", "loading"])  # spill files; dlt's package, DuckDB
def test_a_disk_that_fills_up_during_a_run_keeps_the_tables_and_the_next_run_finishes(
    world: Sandbox, small_disk: Path, stage: str
) -> None:
    app = sync_app(world)
    settings, tokens = manager(world, app)
    account = install(world, tokens, app).account_id
    db = small_disk / "stripe.duckdb"
    assert sync(settings, tokens, db=db).ok
    before = _snapshot(db, account)
    world.simulate(3)
    filled: list[Path] = []

    def fill_while_reading(step: Progress) -> None:  # another program takes the disk
        if step.stage == stage and not filled:
            filled.append(fill(small_disk))

    report = sync(settings, tokens, db=db, progress=fill_while_reading)
    assert filled
    assert not report.ok
    errors = [t.error for t in report.tables if t.error] + [
        a.error for a in report.accounts if a.error
    ]
    assert errors
    for error in errors:
        assert re.search(r"filled up while .*: free \d+ MB and run again", error), error
    assert _snapshot(db, account) == before  # the tables are as they were

    filled[0].unlink()
    again = sync(settings, tokens, db=db)
    assert again.ok, again.summary()
    assert table_counts(db, account) == sandbox_counts(world, account)
    assert leftovers(db.with_name("stripe.duckdb.sync")) == []


def test_what_a_full_disk_looks_like(tmp_path: Path) -> None:
    assert is_disk_full(OSError(errno.ENOSPC, "No space left on device"))
    wrapped = RuntimeError("load failed")
    wrapped.__cause__ = OSError(errno.ENOSPC, "full")
    assert is_disk_full(wrapped)
    assert is_disk_full(
        Exception('IO Error: Could not write file "x.wal": No space left on device')
    )
    assert not is_disk_full(OSError(errno.EACCES, "Permission denied"))
    budget = DiskBudget(tmp_path)
    error = budget.full("loading")
    assert isinstance(error, DiskSpaceError)
    assert error.shortfall >= RESERVE
    assert re.search(r"free \d+ MB and run again", str(error))
    with pytest.raises(DiskSpaceError, match=r"free \d+ MB and run again"):
        budget.need(free_bytes(tmp_path) * 2)


class _Pages:
    """A client whose every list answers one full page of objects made in the same second."""

    def __init__(self, account_created: int, created: int) -> None:
        self.account_created, self.created = account_created, created

    def get(self, path: str, params: dict[str, object]) -> dict[str, object]:
        if path == "/v1/account":
            return {"id": "acct_1", "created": self.account_created}
        data = [{"id": f"price_{i}", "created": self.created} for i in range(100)]
        return {"object": "list", "data": data, "has_more": True}


def test_a_page_made_in_one_second_is_not_taken_for_the_accounts_whole_life() -> None:
    """A catalogue imported at once (100 prices in one second) is no rate to extrapolate over
    the account's life: the density is measured over a day at least."""
    from stripe_oauth_nb.sync._disk import MIN_SPAN, estimate

    year = 365 * 86_400
    found = estimate(
        _Pages(1_700_000_000, 1_700_000_000 + year), {"prices": ("/v1/prices", {}, "created")}
    )
    assert found.pages["prices"]["has_more"]
    assert 100 <= found.objects <= 100 * (year // MIN_SPAN + 1)  # not 100 per second for a year
