"""The sync panel, headless: click Sync against the sandbox; a bar per table; errors in the form."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from _sync_helpers import START, install, manager, sandbox_counts, sync_app, table_counts

from stripe_oauth_nb.sandbox import Sandbox
from stripe_oauth_nb.sync._resources import TABLES

pytest.importorskip("dlt")
pytest.importorskip("ipywidgets")

from stripe_oauth_nb.widgets.sync_panel import SyncPanel


@pytest.fixture(scope="module")
def world() -> Iterator[Sandbox]:
    with Sandbox(customers=15, rate_limit=False, start=START) as sb:
        yield sb


def test_sync_click_loads_and_shows_a_bar_per_table(world: Sandbox, tmp_path: Path) -> None:
    app = sync_app(world)
    settings, tokens = manager(world, app)
    account = install(world, tokens, app).account_id
    panel = SyncPanel(settings, tokens, db=str(tmp_path / "panel.duckdb"))
    assert "som-sync-run" in panel.run._dom_classes
    panel.run.click()
    assert panel.report is not None
    assert panel.report.ok
    assert "Synced into" in panel.result.value
    assert len(panel.bars.children) == len(TABLES)  # one per table, child tables included
    assert all(bar.bar.bar_style == "success" for bar in panel.bars.children)
    assert table_counts(tmp_path / "panel.duckdb", account) == sandbox_counts(world, account)
    assert not panel.run.disabled


def test_errors_show_in_the_form(world: Sandbox, tmp_path: Path) -> None:
    app = sync_app(world)
    settings, tokens = manager(world, app)
    install(world, tokens, app)
    notes = tmp_path / "notes.duckdb"
    notes.write_text("not a database\n" * 5)
    panel = SyncPanel(settings, tokens, db=str(notes))
    assert panel.sync() is None
    assert "is not a DuckDB database" in panel.result.value
    panel.db.value = str(tmp_path / "ok.duckdb")
    panel.tables.value = ()
    assert panel.sync() is None
    assert "No resource was named" in panel.result.value
