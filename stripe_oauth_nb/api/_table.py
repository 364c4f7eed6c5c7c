"""Stripe objects as a small table for people: which columns, and one format per kind of value.

Views (the validation panel, the CLI) show previews through :func:`table_of`, so every table
shows a timestamp the same way (``2024-01-01 00:00 UTC``), whether the objects came straight
from the API (Unix seconds) or from a DataFrame (timestamps).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final

__all__ = ["PREVIEW_COLUMNS", "format_cell", "table_of"]

#: Columns shown first when the objects have them (customers), in this order.
PREVIEW_COLUMNS: Final = ("id", "name", "email", "created", "amount", "currency", "status")
_MAX_CELL: Final = 60


def _is_time_field(name: str) -> bool:
    return name in ("created", "date", "arrival_date") or name.endswith(("_at", "_date"))


def format_cell(name: str, value: object) -> str:
    """``value`` of field ``name`` as text: times in UTC, nested objects as short JSON."""
    if value is None or (isinstance(value, float) and value != value):  # None or NaN
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if _is_time_field(name) and isinstance(value, int | float):
        return datetime.fromtimestamp(float(value), UTC).strftime("%Y-%m-%d %H:%M UTC")
    strftime = getattr(value, "strftime", None)
    if callable(strftime) and hasattr(value, "tzinfo"):
        return str(strftime("%Y-%m-%d %H:%M UTC"))
    if isinstance(value, Mapping | list | tuple):
        text = json.dumps(value, default=str, separators=(",", ":"))
        return text if len(text) <= _MAX_CELL else text[: _MAX_CELL - 1] + "…"
    return str(value)


def table_of(
    rows: Iterable[Mapping[str, Any]], columns: Sequence[str] | None = None
) -> tuple[list[str], list[list[str]]]:
    """(columns, formatted rows) for ``rows``.

    ``columns`` default: the :data:`PREVIEW_COLUMNS` the objects have, else their scalar fields
    in the order first seen (at most eight).
    """
    records = list(rows)
    if columns is None:
        present = [c for c in PREVIEW_COLUMNS if any(c in r for r in records)]
        if len(present) < 2:
            seen: dict[str, None] = {}
            for record in records:
                for key, value in record.items():
                    if not isinstance(value, Mapping | list):
                        seen.setdefault(key, None)
            present = list(seen)[:8]
        columns = present
    cells = [[format_cell(c, r.get(c)) for c in columns] for r in records]
    return list(columns), cells
