"""The retry policy of ordinary API calls: bounded, idempotent, and Stripe's word first.

A call is retried when Stripe says so (``Stripe-Should-Retry: true``), and never when Stripe says
not to (``Stripe-Should-Retry: false``). Without the header: connection errors (refused, reset,
dropped, timed out), 409 (lock conflicts), 429 (rate limit) and 5xx are retried; everything else
is returned as it is. Waits grow exponentially with jitter, are capped in count and in length, and
are never shorter than a ``Retry-After`` the server sent. A POST carries one ``Idempotency-Key``,
reused by every retry, so Stripe performs it at most once.

The policy lives in a transport (:class:`RetryTransport`) under the client's auth flow, so a
retried request keeps its headers (auth and idempotency key) and each retry is one more attempt on
the wire. The body is read inside the transport, so a connection dropped after the headers is
retried like one dropped before them. No wait runs past the deadline of the call
(:func:`stripe_oauth_nb._http.deadline`): the last answer or error is returned instead. The sleeper
and the random source are injectable, so tests run without waiting.
"""

from __future__ import annotations

import email.utils
import logging
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from .._http import httpx, time_left

__all__ = ["RETRYABLE_STATUSES", "RetryPolicy", "RetryTransport"]

logger = logging.getLogger("stripe_oauth_nb.api")

#: Statuses retried when Stripe sends no ``Stripe-Should-Retry`` header (5xx are added below).
RETRYABLE_STATUSES = frozenset({409, 429})
#: Methods that may be repeated without changing the outcome (a POST needs an idempotency key).
_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "DELETE", "PUT"})
#: Transport errors after which a retry is safe: nothing, or nothing complete, came back.
_RETRYABLE_ERRORS: tuple[type[Exception], ...] = (
    httpx.TimeoutException,
    httpx.NetworkError,
    httpx.RemoteProtocolError,
)


@dataclass
class RetryPolicy:
    """How many times, after which failures, and how long to wait between attempts.

    ``max_retries`` caps the count (so at most ``max_retries + 1`` attempts); each wait is
    ``min(max_delay, base_delay * 2**n)`` scaled by a random factor in ``[1 - jitter, 1]``, and
    at least the server's ``Retry-After`` (when it is no longer than ``max_retry_after``;
    a longer one ends the retries, since waiting minutes inside a call helps nobody).
    """

    max_retries: int = 3
    base_delay: float = 0.5
    max_delay: float = 8.0
    max_retry_after: float = 60.0
    jitter: float = 0.5
    sleep: Callable[[float], None] = time.sleep
    rng: random.Random = field(default_factory=random.Random)

    def backoff(self, retry: int) -> float:
        """The jittered wait before retry number ``retry`` (0 for the first retry)."""
        raw = min(self.max_delay, self.base_delay * (2.0**retry))
        return raw * (1.0 - self.jitter * self.rng.random())

    def delay_after_response(
        self, response: httpx.Response, retry: int, request: httpx.Request
    ) -> float | None:
        """Seconds to wait before retrying after ``response``, or None to return it."""
        if retry >= self.max_retries or not _may_repeat(request):
            return None
        should = response.headers.get("Stripe-Should-Retry")
        if should is not None:
            wanted = should.strip().lower() == "true"
        else:
            status = response.status_code
            wanted = status in RETRYABLE_STATUSES or status >= 500
        if not wanted:
            return None
        delay = self.backoff(retry)
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        if retry_after is not None:
            if retry_after > self.max_retry_after:
                return None
            delay = max(delay, retry_after)
        return delay

    def delay_after_error(
        self, error: Exception, retry: int, request: httpx.Request
    ) -> float | None:
        """Seconds to wait before retrying after a transport error, or None to raise it."""
        if retry >= self.max_retries or not _may_repeat(request):
            return None
        if not isinstance(error, _RETRYABLE_ERRORS):
            return None
        return self.backoff(retry)


def _may_repeat(request: httpx.Request) -> bool:
    return request.method in _IDEMPOTENT or "Idempotency-Key" in request.headers


def parse_retry_after(value: str | None) -> float | None:
    """``Retry-After`` as seconds (delta-seconds or an HTTP date); None when absent or bad."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class RetryTransport(httpx.BaseTransport):
    """A transport that applies a :class:`RetryPolicy` around another transport.

    ``on_retry(request, reason, delay)`` is called before each wait (for logs and tests).
    """

    def __init__(
        self,
        inner: httpx.BaseTransport,
        policy: RetryPolicy | None = None,
        *,
        on_retry: Callable[[httpx.Request, str, float], None] | None = None,
    ) -> None:
        self._inner = inner
        self.policy = policy if policy is not None else RetryPolicy()
        self._on_retry = on_retry

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and "Idempotency-Key" not in request.headers:
            request.headers["Idempotency-Key"] = str(uuid.uuid4())
        retry = 0
        while True:
            try:
                response = _send_and_read(self._inner, request)
            except Exception as exc:
                delay = self.policy.delay_after_error(exc, retry, request)
                if delay is None:
                    raise
                reason = f"{type(exc).__name__}"
                if not _time_for(delay):
                    raise
            else:
                delay = self.policy.delay_after_response(response, retry, request)
                if delay is None or not _time_for(delay):
                    return response
                reason = f"HTTP {response.status_code}"
                response.close()
            retry += 1
            logger.info(
                "retrying %s %s in %.2fs (retry %d of %d) after %s",
                request.method,
                request.url.path,
                delay,
                retry,
                self.policy.max_retries,
                reason,
            )
            if self._on_retry is not None:
                self._on_retry(request, reason, delay)
            self.policy.sleep(delay)

    def close(self) -> None:
        self._inner.close()


def _time_for(delay: float) -> bool:
    """Whether waiting ``delay`` seconds still leaves time before the call's deadline."""
    left = time_left()
    return left is None or delay < left


def _send_and_read(inner: httpx.BaseTransport, request: httpx.Request) -> httpx.Response:
    """Send and read the whole body here, so a connection lost mid-body is retried too."""
    response = inner.handle_request(request)
    try:
        response.read()
    except BaseException:
        response.close()
        raise
    return response
