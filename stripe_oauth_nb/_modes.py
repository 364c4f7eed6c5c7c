"""Stripe's two worlds, test mode and live mode: every key, token and object is in one."""

from __future__ import annotations

from typing import Literal

__all__ = ["MODES", "Mode"]

Mode = Literal["test", "live"]
MODES: tuple[Mode, Mode] = ("test", "live")
