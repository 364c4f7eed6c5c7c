"""The one look of every form: a palette, the status line, links, tables, text boxes.

Every form builds its coloured text, links and tables here, so one change restyles them all.
Colours are chosen for contrast on a white background (WCAG AA for normal text). Helpers take
HTML that is already safe (escaped or built here); :func:`escape_cell` escapes values.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from typing import Any, Final, Literal

__all__ = [
    "COLOURS",
    "TEXT_WIDTH",
    "Tone",
    "escape_cell",
    "heading_html",
    "link_html",
    "status_html",
    "table_html",
    "text_layout",
]

Tone = Literal["info", "waiting", "done", "error", "warning", "muted", "current", "locked"]

#: The palette: one colour per meaning.
COLOURS: Final[dict[Tone, str]] = {
    "info": "#0b4f9c",
    "current": "#0b4f9c",
    "waiting": "#7a5900",
    "warning": "#7a5900",
    "done": "#1a7f37",
    "error": "#b42318",
    "muted": "#57606a",
    "locked": "#57606a",
}
#: Labels in front of a status line (text, not emoji: a machine without an emoji font shows
#: empty boxes).
_LABELS: Final[dict[Tone, str]] = {
    "info": "",
    "current": "",
    "waiting": "Waiting",
    "warning": "Warning",
    "done": "Done",
    "error": "Error",
    "muted": "",
    "locked": "",
}
#: Width of text boxes, wide enough for a redirect URI or a file path without cutting it.
TEXT_WIDTH: Final = "46em"


def text_layout(width: str = TEXT_WIDTH) -> dict[str, Any]:
    """``layout`` and ``style`` options of a labelled text box that shows its whole value."""
    import ipywidgets as w

    return {"layout": w.Layout(width=width), "style": {"description_width": "9em"}}


def status_html(tone: Tone, message: str, *, label: str | None = None) -> str:
    """One status line: a bold label in the tone's colour, then ``message`` (safe HTML)."""
    shown = _LABELS[tone] if label is None else label
    prefix = f"<b>{html.escape(shown)}</b>: " if shown else ""
    return (
        f'<p class="som-status som-status-{tone}" style="color:{COLOURS[tone]};'
        f'white-space:pre-wrap;margin:0.3em 0">{prefix}{message}</p>'
    )


def heading_html(tone: Tone, mark: str, title: str) -> str:
    """A section title with its state mark (``✓``, ``▶``, ``·``)."""
    return (
        f'<h3 class="som-heading som-heading-{tone}" style="color:{COLOURS[tone]}">'
        f"{html.escape(mark)} {html.escape(title)}</h3>"
    )


def link_html(url: str, text: str) -> str:
    """A link that looks like one and opens in a new tab without a referrer."""
    return (
        f'<a class="som-link" href="{html.escape(url, quote=True)}" target="_blank" '
        f'rel="noopener noreferrer" style="color:{COLOURS["info"]};text-decoration:underline">'
        f"{html.escape(text)}</a>"
    )


def escape_cell(value: object) -> str:
    return html.escape("" if value is None else str(value))


def table_html(
    columns: Sequence[str] | None, rows: Iterable[Sequence[object]], *, css: str = "som-table"
) -> str:
    """A plain table: a header row (unless ``columns`` is None: then each row's first cell is
    its heading), then ``rows``; every value escaped."""
    th = "<th style='text-align:left;padding-right:1em'>{}</th>"
    head = (
        "<tr>" + "".join(th.format(escape_cell(c)) for c in columns) + "</tr>"
        if columns is not None
        else ""
    )
    body = "".join(
        "<tr>"
        + "".join(
            th.format(escape_cell(v))
            if columns is None and i == 0
            else f"<td>{escape_cell(v)}</td>"
            for i, v in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table class='{css}'>{head}{body}</table>"
