"""The one place that imports the HTTP client library.

HTTPX comes from the maintained ``httpx2`` distribution (same API as ``httpx``). Every other
module imports ``httpx`` from here, so switching distributions is a one-line change.

HTTPX logs every request URL (INFO) and its transport logs response headers (DEBUG), which can
carry an authorization code (a redirect's ``Location``). Importing this module puts a
:class:`~stripe_oauth_nb._masking.MaskingFilter` on those loggers, so turning on DEBUG logging
never prints a whole secret.

Per-read timeouts do not bound a call: a server that trickles one byte a second never trips a
30-second read timeout. :func:`deadline` sets a total time for everything inside its block, and
transports made by :func:`transport` cut every connect, read and write at that time (each is
given the smaller of its own timeout and the time left), so the call fails with an ordinary
``httpx.TimeoutException`` once the deadline has passed.
"""

from __future__ import annotations

import contextvars
import json
import logging
import ssl
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import httpcore2
import httpx2 as httpx

from ._masking import MaskingFilter

__all__ = ["DEFAULT_TIMEOUT", "deadline", "httpx", "stripe_error", "time_left", "transport"]

#: Explicit connect/read/write/pool timeouts for every call the toolkit makes (seconds).
DEFAULT_TIMEOUT = httpx.Timeout(connect=5.0, read=30.0, write=30.0, pool=5.0)

_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "stripe_oauth_nb_deadline", default=None
)


def stripe_error(content: bytes | str | None) -> dict[str, Any]:
    """The ``error`` object of a Stripe error body (``code``, ``type``, ``message``...), or ``{}``.

    The one parser of Stripe's error bodies (the API client, the official library's HTTP client,
    the token endpoint client, the sandbox's app upload). The OAuth shape,
    ``{"error": "invalid_grant", "error_description": "..."}``, is read as
    ``{"code": "invalid_grant", "message": "..."}``.
    """
    try:
        body = json.loads(content) if content is not None else None
    except (TypeError, ValueError):
        return {}
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        return error
    if isinstance(error, str) and isinstance(body, dict):
        description = body.get("error_description")
        return {"code": error, "message": description if isinstance(description, str) else ""}
    return {}


@contextmanager
def deadline(seconds: float) -> Iterator[float]:
    """Within the block, calls through :func:`transport` transports end ``seconds`` from now.

    Nested blocks keep the earlier end. Yields the end on the :func:`time.monotonic` clock.
    """
    if not seconds > 0 or seconds == float("inf"):
        raise ValueError(f"a deadline is a positive, finite number of seconds, not {seconds!r}")
    end = time.monotonic() + seconds
    outer = _DEADLINE.get()
    if outer is not None:
        end = min(end, outer)
    token = _DEADLINE.set(end)
    try:
        yield end
    finally:
        _DEADLINE.reset(token)


def time_left() -> float | None:
    """Seconds left before the enclosing :func:`deadline` (None outside any)."""
    end = _DEADLINE.get()
    return None if end is None else end - time.monotonic()


def _capped(timeout: float | None, error: type[Exception]) -> float | None:
    left = time_left()
    if left is None:
        return timeout
    if left <= 0:
        raise error("the operation's deadline has passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore2.NetworkStream):
    """A network stream whose every read and write also ends at the deadline."""

    def __init__(self, inner: httpcore2.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _capped(timeout, httpcore2.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _capped(timeout, httpcore2.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore2.NetworkStream:
        wrapped = self._inner.start_tls(
            ssl_context, server_hostname, _capped(timeout, httpcore2.ConnectTimeout)
        )
        return _DeadlineStream(wrapped)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _DeadlineBackend(httpcore2.NetworkBackend):
    """Connects with the deadline in force and hands out :class:`_DeadlineStream` streams."""

    def __init__(self, inner: httpcore2.NetworkBackend) -> None:
        self._inner = inner

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore2.NetworkStream:
        stream = self._inner.connect_tcp(
            host,
            port,
            _capped(timeout, httpcore2.ConnectTimeout),
            local_address=local_address,
            socket_options=socket_options,
        )
        return _DeadlineStream(stream)

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore2.NetworkStream:
        stream = self._inner.connect_unix_socket(
            path, _capped(timeout, httpcore2.ConnectTimeout), socket_options=socket_options
        )
        return _DeadlineStream(stream)

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def transport(**options: Any) -> httpx.HTTPTransport:
    """``httpx.HTTPTransport(**options)`` whose connects, reads and writes end at the deadline.

    HTTPX has no public hook for httpcore's network backend, so the transport's connection
    pool gets it here (tests/test_api_deadline.py fails if a new HTTPX release moves it).
    """
    made = httpx.HTTPTransport(**options)
    pool = made._pool
    inner = getattr(pool, "_network_backend", None)
    if not isinstance(inner, httpcore2.NetworkBackend):  # pragma: no cover - an HTTPX change
        raise RuntimeError("httpx2's transport no longer exposes its network backend")
    pool._network_backend = _DeadlineBackend(inner)
    return made


_LOGGERS = (
    "httpx2",
    "httpcore2.connection",
    "httpcore2.connection_pool",
    "httpcore2.http11",
    "httpcore2.http2",
    "httpcore2.proxy",
    "httpcore2.socks",
)


def _mask_client_logs() -> None:
    for name in _LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, MaskingFilter) for f in logger.filters):
            logger.addFilter(MaskingFilter())


_mask_client_logs()
