"""How the sync paces its loads against its reading: a resource that is read is loaded while the
account's other resources are still read (so little is left to load when reading ends), and the
tables are still equal to the API when one account's resources arrive in several loads."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from _sync_helpers import START, install, manager, sandbox_counts, sync_app, table_counts

from stripe_oauth_nb.sandbox import Sandbox
from stripe_oauth_nb.sync import Progress, sync
from stripe_oauth_nb.sync import _sync as sync_module

pytest.importorskip("dlt")


@pytest.fixture(scope="module")
def slow_world() -> Iterator[Sandbox]:
    """Enough charges for several pages, and a round trip on every answer: the small lists
    are read long before the large ones."""
    with Sandbox(customers=300, rate_limit=False, latency_ms=120, start=START) as sb:
        yield sb


def progress_of(
    sb: Sandbox, tmp_path: Path, wait: float, rows: int, monkeypatch: pytest.MonkeyPatch
) -> list[Progress]:
    """The progress steps of a full sync whose ready resources wait ``wait`` seconds for
    others once they hold ``rows`` rows; the tables are equal to the API."""
    monkeypatch.setattr(sync_module, "LOAD_WAIT", wait)
    monkeypatch.setattr(sync_module, "LOAD_WAIT_ROWS", rows)
    app = sync_app(sb)
    settings, tokens = manager(sb, app)
    account = install(sb, tokens, app).account_id
    db = tmp_path / "stripe.duckdb"
    seen: list[Progress] = []
    report = sync(settings, tokens, db=db, progress=seen.append, max_windows=1)
    assert report.ok, report.summary()
    assert table_counts(db, account) == sandbox_counts(sb, account)
    return seen


@pytest.mark.slow
def test_ready_resources_are_loaded_while_the_rest_is_read(
    slow_world: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = progress_of(slow_world, tmp_path, 0.0, 0, monkeypatch)
    first_loaded = next(i for i, p in enumerate(seen) if p.stage == "loaded")
    last_read = max(i for i, p in enumerate(seen) if p.stage == "reading")
    assert first_loaded < last_read  # a table was loaded before the last page was read


@pytest.mark.slow
@pytest.mark.parametrize(
    ("wait", "rows"),
    [(3600.0, 0), (0.05, 10**9)],
    ids=["no-wait-limit", "too-few-rows-to-load-alone"],
)
def test_otherwise_the_account_is_loaded_once_when_read(
    slow_world: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, wait: float, rows: int
) -> None:
    seen = progress_of(slow_world, tmp_path, wait, rows, monkeypatch)
    first_loading = next(i for i, p in enumerate(seen) if p.stage == "loading")
    assert all(p.stage != "reading" for p in seen[first_loading:])  # one load, after reading
