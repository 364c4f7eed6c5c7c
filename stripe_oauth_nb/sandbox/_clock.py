"""The sandbox clock: the start (frozen) or wall time, plus every move forward.

Split from the state because codes, tokens, worlds and events all read it and none of them owns
it: the token rules ask :meth:`SandboxClock.now` for a code's or token's age, the worlds for how
far to play the business, and the controls move it (``/_sandbox/clock``, ``simulate``).
"""

from __future__ import annotations

import math
import threading
import time

from .._errors import SandboxError

__all__ = ["SandboxClock"]


class SandboxClock:
    """``start`` given: frozen there (only :meth:`advance` moves it); None: the current time,
    and a running clock."""

    def __init__(self, lock: threading.RLock, start: float | None) -> None:
        self._lock = lock
        self.frozen = start is not None
        self.start = int(start if start is not None else time.time())
        self.offset = 0.0

    def now(self) -> float:
        """The sandbox clock: the start (frozen) or wall time, plus every move forward."""
        base = self.start if self.frozen else time.time()
        return base + self.offset

    def advance(self, seconds: float) -> float:
        """Move the sandbox clock forward; return the new time."""
        if not isinstance(seconds, int | float) or not math.isfinite(seconds) or seconds < 0:
            raise SandboxError(
                f"Clock can only move forward by a finite number of seconds, not {seconds!r}."
            )
        with self._lock:
            self.offset += float(seconds)
            return self.now()
