"""Stripe's two worlds, test mode and live mode: every key, token and object is in one."""

from __future__ import annotations

from typing import Literal

__all__ = ["MODES", "Mode", "read_mode"]

Mode = Literal["test", "live"]
MODES: tuple[Mode, Mode] = ("test", "live")


def read_mode(value: object) -> Mode | None:
    """The mode ``value`` names, exactly ``"test"`` or ``"live"``; None for anything else.

    The one reading of a mode, where it enters (a setting, a function's argument, a stored
    record, a form, a query string); the door says what to do with None in its own words, and
    the :data:`Mode` it got travels on.
    """
    return "live" if value == "live" else "test" if value == "test" else None
