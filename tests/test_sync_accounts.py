"""``sync(accounts="all")`` over many installs: accounts read in parallel but at most
``parallel`` at a time, each account's failure (a revoked token, a missing permission) its own,
the rest loaded and equal to the sandbox."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from _sync_helpers import (
    READ_ALL,
    START,
    install,
    install_many,
    manager,
    sandbox_counts,
    sync_app,
    table_counts,
)

from stripe_oauth_nb._errors import DestinationError
from stripe_oauth_nb.sandbox import Sandbox
from stripe_oauth_nb.sync import Progress, sync

pytest.importorskip("dlt")


@pytest.fixture
def world() -> Iterator[Sandbox]:
    with Sandbox(customers=2, rate_limit=False, start=START) as sb:
        yield sb


def _readers() -> int:
    """Accounts being read now (an account's thread is ``sync-ACCT``; its windows' have ``-N``)."""
    return len({t.name.split("-")[1] for t in threading.enumerate() if t.name.startswith("sync-")})


@pytest.mark.slow
def test_many_accounts_bounded_and_one_failure_stops_none_of_the_others(
    world: Sandbox, tmp_path: Path
) -> None:
    app = sync_app(world)
    settings, tokens = manager(world, app)
    installed = install_many(world, tokens, app, 7, customers=1)
    revoked, narrow = installed[1], installed[4]
    world.uninstall(revoked.account_id)  # the account removed the app: its tokens are revoked
    # another app of the same developer, without customer_read, installed on one account
    install(
        world,
        tokens,
        sync_app(world, [p for p in READ_ALL if p != "customer_read"]),
        "test",
        narrow.account_id,
    )
    most = 0
    lock = threading.Lock()

    def progress(step: Progress) -> None:
        nonlocal most
        with lock:
            most = max(most, _readers())

    db = tmp_path / "stripe.duckdb"
    report = sync(settings, tokens, db=db, accounts="all", parallel=2, progress=progress)

    assert 1 <= most <= 2  # never more accounts in flight than asked for
    assert not report.ok
    by_account = {a.account_id: a for a in report.accounts}
    assert set(by_account) == {t.account_id for t in installed}
    assert by_account[revoked.account_id].error
    assert "api key" in by_account[revoked.account_id].error.lower()
    assert "FAILED" in report.summary()
    skipped = [t for t in report.tables if t.status == "skipped"]
    assert {(t.account_id, t.permission) for t in skipped} == {(narrow.account_id, "customer_read")}
    assert "customers" in {t.table for t in skipped}
    for t in installed:
        if t is revoked:
            continue
        expected = sandbox_counts(world, t.account_id)
        if t is narrow:
            expected.update({s.table: 0 for s in skipped if s.table in expected})
        assert table_counts(db, t.account_id) == expected, t.account_id
        assert sum(expected.values()) > 0
    assert sum(table_counts(db, revoked.account_id).values()) == 0
    assert _readers() == 0


@pytest.mark.slow
def test_the_duckdb_file_is_reopened_between_accounts_and_nothing_is_lost(
    world: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from stripe_oauth_nb.sync import _destination

    app = sync_app(world)
    settings, tokens = manager(world, app)
    installed = install_many(world, tokens, app, 5, customers=1)
    monkeypatch.setattr(_destination, "REOPEN_EVERY", 2)
    opened = _destination._open_duckdb
    in_flight: list[int] = []

    def counting(path: Path) -> object:
        in_flight.append(_readers())  # accounts being read when the file is (re)opened
        return opened(path)

    monkeypatch.setattr(_destination, "_open_duckdb", counting)
    db = tmp_path / "stripe.duckdb"
    report = sync(settings, tokens, db=db, accounts="all", parallel=2)

    assert report.ok, report.summary()
    # opened once, then again after the 2nd and the 4th account, each time with none in flight
    assert in_flight == [0, 0, 0]
    for t in installed:
        assert table_counts(db, t.account_id) == sandbox_counts(world, t.account_id)

    def refused(path: Path) -> object:  # the file taken by another program meanwhile
        if len(in_flight) >= 4:
            raise DestinationError(f"{path} is open in another program: close it, then sync.")
        return counting(path)

    monkeypatch.setattr(_destination, "_open_duckdb", refused)
    world.advance_clock(86_400)
    again = sync(settings, tokens, db=db, accounts="all", parallel=2)

    failed = [a for a in again.accounts if a.error]
    assert len(failed) == 3  # the two accounts before the reopening were synced
    assert all("open in another program" in (a.error or "") for a in failed)
    assert not again.ok
    assert "Traceback" not in again.summary()
    for t in installed:  # nothing lost: what was loaded stays
        assert table_counts(db, t.account_id) == sandbox_counts(world, t.account_id)
