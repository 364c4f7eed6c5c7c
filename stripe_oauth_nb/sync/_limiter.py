"""One client-side rate limiter per account, matching Stripe's documented read limits.

Stripe allows an account 100 requests a second in live mode and 25 in test mode, and each
endpoint 25 a second (counted against the account's limit too). :class:`RateLimiter` gives every
request a send time: at least ``1/rate`` after every other request of the account, and at least
``1/endpoint_rate`` after the previous request to the same endpoint. Sends are spaced evenly (no
bursts), a little under the limits (``headroom``), so a server counting requests over any one
second never sees more than its limit, even when the network delays some of them.

A reservation waiting for its endpoint does not hold the account's slot in the meantime: each
send time is fitted into the first free gap of the account's schedule, so a saturated endpoint
(charges) never slows the others (prices, events) down.

On a 429 the limiter pauses the endpoint for the ``Retry-After`` Stripe sent (one second when it
sent none); the request itself is retried by the client's retry policy (exponential backoff with
jitter, never sooner than ``Retry-After``), which is how Stripe asks clients to back off.

:class:`LimitedTransport` puts the limiter under an ``httpx`` client's retry transport, so every
attempt on the wire (first tries and retries) waits for its turn and is counted.
"""

from __future__ import annotations

import bisect
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from .._api._retry import parse_retry_after
from .._http import httpx

__all__ = [
    "ENDPOINT_RATE",
    "LIVE_RATE",
    "TEST_RATE",
    "LimitedTransport",
    "RateLimiter",
    "RequestStats",
    "endpoint_of",
]

#: Stripe's documented limits (requests per second).
LIVE_RATE = 100.0
TEST_RATE = 25.0
ENDPOINT_RATE = 25.0
#: Fraction of a limit the limiter uses: requests leave evenly spaced at 95% of it.
DEFAULT_HEADROOM = 0.95
#: Pause after a 429 that carried no Retry-After (seconds).
DEFAULT_PAUSE = 1.0


def endpoint_of(path: str) -> str:
    """The endpoint a path counts against: ``/v1/charges/ch_1`` -> ``/v1/charges``."""
    parts = [p for p in path.split("/") if p]
    return "/" + "/".join(parts[:2])


class RateLimiter:
    """Send times for one account's requests (thread-safe).

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
    def for_mode(cls, livemode: bool, **options: object) -> RateLimiter:
        """Stripe's limits for an account in live (100/s) or test (25/s) mode."""
        return cls(LIVE_RATE if livemode else TEST_RATE, ENDPOINT_RATE, **options)  # type: ignore[arg-type]

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


@dataclass
class RequestStats:
    """What went over the wire for one account (thread-safe counters)."""

    requests: Counter[str] = field(default_factory=Counter)
    rate_limited: int = 0
    waited: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count(self, endpoint: str, *, limited: bool, waited: float) -> None:
        with self._lock:
            self.requests[endpoint] += 1
            self.waited += waited
            if limited:
                self.rate_limited += 1

    @property
    def total(self) -> int:
        return sum(self.requests.values())


class LimitedTransport(httpx.BaseTransport):
    """An ``httpx`` transport that waits for the limiter before each request and counts it.

    Put it under the client's retry transport (``ApiClient(transport=...)``), so retries wait
    and count too. ``limiter=None`` only counts.
    """

    def __init__(
        self,
        inner: httpx.BaseTransport,
        limiter: RateLimiter | None,
        stats: RequestStats,
        *,
        default_pause: float = DEFAULT_PAUSE,
    ) -> None:
        self._inner = inner
        self.limiter = limiter
        self.stats = stats
        self._default_pause = default_pause

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        endpoint = endpoint_of(request.url.path)
        waited = self.limiter.acquire(endpoint) if self.limiter is not None else 0.0
        response = self._inner.handle_request(request)
        limited = response.status_code == 429
        if limited and self.limiter is not None:
            delay = parse_retry_after(response.headers.get("Retry-After"))
            self.limiter.pause(endpoint, self._default_pause if delay is None else delay)
        self.stats.count(endpoint, limited=limited, waited=waited)
        return response

    def close(self) -> None:
        self._inner.close()
