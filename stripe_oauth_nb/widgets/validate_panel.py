"""The validation panel: check the access token, preview data, pull a whole list with a bar.

The panel only calls the core (:func:`stripe_oauth_nb.api.validate`, ``ApiClient.get`` and
``ApiClient.dataframe``) and shows what comes back. Progress reaches the bar through the core's
plain ``progress(done, total)`` callback (:class:`ProgressBar`). Key widgets carry
``som-validate-…``/``som-data-…`` CSS classes for browser tests.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import ipywidgets as w

from .._errors import StripeOAuthNBError
from ..api import ApiClient, ValidationReport, validate
from ..api._table import table_of
from ._common import explain, on_click, safe_text
from ._style import status_html, table_html

if TYPE_CHECKING:  # pragma: no cover
    import pandas

__all__ = ["ProgressBar", "ValidatePanel"]


class ProgressBar(w.VBox):  # type: ignore[misc]  # ipywidgets ships no type hints
    """An ``IntProgress`` and a label, driven by the core's ``progress(done, total)`` callback.

    With an unknown total the bar's end moves ahead of the count, one page at a time.
    """

    def __init__(self, description: str = "Reading", page: int = 100, **kwargs: Any) -> None:
        self.page = page
        self.bar = w.IntProgress(value=0, min=0, max=1, description=description)
        self.bar.add_class("som-data-progress")
        self.label = w.Label(value="")
        super().__init__(children=[self.bar, self.label], **kwargs)

    def __call__(self, done: int, total: int | None) -> None:
        end = total if total is not None else done + self.page
        self.bar.max = max(end, 1)
        self.bar.value = min(done, self.bar.max)
        self.label.value = f"{done:,} of {total:,}" if total is not None else f"{done:,} so far"
        self.bar.bar_style = "success" if total is not None and done >= total else ""


def _preview(rows: Iterable[Mapping[str, Any]]) -> str:
    columns, cells = table_of(rows)
    return table_html(columns, cells, css="som-data-table")


class ValidatePanel(w.VBox):  # type: ignore[misc]  # ipywidgets ships no type hints
    """Validate the access token, then preview ``path``'s first rows and pull all of them.

    ``client``: an :class:`ApiClient`, or a function that builds one when first needed (so the
    panel can be shown before tokens exist). After "Load all", the table is in :attr:`frame`.
    ``on_report``: called with each validation report (the walkthrough records it in its flow).
    """

    def __init__(
        self,
        client: ApiClient | Callable[[], ApiClient],
        *,
        path: str = "/v1/customers",
        preview_rows: int = 5,
        on_report: Callable[[ValidationReport], object] | None = None,
        **kwargs: Any,
    ) -> None:
        self._on_report = on_report
        self._client = client if isinstance(client, ApiClient) else None
        self._factory = None if isinstance(client, ApiClient) else client
        self.path = path
        self.preview_rows = preview_rows
        self.report: ValidationReport | None = None
        self.frame: pandas.DataFrame | None = None

        self.run = w.Button(description="Validate token", button_style="primary", icon="check")
        self.run.add_class("som-validate-run")
        self.summary = w.HTML(value="<i>Press “Validate token” to call the API.</i>")
        self.summary.add_class("som-validate-summary")
        self.load = w.Button(description="Load all", icon="download", disabled=True)
        self.load.add_class("som-data-load")
        self.progress = ProgressBar()
        self.preview = w.HTML(value="")
        self.preview.add_class("som-data-preview")
        on_click(self.run, self.validate, self.summary)
        on_click(self.load, self.load_all, self.preview)
        super().__init__(
            children=[
                w.HTML(value=f"<b>Validate and read</b> <code>{html.escape(path)}</code>"),
                self.run,
                self.summary,
                w.HBox(children=[self.load, self.progress]),
                self.preview,
            ],
            **kwargs,
        )
        self.add_class("som-validate-panel")

    @property
    def client(self) -> ApiClient:
        if self._client is None:
            assert self._factory is not None
            self._client = self._factory()
        return self._client

    def _fresh_client(self) -> ApiClient:
        """The client, built again when the panel made it and it was closed meanwhile."""
        client = self.client
        if self._factory is not None and client.closed:
            self._client = None
            client = self.client
        return client

    def _show_error(self, exc: BaseException) -> None:
        self.summary.value = explain(exc)

    def validate(self) -> ValidationReport | None:
        """Run :func:`validate`, show its summary, and preview the first rows when it worked."""
        self.run.disabled = True
        try:
            try:
                report = validate(self._fresh_client())
            except StripeOAuthNBError as exc:
                self._show_error(exc)
                self.load.disabled = True
                return None
            self.report = report
            if self._on_report is not None:
                self._on_report(report)
            self.summary.value = (
                status_html("done", safe_text(report.summary()), label="Validated")
                if report.ok
                else status_html("error", safe_text(report.summary()), label="Validation failed")
            )
            self.load.disabled = not report.ok
            if report.ok:
                self.show_preview()
            return report
        finally:
            self.run.disabled = False

    def show_preview(self) -> None:
        """The first ``preview_rows`` objects of ``path`` as a small table."""
        try:
            page = self._fresh_client().get(self.path, {"limit": self.preview_rows})
        except StripeOAuthNBError as exc:
            self.preview.value = explain(exc)
            return
        rows = [r for r in page.get("data", []) if isinstance(r, dict)]
        more = " (more available)" if page.get("has_more") else ""
        self.preview.value = (
            f"<b>First {len(rows)} row(s) of {html.escape(self.path)}{more}</b>" + _preview(rows)
        )

    def load_all(self) -> pandas.DataFrame | None:
        """Every object of ``path`` into :attr:`frame` (pandas), the bar following the pages."""
        self.load.disabled = True
        try:
            frame = self._fresh_client().dataframe(self.path, progress=self.progress)
        except (StripeOAuthNBError, ImportError) as exc:
            self.preview.value = explain(exc)
            return None
        finally:
            self.load.disabled = False
        self.frame = frame
        rows, cols = frame.shape
        self.preview.value = (
            f"<b>{rows:,} rows × {cols} columns</b> in <code>panel.frame</code>; first "
            f"{min(rows, self.preview_rows)}:"
            + _preview(frame.head(self.preview_rows).to_dict("records"))
        )
        return frame
