"""Stripe's request rates, and the toolkit's one client-side rate limiter.

Stripe allows an account 100 requests a second in live mode and 25 in test mode, and each
endpoint 25 a second (counted against the account's limit too). :class:`RequestLimiter` gives
every request a send time: at least ``1/rate`` after every other request of the account, and at
least ``1/endpoint_rate`` after the previous request to the same endpoint. Sends are spaced
evenly (no bursts), a little under the limits (``headroom``), so a server counting requests over
any one second never sees more than its limit, even when the network delays some of them.

A reservation waiting for its endpoint does not hold the account's slot in the meantime: each
send time is fitted into the first free gap of the account's schedule, so a saturated endpoint
(charges) never slows the others (prices, events) down. :meth:`RequestLimiter.pause` holds an
endpoint back after a 429.

Its users: the SQL sync (one limiter per account, under the API client's retries:
``sync/_limiter.py``), and the token endpoint, where the app developer's key makes every
refresh of one mode count against one account (:class:`ModeLimiter`: ``tokens refresh --all``
and the install app). Every refresh of a process, a sync's (a token that expires mid-load) as
well as ``refresh --all``'s, waits its turn on one :func:`token_endpoint_limiter`.
"""

from __future__ import annotations

import bisect
import threading
import time
from collections.abc import Callable, Mapping
from typing import Final

__all__ = [
    "DEFAULT_HEADROOM",
    "ENDPOINT_RATE",
    "LIVE_RATE",
    "STRIPE_RATES",
    "TEST_RATE",
    "ModeLimiter",
    "RequestLimiter",
    "token_endpoint_limiter",
]

#: Stripe's documented limits (requests per second), per account by mode, and per endpoint.
STRIPE_RATES: Final[Mapping[str, float]] = {"live": 100.0, "test": 25.0}
LIVE_RATE: Final = STRIPE_RATES["live"]
TEST_RATE: Final = STRIPE_RATES["test"]
ENDPOINT_RATE: Final = 25.0
#: Fraction of a limit the sync's limiter uses: requests leave evenly spaced at 95% of it.
DEFAULT_HEADROOM: Final = 0.95


class RequestLimiter:
    """Send times for one account's requests (thread-safe): the toolkit's one rate limiter.

    ``rate``: the account's requests per second (None: no account limit); ``endpoint_rate``:
    per endpoint (None: none). ``clock``/``sleep`` are injectable for tests.
    """

    def __init__(
        self,
        rate: float | None,
        endpoint_rate: float | None = ENDPOINT_RATE,
        *,
        headroom: float = DEFAULT_HEADROOM,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not 0 < headroom <= 1:
            raise ValueError(f"headroom must be in (0, 1], not {headroom}")
        self.rate = rate
        self.endpoint_rate = endpoint_rate
        self._gap = 1.0 / (rate * headroom) if rate else 0.0
        self._endpoint_gap = 1.0 / (endpoint_rate * headroom) if endpoint_rate else 0.0
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._slots: list[float] = []  # the account's reserved send times, sorted
        self._next: dict[str, float] = {}  # per endpoint: earliest next send time
        self._paused: dict[str, float] = {}  # per endpoint: no send before this time

    @classmethod
    def for_mode(cls, livemode: bool, **options: object) -> RequestLimiter:
        """Stripe's limits for an account in live (100/s) or test (25/s) mode."""
        rate = STRIPE_RATES["live" if livemode else "test"]
        return cls(rate, ENDPOINT_RATE, **options)  # type: ignore[arg-type]

    def reserve(self, endpoint: str) -> float:
        """Reserve a send time for a request to ``endpoint``; return it (``clock`` time)."""
        with self._lock:
            now = self._clock()
            start = max(now, self._next.get(endpoint, now), self._paused.get(endpoint, now))
            when = self._fit(start, now) if self._gap else start
            if self._endpoint_gap:
                self._next[endpoint] = when + self._endpoint_gap
            return when

    def _fit(self, start: float, now: float) -> float:
        """The first time >= start at least one gap away from every reserved slot."""
        slots = self._slots
        del slots[: bisect.bisect_left(slots, now - self._gap)]  # forget the past
        when = start
        for slot in slots[max(bisect.bisect_left(slots, when - self._gap) - 1, 0) :]:
            if slot + self._gap <= when:
                continue
            if when + self._gap <= slot:
                break
            when = slot + self._gap
        bisect.insort(slots, when)
        return when

    def acquire(self, endpoint: str) -> float:
        """Wait for this request's turn; return the seconds waited."""
        wait = self.reserve(endpoint) - self._clock()
        if wait > 0:
            self._sleep(wait)
            return wait
        return 0.0

    def pause(self, endpoint: str, seconds: float) -> None:
        """Send nothing more to ``endpoint`` for ``seconds`` (after a 429)."""
        with self._lock:
            until = self._clock() + max(seconds, 0.0)
            self._paused[endpoint] = max(self._paused.get(endpoint, 0.0), until)


class ModeLimiter:
    """One :class:`RequestLimiter` per mode, for one endpoint called with one key (the token
    endpoint): at most ``rates[mode]`` requests in any one-second window, evenly spaced."""

    def __init__(
        self,
        rates: Mapping[str, float] = STRIPE_RATES,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._limiters = {
            mode: RequestLimiter(rate, None, headroom=1.0, clock=clock, sleep=sleep)
            for mode, rate in rates.items()
            if rate > 0
        }

    def wait(self, mode: str) -> float:
        """Wait for the next turn of ``mode`` (no wait for a mode without a rate)."""
        limiter = self._limiters.get(mode)
        return limiter.acquire(mode) if limiter is not None else 0.0


_token_endpoint: ModeLimiter | None = None
_token_endpoint_guard = threading.Lock()


def token_endpoint_limiter() -> ModeLimiter:
    """The process's one limiter of the token endpoint at Stripe's rates: every
    :class:`~stripe_oauth_nb.tokens.TokenManager` of the process waits on it before a refresh is
    sent, so a sync's refreshes and ``refresh --all``'s share one budget."""
    global _token_endpoint
    with _token_endpoint_guard:
        if _token_endpoint is None:
            _token_endpoint = ModeLimiter(STRIPE_RATES)
        return _token_endpoint
