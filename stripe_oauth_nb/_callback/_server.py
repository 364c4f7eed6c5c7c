"""The loopback server in the kernel that catches Stripe's redirect.

It runs in daemon threads of the kernel (the kernel's own event loop is busy running cells),
binds ``127.0.0.1`` only, answers ``GET`` on the redirect URI's exact path and nothing else, and
hands the result to waiting code (:meth:`CallbackServer.wait`) and to listeners (widgets).

HTTP parsing is the standard library's (``http.server``); this module only sets its limits
(request line, header count and size, per-connection time), the Host check and the answers.
Stray or malformed requests never use up the attempt: only a callback whose state matches a
recorded attempt for this redirect URI ends the wait. The port is released on every exit path.
"""

from __future__ import annotations

import contextlib
import html
import http.client
import io
import os
import socket
import socketserver
import ssl
import threading
import time
import urllib.parse
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Literal

from .._attempts import ATTEMPT_TTL, AttemptLog, AuthorizationCode
from .._errors import (
    AccessDeniedError,
    CallbackError,
    CallbackPortInUseError,
    CallbackRequestError,
    CallbackStateError,
    CallbackTimeoutError,
)
from ._parse import parse_callback_query, resolve_callback
from ._remote import LocalEndpoint, local_endpoint
from ._tls import LoopbackCertificate, loopback_certificate

__all__ = [
    "CONNECTION_TIMEOUT",
    "MAX_CONNECTIONS",
    "MAX_HEADERS",
    "MAX_HEADER_BYTES",
    "MAX_REQUEST_LINE",
    "CallbackEvent",
    "CallbackServer",
    "running_servers",
    "start_callback_server",
]

#: Longest request line (method, target, version) accepted; longer gets 414.
MAX_REQUEST_LINE: Final = 8192
#: Most header lines accepted; more gets 431.
MAX_HEADERS: Final = 64
#: Largest header section accepted (bytes); larger gets 431.
MAX_HEADER_BYTES: Final = 16384
#: Most connections served at once; more are closed at once.
MAX_CONNECTIONS: Final = 32
#: Seconds a connection may live (browsers preconnect and then stay silent).
CONNECTION_TIMEOUT: Final = 5.0
#: Most bytes discarded, unparsed, after an error answer so the client can read it (no RST).
_LINGER_BYTES: Final = 65536
_LINGER_SECONDS: Final = 0.5
_POLL: Final = 0.05

_CSP: Final = "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
_PAGE: Final = (
    '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
    "<title>{title}</title></head>\n<body><h1>{title}</h1>\n<p>{message}</p>\n"
    "<p><small>stripe-oauth-nb</small></p></body></html>\n"
)

EventKind = Literal["waiting", "rejected", "received", "refused", "expired", "error", "stopped"]


@dataclass(frozen=True)
class CallbackEvent:
    """What happened at the callback server; delivered to listeners from a server thread."""

    kind: EventKind
    message: str
    code: AuthorizationCode | None = None
    error: CallbackError | None = None


Outcome = AuthorizationCode | CallbackError
Listener = Callable[[CallbackEvent], None]

_REGISTRY: dict[int, CallbackServer] = {}
_REGISTRY_LOCK = threading.Lock()


def running_servers() -> dict[int, CallbackServer]:
    """The servers started in this process and not yet stopped, by port."""
    with _REGISTRY_LOCK:
        return dict(_REGISTRY)


class _CappedLines(io.BufferedIOBase):
    """``readline`` over the header section, refusing more than the configured lines or bytes.

    ``http.client.parse_headers`` turns the errors into the standard library's 431 answers.
    """

    def __init__(self, raw: io.BufferedIOBase, *, max_bytes: int, max_lines: int) -> None:
        super().__init__()
        self._raw = raw
        self._left = max_bytes
        self._lines_left = max_lines

    def readable(self) -> bool:
        return True

    def readline(self, size: int | None = -1) -> bytes:
        if self._lines_left <= 0:
            raise http.client.HTTPException(f"got more than {MAX_HEADERS} headers")
        if self._left <= 0:
            raise http.client.LineTooLong("header section")
        limit = self._left + 1 if size is None or size < 0 else min(size, self._left + 1)
        line = self._raw.readline(limit)
        self._left -= len(line)
        self._lines_left -= 1
        if self._left < 0:
            raise http.client.LineTooLong("header section")
        return line


class _Handler(BaseHTTPRequestHandler):
    """One request per connection; GET on the callback path only."""

    server: _HTTPServer
    protocol_version = "HTTP/1.0"  # one request per connection, then close
    server_version = "stripe-oauth-nb"
    sys_version = ""

    # -- connection --------------------------------------------------------------------
    def setup(self) -> None:
        # Every read and write of this connection times out (StreamRequestHandler.timeout is
        # a class attribute, so the per-server value is set on the socket directly).
        self.request.settimeout(self.server.connection_timeout)
        if isinstance(self.request, ssl.SSLSocket):
            self.request.do_handshake()  # here, in this connection's thread, with its timeout
        super().setup()

    def handle_one_request(self) -> None:
        # Mirrors BaseHTTPRequestHandler.handle_one_request with this module's limits.
        self.close_connection = True
        try:
            self.raw_requestline = self.rfile.readline(MAX_REQUEST_LINE + 1)
            if len(self.raw_requestline) > MAX_REQUEST_LINE:
                self.requestline = ""
                self.request_version = ""
                self.command = ""
                self.send_error(HTTPStatus.REQUEST_URI_TOO_LONG)
                return
            if not self.raw_requestline:
                return
            raw = self.rfile
            self.rfile = _CappedLines(raw, max_bytes=MAX_HEADER_BYTES, max_lines=MAX_HEADERS + 1)
            try:
                if not self.parse_request():
                    return
            finally:
                self.rfile = raw
            self._dispatch()
            self.wfile.flush()
        except OSError:  # timeouts, resets, TLS errors: drop the connection quietly
            self.close_connection = True

    def handle_expect_100(self) -> bool:
        return True  # never invite a body: the final answer comes without reading one

    # -- answers -----------------------------------------------------------------------
    def log_message(self, format: str, *args: Any) -> None:
        """Silent: stderr would land in whichever notebook cell runs (and fail nbval)."""

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        status = HTTPStatus(code)
        self._respond(status, status.phrase, explain or message or status.description)

    def _respond(
        self,
        status: HTTPStatus,
        title: str,
        message: str,
        headers: Sequence[tuple[str, str]] = (),
    ) -> None:
        body = _PAGE.format(title=html.escape(title), message=html.escape(message)).encode()
        self.send_response(status)
        for name, value in (
            ("Content-Type", "text/html; charset=utf-8"),
            ("Content-Length", str(len(body))),
            ("Cache-Control", "no-store"),
            ("Pragma", "no-cache"),
            ("Referrer-Policy", "no-referrer"),
            ("Content-Security-Policy", _CSP),
            ("X-Content-Type-Options", "nosniff"),
            ("X-Frame-Options", "DENY"),
            ("Connection", "close"),
            *headers,
        ):
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    # -- routing -----------------------------------------------------------------------
    def _dispatch(self) -> None:
        owner = self.server.owner
        hosts = self.headers.get_all("Host") or []
        if len(hosts) != 1 or hosts[0].strip().lower() not in owner.allowed_hosts:
            self._respond(
                HTTPStatus.FORBIDDEN,
                "Wrong address",
                "This server only answers requests addressed to the notebook's redirect URI.",
            )
            return
        if self.command != "GET":
            self._respond(
                HTTPStatus.METHOD_NOT_ALLOWED,
                "Method not allowed",
                "Only GET is answered here.",
                headers=[("Allow", "GET")],
            )
            return
        path, _, query = self.path.partition("?")
        if path != owner.path:
            self._respond(HTTPStatus.NOT_FOUND, "Not found", "Nothing is served at this path.")
            return
        status, title, message, outcome = owner._handle_callback(query)
        try:
            self._respond(status, title, message)
            self.wfile.flush()
        finally:
            if outcome is not None:
                owner._finish(outcome)


class _HTTPServer(ThreadingHTTPServer):
    """ThreadingHTTPServer that tracks, caps, reaps and closes its connections quietly."""

    daemon_threads = True
    block_on_close = False
    allow_reuse_address = os.name != "nt"  # on Windows SO_REUSEADDR would let others steal it
    request_queue_size = 16

    def __init__(
        self,
        address: tuple[str, int],
        owner: CallbackServer,
        ssl_context: ssl.SSLContext | None,
        connection_timeout: float,
    ) -> None:
        self.owner = owner
        self.ssl_context = ssl_context
        self.connection_timeout = connection_timeout
        self._connections: dict[socket.socket, float] = {}
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        if os.name == "nt":  # pragma: no cover - Windows only
            self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_EXCLUSIVEADDRUSE, 1)  # type: ignore[attr-defined,unused-ignore]
        socketserver.TCPServer.server_bind(self)  # no getfqdn(): it may wait on DNS
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, address = self.socket.accept()
        if self.ssl_context is not None:
            # The handshake happens in the connection's own thread (see _Handler.setup), so a
            # silent client cannot hold up accept().
            sock = self.ssl_context.wrap_socket(
                sock, server_side=True, do_handshake_on_connect=False
            )
        return sock, address

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            if len(self._connections) >= MAX_CONNECTIONS:
                request.close()
                return
            self._connections[request] = time.monotonic()
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        try:
            with contextlib.suppress(OSError):
                request.shutdown(socket.SHUT_WR)
            if not isinstance(request, ssl.SSLSocket):
                # Discard (never parse) what the client still sends, so it reads our answer
                # instead of a reset. Bounded in bytes and time.
                with contextlib.suppress(OSError):
                    request.settimeout(_LINGER_SECONDS)
                    left = _LINGER_BYTES
                    while left > 0:
                        chunk = request.recv(min(left, 4096))
                        if not chunk:
                            break
                        left -= len(chunk)
        finally:
            with contextlib.suppress(OSError):
                request.close()
            with self._connections_lock:
                self._connections.pop(request, None)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Silent (the default prints a traceback to stderr); the connection is dropped."""

    def reap(self, max_age: float | None) -> None:
        """Cut connections older than ``max_age`` seconds (all of them when None)."""
        now = time.monotonic()
        with self._connections_lock:
            old = [s for s, t in self._connections.items() if max_age is None or now - t > max_age]
        for sock in old:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class CallbackServer:
    """Catches the redirect for ``redirect_uri`` on 127.0.0.1 and checks it against ``log``.

    ``deadline``: seconds after :meth:`start` when the server gives up (default: an attempt's
    lifetime). ``connection_timeout``: seconds a connection may live. For ``https://``
    redirect URIs a self-signed loopback certificate is used (stored in ``tls_dir``) unless an
    ``ssl_context`` is given. ``extra_hosts``: more ``Host`` values to accept.
    """

    def __init__(
        self,
        log: AttemptLog,
        redirect_uri: str,
        *,
        deadline: float = float(ATTEMPT_TTL),
        connection_timeout: float = CONNECTION_TIMEOUT,
        tls_dir: Path | None = None,
        ssl_context: ssl.SSLContext | None = None,
        extra_hosts: Sequence[str] = (),
    ) -> None:
        self.log = log
        self.redirect_uri = redirect_uri
        self.endpoint: LocalEndpoint = local_endpoint(redirect_uri)
        self.deadline = deadline
        self.connection_timeout = connection_timeout
        self._tls_dir = tls_dir
        self._ssl_context = ssl_context
        self.certificate: LoopbackCertificate | None = None
        port = self.endpoint.port
        hosts = {f"127.0.0.1:{port}", f"localhost:{port}"}
        if port == (443 if self.endpoint.scheme == "https" else 80):
            hosts |= {"127.0.0.1", "localhost"}
        if self.endpoint.forwarded_host:
            hosts.add(self.endpoint.forwarded_host)
        hosts |= {h.strip().lower() for h in extra_hosts}
        self.allowed_hosts: frozenset[str] = frozenset(hosts)

        self._lock = threading.Lock()
        self._stop_lock = threading.Lock()
        self._listeners: list[Listener] = []
        self._done = threading.Event()
        self._stopping = threading.Event()
        self._claimed = False
        self._stopped = False
        self._outcome: Outcome | None = None
        self._httpd: _HTTPServer | None = None
        self._threads: list[threading.Thread] = []
        self._deadline_at = 0.0
        #: How many requests on the callback path were refused (bad or stray state, malformed).
        self.rejected = 0
        self.last_rejection: CallbackError | None = None

    # -- properties ----------------------------------------------------------------------
    @property
    def port(self) -> int:
        return self.endpoint.port

    @property
    def path(self) -> str:
        return self.endpoint.path

    @property
    def local_url(self) -> str:
        """Where the server listens (the proxy's target when proxied)."""
        return f"{self.endpoint.scheme}://127.0.0.1:{self.port}{self.path}"

    @property
    def running(self) -> bool:
        return self._httpd is not None and not self._stopped

    @property
    def done(self) -> bool:
        return self._done.is_set()

    @property
    def outcome(self) -> Outcome | None:
        """The code or the error that ended the wait; None while waiting."""
        return self._outcome

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"CallbackServer({self.local_url!r}, {state})"

    # -- life cycle ----------------------------------------------------------------------
    def add_listener(self, listener: Listener) -> None:
        """Call ``listener(event)`` (from a server thread) on every event from now on."""
        self._listeners.append(listener)

    def _emit(self, event: CallbackEvent) -> None:
        for listener in list(self._listeners):
            with contextlib.suppress(Exception):  # a broken view must not break the server
                listener(event)

    def _check_ipv6_localhost(self) -> None:
        if _host_of(self.redirect_uri) != "localhost":
            return
        try:
            with socket.create_connection(("::1", self.port), timeout=0.2):
                pass
        except OSError:
            return
        raise CallbackPortInUseError(
            f"Another program listens on [::1]:{self.port}; a browser resolving 'localhost' "
            "to ::1 would hand it the code. Stop that program, or use a redirect URI with "
            f"127.0.0.1 (http://127.0.0.1:{self.port}{self.path})."
        )

    def _suggestion(self) -> str:
        port = _suggest_port(self.port)
        if self.endpoint.proxied:
            return self.redirect_uri.replace(f"/proxy/{self.port}/", f"/proxy/{port}/", 1)
        return f"{self.endpoint.scheme}://127.0.0.1:{port}{self.path}"

    def start(self) -> CallbackServer:
        """Bind 127.0.0.1 and start serving; stops an earlier server of this process first.

        Raises :class:`CallbackPortInUseError` at once when another program holds the port.
        """
        if self._httpd is not None:
            return self
        with _REGISTRY_LOCK:
            old = _REGISTRY.get(self.port)
        if old is not None and old is not self:
            old.stop()
        context = self._ssl_context
        if context is None and self.endpoint.scheme == "https":
            self.certificate = loopback_certificate(self._tls_dir)
            context = self.certificate.server_context()
        self._check_ipv6_localhost()
        try:
            httpd = _HTTPServer(("127.0.0.1", self.port), self, context, self.connection_timeout)
        except OSError as exc:
            if exc.errno in (98, 48, 10048):  # EADDRINUSE on Linux, macOS, Windows
                raise CallbackPortInUseError(
                    f"Port {self.port} on 127.0.0.1 is already in use by another program, and "
                    "Stripe's redirect could hand it the code. Stop that program, or pick "
                    "another port: change the redirect URI (and the manifest's "
                    f"allowed_redirect_uris) to another port, e.g. {self._suggestion()}."
                ) from None
            raise CallbackError(
                f"Cannot listen on 127.0.0.1:{self.port} ({exc.strerror}). Use a redirect URI "
                "with a port above 1024, e.g. http://127.0.0.1:8765/callback."
            ) from None
        self._httpd = httpd
        self._deadline_at = time.monotonic() + self.deadline
        with _REGISTRY_LOCK:
            _REGISTRY[self.port] = self
        serve = threading.Thread(
            target=self._serve, name=f"stripe-oauth-nb-callback-{self.port}", daemon=True
        )
        watch = threading.Thread(
            target=self._watch, name=f"stripe-oauth-nb-watchdog-{self.port}", daemon=True
        )
        self._threads = [serve, watch]
        serve.start()
        watch.start()
        self._emit(CallbackEvent("waiting", f"Waiting for the redirect on {self.local_url}."))
        return self

    def _serve(self) -> None:
        httpd = self._httpd
        assert httpd is not None
        try:
            httpd.serve_forever(poll_interval=_POLL)
        except Exception as exc:  # pragma: no cover - defensive: never die silently
            self._finish(
                CallbackError(
                    f"The callback server stopped unexpectedly ({type(exc).__name__}). Build a "
                    "new install link to start it again, or paste the URL the browser landed on."
                )
            )

    def _watch(self) -> None:
        while not self._stopping.wait(0.2):
            httpd = self._httpd
            if httpd is not None:
                httpd.reap(self.connection_timeout)
            if time.monotonic() >= self._deadline_at:
                self._finish(
                    CallbackTimeoutError(
                        f"No redirect arrived within {self.deadline:.0f} s. Build a new install "
                        "link and open it, or paste the URL the browser landed on."
                    )
                )
                return

    def stop(self) -> None:
        """Stop serving and release the port (idempotent; safe from any thread)."""
        with self._stop_lock:
            if self._stopped:
                return
            self._stopped = True
            self._stopping.set()
            httpd = self._httpd
            current = threading.current_thread()
            if httpd is not None:
                serve = self._threads[0] if self._threads else None
                if serve is not None and serve.is_alive() and serve is not current:
                    _shutdown_now(httpd, self.port)
                httpd.server_close()
                httpd.reap(None)
            for thread in self._threads:
                if thread is not current and thread.is_alive():
                    thread.join(timeout=1.0)
            with _REGISTRY_LOCK:
                if _REGISTRY.get(self.port) is self:
                    del _REGISTRY[self.port]
        if not self._done.is_set():
            self._settle(
                CallbackError(
                    "The callback server was stopped before a code arrived. Start it again "
                    "(and build a new install link), or paste the URL the browser landed on."
                ),
                CallbackEvent("stopped", "Stopped before a code arrived."),
            )

    def __enter__(self) -> CallbackServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- results -------------------------------------------------------------------------
    def _handle_callback(self, query: str) -> tuple[HTTPStatus, str, str, Outcome | None]:
        """Check one request on the callback path; the handler writes the answer."""
        with self._lock:
            if self._claimed or self._done.is_set():
                return (
                    HTTPStatus.GONE,
                    "Already finished",
                    "This notebook is no longer waiting for a redirect. Return to the notebook.",
                    None,
                )
            try:
                code = resolve_callback(
                    parse_callback_query(query), self.log, redirect_uri=self.redirect_uri
                )
            except (CallbackStateError, CallbackRequestError) as exc:
                self.rejected += 1
                self.last_rejection = exc
                refused = exc
            except AccessDeniedError as exc:
                self._claimed = True
                return HTTPStatus.OK, "Install declined", str(exc), exc
            except CallbackError as exc:
                self._claimed = True
                return HTTPStatus.OK, "Stripe reported an error", str(exc), exc
            else:
                self._claimed = True
                return (
                    HTTPStatus.OK,
                    "Authorization received",
                    "The notebook has the authorization code. You can close this tab and "
                    "return to the notebook.",
                    code,
                )
        self._emit(CallbackEvent("rejected", str(refused), error=refused))
        return HTTPStatus.BAD_REQUEST, "Request refused", str(refused), None

    def _settle(self, outcome: Outcome, event: CallbackEvent) -> bool:
        with self._lock:
            if self._done.is_set():
                return False
            self._outcome = outcome
            self._done.set()
        self._emit(event)
        return True

    def _finish(self, outcome: Outcome) -> None:
        """Record the outcome (first one wins), tell listeners, then stop serving."""
        if isinstance(outcome, AuthorizationCode):
            event = CallbackEvent("received", "Authorization code received.", code=outcome)
        elif isinstance(outcome, AccessDeniedError):
            event = CallbackEvent("refused", str(outcome), error=outcome)
        elif isinstance(outcome, CallbackTimeoutError):
            event = CallbackEvent("expired", str(outcome), error=outcome)
        else:
            event = CallbackEvent("error", str(outcome), error=outcome)
        self._settle(outcome, event)
        self.stop()

    def wait(self, timeout: float | None = None) -> AuthorizationCode:
        """Block until the code arrives; the server is stopped on every way out.

        Raises :class:`AccessDeniedError` (Decline), :class:`CallbackTimeoutError` (``timeout``
        or the server's deadline passed), or another :class:`CallbackError`. Refused stray
        requests do not end the wait.
        """
        until = None if timeout is None else time.monotonic() + timeout
        try:
            while not self._done.wait(_slice(until)):
                if until is not None and time.monotonic() >= until:
                    self._finish(
                        CallbackTimeoutError(
                            f"No redirect arrived within {timeout:g} s. Open the install link "
                            "(again), or paste the URL the browser landed on."
                        )
                    )
                    break
        finally:
            self.stop()  # also on KeyboardInterrupt
        outcome = self._outcome
        if isinstance(outcome, AuthorizationCode):
            return outcome
        assert outcome is not None
        raise outcome


def _shutdown_now(httpd: _HTTPServer, port: int) -> None:
    """``httpd.shutdown()`` without waiting out the poll interval.

    ``shutdown`` only sets a flag that ``serve_forever`` reads between polls; one empty
    connection of our own wakes it at once (it is accepted and closed like any silent one).
    """
    stopper = threading.Thread(target=httpd.shutdown, daemon=True)
    stopper.start()
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
        pass
    stopper.join()


def _slice(until: float | None) -> float:
    """How long :meth:`CallbackServer.wait` sleeps before looking again."""
    return 0.25 if until is None else max(0.0, until - time.monotonic())


def _host_of(uri: str) -> str:
    try:
        return (urllib.parse.urlsplit(uri).hostname or "").lower()
    except ValueError:
        return ""


def _suggest_port(port: int) -> int:
    for candidate in range(port + 1, min(port + 50, 65535)):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", candidate))
            except OSError:
                continue
            return candidate
    return 8766


def start_callback_server(log: AttemptLog, redirect_uri: str, **options: Any) -> CallbackServer:
    """``CallbackServer(log, redirect_uri, **options).start()``."""
    return CallbackServer(log, redirect_uri, **options).start()
