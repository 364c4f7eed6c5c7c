"""The sync panel: load the connected accounts' Stripe data into SQL tables, a bar per table.

It reads its inputs (database file, tables, full pass), calls the core
(:func:`stripe_oauth_nb.sync.sync`) and shows what comes back: a progress bar per table while
reading and loading, then the report, or the error, in the panel. Key widgets carry
``som-sync-…`` CSS classes for browser tests.
"""

from __future__ import annotations

import html
import threading
from typing import TYPE_CHECKING, Any

import ipywidgets as w

from .._errors import StripeOAuthNBError
from ..sync import DEFAULT_DB, RESOURCES, Progress, SyncReport, sync
from ._common import explain, on_click
from ._style import COLOURS, text_layout

if TYPE_CHECKING:  # pragma: no cover
    from .._settings import Settings

__all__ = ["SyncPanel"]

_STYLES = {
    "reading": "info",
    "loading": "warning",
    "loaded": "success",
    "skipped": "",
    "failed": "danger",
}


class _TableBar(w.HBox):  # type: ignore[misc]  # ipywidgets ships no type hints
    """One table's bar: rows so far, then its stage."""

    def __init__(self, table: str) -> None:
        self.bar = w.IntProgress(value=0, min=0, max=1, description=table)
        self.bar.style = {"description_width": "160px"}
        self.label = w.Label(value="")
        super().__init__(children=[self.bar, self.label])

    def show(self, rows: int, stage: str) -> None:
        done = stage in ("loaded", "skipped", "failed")
        self.bar.max = max(rows if done else rows + 100, 1)
        self.bar.value = min(rows, self.bar.max) if not done else self.bar.max
        self.bar.bar_style = _STYLES.get(stage, "")
        self.label.value = f"{rows:,} rows, {stage}"


class SyncPanel(w.VBox):  # type: ignore[misc]  # ipywidgets ships no type hints
    """Sync into a DuckDB file (or any destination given in ``options``) and show the report.

    ``tokens`` is a :class:`~stripe_oauth_nb.TokenManager`; ``options`` go to ``sync()``
    (``accounts``, ``mode``, ``destination``, ``dsn``...). The last report is :attr:`report`.
    """

    def __init__(
        self, settings: Settings, tokens: Any, *, db: str = DEFAULT_DB, **options: Any
    ) -> None:
        self.settings = settings
        self.tokens = tokens
        self.options = options
        self.report: SyncReport | None = None
        self._lock = threading.Lock()

        self.db = w.Text(value=str(db), description="Database", **text_layout())
        self.db.add_class("som-sync-db")
        names = [r.name for r in RESOURCES]
        self.tables = w.SelectMultiple(options=names, value=names, rows=6, description="Tables")
        self.tables.add_class("som-sync-tables")
        self.full = w.Checkbox(value=False, description="Read everything again")
        self.run = w.Button(description="Sync", button_style="primary", icon="database")
        self.run.add_class("som-sync-run")
        self.bars = w.VBox(children=[])
        self.bars.add_class("som-sync-bars")
        self.result = w.HTML(value="<i>Press “Sync” to load the tables.</i>")
        self.result.add_class("som-sync-report")
        self._bars: dict[str, _TableBar] = {}
        self._rows: dict[tuple[str, bool, str], int] = {}
        on_click(self.run, self.sync, self.result)
        super().__init__(
            children=[
                w.HTML(value="<b>Stripe data as SQL tables</b>"),
                self.db,
                self.tables,
                self.full,
                self.run,
                self.bars,
                self.result,
            ]
        )
        self.add_class("som-sync-panel")

    def _progress(self, step: Progress) -> None:
        with self._lock:  # the core reports from its reader threads
            self._rows[(step.account_id, step.livemode, step.table)] = step.rows
            rows = sum(n for key, n in self._rows.items() if key[2] == step.table)
            bar = self._bars.get(step.table)
            if bar is None:
                bar = self._bars[step.table] = _TableBar(step.table)
                self.bars.children = [*self.bars.children, bar]
            bar.show(rows, step.stage)

    def sync(self) -> SyncReport | None:
        """Run the sync with the panel's inputs; show the report (or the error)."""
        self.run.disabled = True
        self._bars.clear()
        self._rows.clear()
        self.bars.children = []
        self.result.value = "<i>Syncing…</i>"
        try:
            options = dict(self.options)
            if options.get("destination") in (None, "duckdb"):
                options["db"] = self.db.value.strip() or DEFAULT_DB
            report = sync(
                self.settings,
                self.tokens,
                resources=list(self.tables.value),
                full=self.full.value,
                progress=self._progress,
                **options,
            )
        except StripeOAuthNBError as exc:
            self.result.value = explain(exc)
            return None
        finally:
            self.run.disabled = False
        self.report = report
        colour = COLOURS["done"] if report.ok else COLOURS["error"]
        self.result.value = f"<pre style='color:{colour}'>{html.escape(report.summary())}</pre>"
        return report
