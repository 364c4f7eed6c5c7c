"""The sandbox's own log filter: no noise for a response it cuts short on purpose.

(Masking and query stripping, which every server of the package needs, are installed by
:mod:`stripe_oauth_nb._serving`.) The filter sits on uvicorn's own ``uvicorn.error`` logger, so it
applies whatever handlers the host process configured; installing it twice is harmless.
"""

from __future__ import annotations

import logging
import threading

__all__ = ["expect_drop", "install_log_filters"]

_DROP_MESSAGE = "ASGI callable returned without completing response."


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
    """Put the drop filter on uvicorn's error log (once); the masking and query-stripping
    filters every server gets come from :mod:`stripe_oauth_nb._serving`."""
    global _installed
    with _install_lock:
        if _installed:
            return
        logging.getLogger("uvicorn.error").addFilter(_DROPS)
        _installed = True
