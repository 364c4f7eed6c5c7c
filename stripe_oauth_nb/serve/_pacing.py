"""Token requests of this process, evenly spaced so many installs at once stay under the limit.

Every exchange is authenticated with the app developer's secret key, so the developer account's
rate limits cover them all: 25 requests a second per endpoint (and 25 or 100 per account in test
or live mode). A 429 on an exchange cannot be retried (a code is never sent twice), so the
visitor would have to start again: instead each exchange waits for its turn, at least
``1 / rate`` after the previous one of the same mode. With several server processes, give each
its share (``rate / processes``).

Replace with the toolkit's shared rate limiter once there is one (the token and sync steps each
grow one); this is the smallest that keeps the promise.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Final

__all__ = ["DEFAULT_TOKEN_RATE", "Pacer"]

#: Exchanges per second and mode: Stripe's 25 per endpoint, with 10% headroom.
DEFAULT_TOKEN_RATE: Final = 22.5


class Pacer:
    """``wait(mode)`` returns when this process may send its next token request in ``mode``."""

    def __init__(
        self,
        rate: float = DEFAULT_TOKEN_RATE,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self._gap = 1.0 / rate
        self._clock, self._sleep = clock, sleep
        self._lock = threading.Lock()
        self._next: dict[str, float] = {}

    def wait(self, mode: str) -> float:
        """Sleep until this request's turn; return the seconds waited."""
        with self._lock:
            now = self._clock()
            turn = max(now, self._next.get(mode, now))
            self._next[mode] = turn + self._gap
        delay = turn - now
        if delay > 0:
            self._sleep(delay)
        return delay
