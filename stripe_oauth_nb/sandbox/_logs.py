"""Log hygiene for the sandbox's server: no secrets, no query strings, no expected noise.

Filters sit on uvicorn's own loggers (``uvicorn.access``, ``uvicorn.error``), so they apply
whatever handlers the host process configured; installing them twice is harmless.
"""

from __future__ import annotations

import logging
import threading

from .._masking import MaskingFilter

__all__ = ["expect_drop", "install_log_filters"]

_DROP_MESSAGE = "ASGI callable returned without completing response."


class _AccessLogFilter(logging.Filter):
    """Strip query strings from access-log paths (tokens and codes can travel there)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5 and isinstance(args[2], str):
            record.args = (*args[:2], args[2].split("?", 1)[0], *args[3:])
        return True


class _ExpectedDropFilter(logging.Filter):
    """Swallow uvicorn's complaint about a response the sandbox cut short on purpose."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._pending = 0

    def expect(self) -> None:
        with self._lock:
            self._pending += 1

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg != _DROP_MESSAGE:
            return True
        with self._lock:
            if self._pending > 0:
                self._pending -= 1
                return False
        return True


_DROPS = _ExpectedDropFilter()
_installed = False
_install_lock = threading.Lock()


def expect_drop() -> None:
    """Announce one deliberately incomplete response (its uvicorn error line is dropped)."""
    _DROPS.expect()


def install_log_filters() -> None:
    """Put the masking, query-stripping and drop filters on uvicorn's loggers (once)."""
    global _installed
    with _install_lock:
        if _installed:
            return
        access = logging.getLogger("uvicorn.access")
        access.addFilter(_AccessLogFilter())
        access.addFilter(MaskingFilter())
        error = logging.getLogger("uvicorn.error")
        error.addFilter(_DROPS)
        error.addFilter(MaskingFilter())
        _installed = True
