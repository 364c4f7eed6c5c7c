"""The callback server's wire protocol: what a connection may send before the app sees it.

The event loop holds idle and slow connections at no cost to the others, so a local process
holding many of them cannot keep the browser's redirect out. On top of h11's parsing, this module
only sets limits and answers, before a request reaches the app:

- a connection lives at most ``connection_timeout`` seconds until its request head is complete
  (browsers preconnect and stay silent); beyond :data:`MAX_CONNECTIONS` waiting ones, the oldest
  is closed, so the newest (the browser's) always gets in;
- a request line over :data:`MAX_REQUEST_LINE` bytes gets 414; more than :data:`MAX_HEADERS`
  header lines or :data:`MAX_HEADER_BYTES` bytes of them get 431; anything that is not an
  HTTP/1.0 or 1.1 request line gets 400 (no HTTP/0.9 answers); a ``Host`` other than the redirect
  URI's gets 403 (DNS rebinding); bodies are never read.

Every answer is the same self-contained page with ``no-store`` and a ``default-src 'none'`` CSP
(:func:`reply`), and closes the connection.
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, ClassVar, Final

from uvicorn.protocols.http.h11_impl import H11Protocol

from ..._html import PAGE_HEADERS, page

__all__ = [
    "CONNECTION_TIMEOUT",
    "MAX_CONNECTIONS",
    "MAX_HEADERS",
    "MAX_HEADER_BYTES",
    "MAX_REQUEST_LINE",
    "Answer",
    "Gate",
    "protocol_for",
    "reply",
    "standard",
]

#: Longest request line (method, target, version) accepted; longer gets 414.
MAX_REQUEST_LINE: Final = 8192
#: Most header lines accepted; more gets 431.
MAX_HEADERS: Final = 64
#: Largest header section accepted (bytes); larger gets 431.
MAX_HEADER_BYTES: Final = 16384
#: Most connections waiting for their request head at once; beyond it the oldest is closed.
MAX_CONNECTIONS: Final = 128
#: Seconds a connection may wait before its request head is complete.
CONNECTION_TIMEOUT: Final = 5.0
#: After an answer sent while the client is still sending, what is discarded (unparsed) so the
#: client reads the answer instead of a reset: at most this many bytes, for this long.
_LINGER_BYTES: Final = 65536
_LINGER_SECONDS: Final = 0.5

_TOKEN: Final = rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_REQUEST_LINE: Final = re.compile(rb"(" + _TOKEN + rb") ([\x21-\x7e]+) HTTP/([0-9])\.([0-9])")
_HEADER_LINE: Final = re.compile(rb"(" + _TOKEN + rb"):[ \t]*(.*?)[ \t]*")

#: Where the HTTP layer's own complaints go: nowhere (a notebook cell would show them).
_QUIET: Final = logging.Logger("stripe_oauth_nb.callback.http", logging.CRITICAL)
_QUIET.disabled = True


# -- the page ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def raw(self, *, head_only: bool = False) -> bytes:
        """The whole HTTP/1.1 response, for answers sent before h11 has a request."""
        lines = [f"HTTP/1.1 {self.status} {HTTPStatus(self.status).phrase}"]
        lines += [f"{name}: {value}" for name, value in self.headers]
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        return head if head_only else head + self.body


def reply(
    status: int,
    title: str,
    message: str,
    extra: Sequence[tuple[str, str]] = (),
    *,
    ok: bool = False,
) -> Answer:
    """Every answer of the server: a page in the toolkit's look that loads nothing but its own
    style sheet, with the security headers. ``ok``: the good news (a code arrived)."""
    tone = "ok" if ok else "error"
    role = "status" if ok else "alert"
    body = page(
        title,
        f"<h1>{html.escape(title)}</h1>"
        f'<p class="notice {tone}" role="{role}">{html.escape(message)}</p>',
        footer="stripe-oauth-nb: the notebook's callback, on this computer only.",
    ).encode()
    headers = (
        ("Content-Type", "text/html; charset=utf-8"),
        ("Content-Length", str(len(body))),
        *PAGE_HEADERS.items(),
        ("Pragma", "no-cache"),
        ("Connection", "close"),
        *extra,
    )
    return Answer(status, headers, body)


def standard(status: HTTPStatus, message: str | None = None) -> Answer:
    return reply(status, status.phrase, message or status.description)


_WRONG_HOST: Final = (
    HTTPStatus.FORBIDDEN,
    "Wrong address",
    "This server only answers requests addressed to the notebook's redirect URI.",
)


# -- the connection ----------------------------------------------------------------------------


class Gate:
    """One server's connection rules: allowed hosts, time limit, and the waiting connections."""

    def __init__(self, allowed_hosts: frozenset[str], connection_timeout: float) -> None:
        self.allowed_hosts = allowed_hosts
        self.connection_timeout = connection_timeout
        #: Connections still waiting for their request head, oldest first (loop thread only).
        self._waiting: dict[_Protocol, None] = {}

    def waiting(self, connection: _Protocol) -> None:
        self._waiting[connection] = None
        while len(self._waiting) > MAX_CONNECTIONS:
            oldest = next(iter(self._waiting))
            del self._waiting[oldest]
            oldest.close_now()

    def done_waiting(self, connection: _Protocol) -> None:
        self._waiting.pop(connection, None)


class _Protocol(H11Protocol):
    """uvicorn's h11 protocol with this server's limits checked before h11 sees a request."""

    gate: ClassVar[Gate]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.logger = _QUIET
        self.access_logger = _QUIET
        self.access_log = False
        self._head = bytearray()
        self._scanned = 0  # bytes of _head already read line by line
        self._line_end: int | None = None  # end of the request line, once read
        self._method = b""
        self._headers = 0
        self._hosts: list[bytes] = []
        self._passed = False  # the head went to h11
        self._lingering = -1  # bytes discarded after an early answer; -1 when not lingering
        self._timer: Any = None

    # -- life ------------------------------------------------------------------------------
    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        self._timer = self.loop.call_later(self.gate.connection_timeout, self.close_now)
        self.gate.waiting(self)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self.gate.done_waiting(self)
        super().connection_lost(exc)

    def close_now(self) -> None:
        if not self.transport.is_closing():
            self.transport.close()

    # -- input -----------------------------------------------------------------------------
    def data_received(self, data: bytes) -> None:
        if self._lingering >= 0:
            self._lingering += len(data)
            if self._lingering > _LINGER_BYTES:
                self.close_now()
            return
        if self._passed:
            super().data_received(data)
            return
        self._head += data
        refusal = self._scan()
        if refusal is not None:
            self._refuse(refusal)
        elif self._passed:
            if self._timer is not None:
                self._timer.cancel()
            self.gate.done_waiting(self)
            head, self._head = bytes(self._head), bytearray()
            super().data_received(head)

    def _scan(self) -> Answer | None:
        """Read the new complete lines of the head; an answer when the request is refused.

        Sets ``_passed`` when the head is complete and acceptable.
        """
        head = self._head
        while True:
            if self._line_end is None:
                while head.startswith((b"\r\n", b"\n")):  # empty lines before a request
                    del head[: 2 if head.startswith(b"\r\n") else 1]
                newline = head.find(b"\n")
                if newline < 0:
                    if len(head) > MAX_REQUEST_LINE:
                        return standard(HTTPStatus.REQUEST_URI_TOO_LONG)
                    return None
                if newline > MAX_REQUEST_LINE:
                    return standard(HTTPStatus.REQUEST_URI_TOO_LONG)
                match = _REQUEST_LINE.fullmatch(bytes(head[:newline]).rstrip(b"\r"))
                if match is None:
                    return standard(
                        HTTPStatus.BAD_REQUEST, "This server only speaks HTTP/1.0 and HTTP/1.1."
                    )
                if (match[3], match[4]) not in ((b"1", b"0"), (b"1", b"1")):
                    return standard(HTTPStatus.HTTP_VERSION_NOT_SUPPORTED)
                self._method = match[1]
                self._line_end = self._scanned = newline + 1
                continue
            newline = head.find(b"\n", self._scanned)
            if newline < 0:
                if len(head) - self._line_end > MAX_HEADER_BYTES:
                    return standard(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE)
                return None
            line = bytes(head[self._scanned : newline]).rstrip(b"\r")
            self._scanned = newline + 1
            if not line:
                return self._check_host()
            self._headers += 1
            if self._headers > MAX_HEADERS or newline - self._line_end > MAX_HEADER_BYTES:
                return standard(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE)
            header = _HEADER_LINE.fullmatch(line)
            if header is None:
                return standard(HTTPStatus.BAD_REQUEST, "A header line is malformed.")
            if header[1].lower() == b"host":
                self._hosts.append(header[2])

    def _check_host(self) -> Answer | None:
        hosts = [h.decode("latin-1").strip().lower() for h in self._hosts]
        if len(hosts) != 1 or hosts[0] not in self.gate.allowed_hosts:
            return reply(*_WRONG_HOST)
        self._passed = True
        return None

    # -- early answers ---------------------------------------------------------------------
    def _refuse(self, answer: Answer) -> None:
        """Answer now, then discard what the client still sends (bounded) and close."""
        self._passed = True
        self._lingering = 0
        self.gate.done_waiting(self)
        self.transport.write(answer.raw(head_only=self._method == b"HEAD"))
        if self.transport.can_write_eof():
            self.transport.write_eof()
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self.loop.call_later(_LINGER_SECONDS, self.close_now)

    def send_400_response(self, msg: str) -> None:
        """h11 refused the request after the checks here: the same page as every answer."""
        self._refuse(standard(HTTPStatus.BAD_REQUEST, "The request could not be read as HTTP/1.1."))


def protocol_for(gate: Gate) -> type[_Protocol]:
    """A protocol class bound to one server's gate (uvicorn makes one instance per connection)."""
    return type("CallbackProtocol", (_Protocol,), {"gate": gate})
