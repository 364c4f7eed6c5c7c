"""Stripe's rate limits as token buckets: per account (and mode), and per endpoint within it.

Exact semantics (a client-side limiter that matches them never sees a 429):

- Every API request authenticated for an account is counted against two buckets: the
  account's global bucket for the request's mode (rate and capacity 100 in live mode, 25 in
  test mode) and the bucket of the endpoint it calls, for that account and mode (rate and
  capacity 25). An endpoint is the method and the route: ``GET /v1/charges`` (list),
  ``GET /v1/charges/{id}`` (retrieve), ``POST /v1/oauth/token``...
- A bucket starts full and refills continuously at its rate (tokens per second of real,
  monotonic time; the sandbox clock's jumps do not refill it), up to its capacity.
- A request is admitted when both buckets hold at least one token; it then takes one from
  each. Otherwise it takes nothing and is refused with 429; ``Retry-After`` is the whole
  seconds (at least 1) until both buckets hold a token again.

So a client may burst up to the capacity and then sustain the rate; a client that spaces its
requests 1/rate seconds apart (or runs a token bucket of the same size) is never refused.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from ._rules import ENDPOINT_RATE, GLOBAL_RATE, Mode

__all__ = ["RateLimiter", "Refusal"]


@dataclass(frozen=True)
class Refusal:
    """Why a request was refused: ``reason`` (``global-rate``/``endpoint-rate``), ``wait``
    seconds until it would pass."""

    reason: str
    wait: float

    @property
    def retry_after(self) -> int:
        return max(1, math.ceil(self.wait))


class _Bucket:
    __slots__ = ("capacity", "rate", "stamp", "tokens")

    def __init__(self, rate: float, now: float) -> None:
        self.rate = rate
        self.capacity = rate
        self.tokens = rate
        self.stamp = now

    def refill(self, now: float) -> None:
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now

    def wait(self) -> float:
        return max(0.0, (1.0 - self.tokens) / self.rate)


_EPSILON: Final = 1e-9


class RateLimiter:
    """Token buckets keyed by (account, mode) and (account, mode, endpoint)."""

    def __init__(
        self, *, enabled: bool = True, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.enabled = enabled
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[tuple[str, ...], _Bucket] = {}

    def _bucket(self, key: tuple[str, ...], rate: float, now: float) -> _Bucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(rate, now)
        else:
            bucket.refill(now)
        return bucket

    def admit(self, account: str, mode: Mode, endpoint: str) -> Refusal | None:
        """Count one request; None when admitted, else why not and for how long."""
        if not self.enabled:
            return None
        with self._lock:
            now = self._clock()
            overall = self._bucket((account, mode), GLOBAL_RATE[mode], now)
            own = self._bucket((account, mode, endpoint), ENDPOINT_RATE, now)
            if overall.tokens >= 1.0 - _EPSILON and own.tokens >= 1.0 - _EPSILON:
                overall.tokens -= 1.0
                own.tokens -= 1.0
                return None
            reason = "global-rate" if overall.tokens < 1.0 - _EPSILON else "endpoint-rate"
            return Refusal(reason, max(overall.wait(), own.wait()))

    def reset(self) -> None:
        """Every bucket full again."""
        with self._lock:
            self._buckets.clear()
