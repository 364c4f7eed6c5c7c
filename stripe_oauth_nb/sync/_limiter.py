"""The sync's rate limiting: one :class:`~stripe_oauth_nb._ratelimit.RequestLimiter` per
account (Stripe's documented read limits; the limiter itself is the toolkit's one, in
``_ratelimit.py``), put under an API client's retries.

On a 429 the limiter pauses the endpoint for the ``Retry-After`` Stripe sent (one second when it
sent none); the request itself is retried by the client's retry policy (exponential backoff with
jitter, never sooner than ``Retry-After``), which is how Stripe asks clients to back off.

:class:`LimitedTransport` puts the limiter under an ``httpx`` client's retry transport, so every
attempt on the wire (first tries and retries) waits for its turn and is counted.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from dataclasses import dataclass, field

from .._http import httpx
from .._ratelimit import ENDPOINT_RATE, LIVE_RATE, TEST_RATE, RequestLimiter
from ..api._retry import parse_retry_after

__all__ = [
    "ENDPOINT_RATE",
    "LIVE_RATE",
    "TEST_RATE",
    "LimitedTransport",
    "RequestLimiter",
    "RequestStats",
    "endpoint_of",
]

#: Pause after a 429 that carried no Retry-After (seconds).
DEFAULT_PAUSE = 1.0


def endpoint_of(path: str) -> str:
    """The endpoint a path counts against, its route with ids as ``{id}``, as Stripe (and the
    sandbox) count them: ``/v1/charges`` and ``/v1/charges/{id}`` are two endpoints, and so are
    ``/v1/invoices`` and ``/v1/invoices/{id}/lines`` (a sub-list is not its parent's list).

    A segment is an id when it holds a digit or a capital (Stripe's ids end in random
    base-62 characters; the names of resources are lowercase words).
    """
    parts = [p for p in path.split("/") if p]
    named = (p if i == 0 or _WORD.fullmatch(p) else "{id}" for i, p in enumerate(parts))
    return "/" + "/".join(named)


#: A segment of a route that names a resource (not an object's id).
_WORD = re.compile(r"[a-z_]+")


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
        limiter: RequestLimiter | None,
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
