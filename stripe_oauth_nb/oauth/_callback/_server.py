"""The loopback server in the kernel that catches Stripe's redirect.

It runs uvicorn (h11) and a small ASGI app in a daemon thread of the kernel (the kernel's own
event loop is busy running cells; :mod:`stripe_oauth_nb._serving` is the thread), listens on
the redirect URI's loopback address only, answers ``GET`` on the redirect URI's exact path and
nothing else, and hands the result to waiting code (:meth:`CallbackServer.wait`) and to listeners
(widgets).

What a connection may send before a request reaches the app (time limits, sizes, the ``Host``
header) is the hardened wire protocol of :mod:`._protocol`. The app here: other methods get
405, other paths 404 (``//callback`` and absolute-form targets included), and the callback
itself is checked by :func:`resolve_callback`.

Stray or malformed requests never use up the attempt: only a callback whose state matches a
recorded attempt for this redirect URI ends the wait. The port is released on every exit path.
Nothing is logged (the query holds the code and the state).
"""

from __future__ import annotations

import contextlib
import math
import socket
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from types import TracebackType
from typing import Any

from ..._errors import (
    CallbackError,
    CallbackPortInUseError,
    CallbackRequestError,
    CallbackStateError,
    CallbackTimeoutError,
)
from ..._serving import ServerThread, bind
from ..._urls import RedirectURI, host_headers
from .._attempts import ATTEMPT_TTL, AttemptLog, AuthorizationCode
from ._outcome import EventKind, outcome_of
from ._parse import parse_callback_query, resolve_callback
from ._protocol import (
    CONNECTION_TIMEOUT,
    MAX_CONNECTIONS,
    MAX_HEADER_BYTES,
    MAX_REQUEST_LINE,
    Answer,
    Gate,
    protocol_for,
    reply,
    standard,
)
from ._remote import LocalEndpoint, local_endpoint
from ._tls import LoopbackCertificate, loopback_certificate

__all__ = [
    "CallbackEvent",
    "CallbackServer",
    "EventKind",
    "Listener",
    "running_servers",
]


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


# -- the server --------------------------------------------------------------------------------


def _seconds(value: float, what: str, *, zero: bool = False) -> float | None:
    """``value`` as seconds to wait; None for "no limit" (infinity, or beyond what the platform
    can wait for). Refuses NaN, negatives and (unless ``zero``) zero."""
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        raise CallbackError(f"The {what} must be a number of seconds, not {value!r}: e.g. 300.")
    if value < 0 or (value == 0 and not zero):
        raise CallbackError(f"The {what} must be above 0 seconds, not {value!r}: e.g. 300.")
    return None if value >= threading.TIMEOUT_MAX else float(value)


class CallbackServer:
    """Catches the redirect for ``redirect_uri`` on loopback and checks it against ``log``.

    ``deadline``: seconds after :meth:`start` when the server gives up (default: an attempt's
    lifetime). ``connection_timeout``: seconds a connection may wait before its request is
    complete. For ``https://`` redirect URIs a self-signed loopback certificate is used (stored
    in ``tls_dir``) unless an ``ssl_context`` is given.
    """

    def __init__(
        self,
        log: AttemptLog,
        redirect_uri: str | RedirectURI,
        *,
        deadline: float = float(ATTEMPT_TTL),
        connection_timeout: float = CONNECTION_TIMEOUT,
        tls_dir: Path | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.log = log
        #: Read apart once, where it entered (or here, when given as text).
        self.endpoint: LocalEndpoint = local_endpoint(redirect_uri)
        self.redirect_uri = self.endpoint.redirect.uri
        self.deadline = deadline
        self._deadline = _seconds(deadline, "deadline")
        self.connection_timeout = _seconds(connection_timeout, "connection timeout") or 3600.0
        self._tls_dir = tls_dir
        self._ssl_context = ssl_context
        self.certificate: LoopbackCertificate | None = None
        hosts = host_headers(self.endpoint.host, self.endpoint.port, scheme=self.endpoint.scheme)
        forwarded = (self.endpoint.forwarded_host,) if self.endpoint.forwarded_host else ()
        self.allowed_hosts: frozenset[str] = hosts | frozenset(forwarded)

        self._lock = threading.Lock()
        self._stop_lock = threading.Lock()
        self._listeners: list[Listener] = []
        self._done = threading.Event()
        self._claimed = False
        self._started = False
        self._stopped = False
        self._outcome: Outcome | None = None
        self._thread: ServerThread | None = None
        self._timer: threading.Timer | None = None
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
        return f"{self.endpoint.scheme}://{self.endpoint.url_host}:{self.port}{self.path}"

    @property
    def address(self) -> tuple[str, int] | None:
        """The address the server listens on, while it runs."""
        return (self.endpoint.host, self.port) if self.running else None

    @property
    def running(self) -> bool:
        thread = self._thread
        return thread is not None and thread.running and not self._stopped

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
        if self.endpoint.redirect.host != "localhost":
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
        port = _suggest_port(self.endpoint.host, self.port)
        if self.endpoint.proxied:
            return self.redirect_uri.replace(f"/proxy/{self.port}/", f"/proxy/{port}/", 1)
        return f"{self.endpoint.scheme}://{self.endpoint.url_host}:{port}{self.path}"

    def start(self) -> CallbackServer:
        """Listen and start serving; stops an earlier server of this process first.

        Raises :class:`CallbackPortInUseError` at once when another program holds the port.
        """
        if self._started:
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
            sock = bind(self.endpoint.host, self.port)
        except OSError as exc:
            if exc.errno in (98, 48, 10048):  # EADDRINUSE on Linux, macOS, Windows
                raise CallbackPortInUseError(
                    f"Port {self.port} on {self.endpoint.host} is already in use by another "
                    "program, and Stripe's redirect could hand it the code. Stop that program, "
                    "or pick another port: change the redirect URI (and the manifest's "
                    f"allowed_redirect_uris) to another port, e.g. {self._suggestion()}."
                ) from None
            raise CallbackError(
                f"Cannot listen on {self.endpoint.url_host}:{self.port} ({exc.strerror or exc}). "
                "Use a redirect URI on 127.0.0.1 with a port above 1024, e.g. "
                "http://127.0.0.1:8765/callback."
            ) from None
        gate = Gate(self.allowed_hosts, self.connection_timeout)
        thread = ServerThread(
            _App(self),
            sock,
            name=f"stripe-oauth-nb-callback-{self.port}",
            http=protocol_for(gate),
            ssl_context=context,
            handshake_timeout=self.connection_timeout,
            # The cap on waiting connections is MAX_CONNECTIONS, kept by closing the oldest
            # one (so the browser's newest one gets in); uvicorn's own limit, which answers
            # 503 to the newest instead, only backs it up.
            limit_concurrency=2 * MAX_CONNECTIONS,
            timeout_keep_alive=self.connection_timeout,
            h11_max_incomplete_event_size=MAX_REQUEST_LINE + MAX_HEADER_BYTES + 1024,
            grace=1.0,
        )
        self._started = True
        self._thread = thread
        try:
            thread.start()
        except TimeoutError:
            self._stopped = True
            raise CallbackError(
                f"The callback server did not start on port {self.port}. Build a new install "
                "link to try again, or paste the URL the browser landed on."
            ) from None
        with _REGISTRY_LOCK:
            _REGISTRY[self.port] = self
        if self._deadline is not None:
            timer = threading.Timer(self._deadline, self._expire)
            timer.daemon = True
            timer.name = f"stripe-oauth-nb-deadline-{self.port}"
            self._timer = timer
            timer.start()
        self._emit(CallbackEvent("waiting", f"Waiting for the redirect on {self.local_url}."))
        return self

    def _expire(self) -> None:
        self._finish(
            CallbackTimeoutError(
                f"No redirect arrived within {self.deadline:.0f} s. Build a new install "
                "link and open it, or paste the URL the browser landed on."
            )
        )

    def stop(self) -> None:
        """Stop serving and release the port (idempotent; safe from any thread).

        When this returns the port is free (from a server thread it is only asked to stop).
        """
        with self._stop_lock:  # a second caller returns when the first one has finished
            if self._stopped:
                return
            self._stopped = True
            timer, thread = self._timer, self._thread
            if timer is not None and timer is not threading.current_thread():
                timer.cancel()
            if thread is not None:
                thread.stop(timeout=2.0)
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
    def _handle_callback(self, query: str) -> tuple[Answer, Outcome | None]:
        """Check one request on the callback path: the answer, and the outcome if it ends."""
        with self._lock:
            if self._claimed or self._done.is_set():
                answer = reply(
                    HTTPStatus.GONE,
                    "Already finished",
                    "This notebook is no longer waiting for a redirect. Return to the notebook.",
                )
                return answer, None
            try:
                code = resolve_callback(
                    parse_callback_query(query), self.log, redirect_uri=self.redirect_uri
                )
            except (CallbackStateError, CallbackRequestError) as exc:
                self.rejected += 1
                self.last_rejection = exc
                refused = exc
            except CallbackError as exc:
                self._claimed = True
                shown = outcome_of(exc)
                return reply(shown.status, shown.title, str(exc)), exc
            else:
                self._claimed = True
                shown = outcome_of(None)
                message = (
                    "The notebook has the authorization code. You can close this tab and "
                    "return to the notebook."
                )
                return reply(shown.status, shown.title, message, ok=True), code
        self._emit(CallbackEvent("rejected", str(refused), error=refused))
        shown = outcome_of(refused)
        return reply(shown.status, shown.title, str(refused)), None

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
        else:
            event = CallbackEvent(outcome_of(outcome).kind, str(outcome), error=outcome)
        self._settle(outcome, event)
        self.stop()

    def wait(self, timeout: float | None = None) -> AuthorizationCode:
        """Block until the code arrives; the server is stopped on every way out.

        Raises :class:`AccessDeniedError` (Decline), :class:`CallbackTimeoutError` (``timeout``
        or the server's deadline passed), or another :class:`CallbackError`. Refused stray
        requests do not end the wait.
        """
        try:
            limit = None if timeout is None else _seconds(timeout, "timeout", zero=True)
            if not self._done.wait(limit):
                self._finish(
                    CallbackTimeoutError(
                        f"No redirect arrived within {timeout:g} s. Open the install link "
                        "(again), or paste the URL the browser landed on."
                    )
                )
        finally:
            self.stop()  # also on KeyboardInterrupt
        outcome = self._outcome
        if isinstance(outcome, AuthorizationCode):
            return outcome
        assert outcome is not None
        raise outcome


class _App:
    """The ASGI app: 405 for other methods, 404 for other paths, the callback check."""

    def __init__(self, owner: CallbackServer) -> None:
        self._owner = owner
        self._path = owner.path.encode("latin-1", "replace")

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        outcome: Outcome | None = None
        try:
            if scope["method"] != "GET":
                answer = reply(
                    HTTPStatus.METHOD_NOT_ALLOWED,
                    "Method not allowed",
                    "Only GET is answered here.",
                    [("Allow", "GET")],
                )
            elif scope.get("raw_path", b"").split(b"?", 1)[0] != self._path:
                answer = reply(HTTPStatus.NOT_FOUND, "Not found", "Nothing is served at this path.")
            else:
                query = scope["query_string"].decode("latin-1")
                answer, outcome = await _in_thread(self._owner._handle_callback, query)
        except Exception:  # never a traceback page; the wait goes on
            answer = standard(HTTPStatus.INTERNAL_SERVER_ERROR)
        await send(
            {
                "type": "http.response.start",
                "status": answer.status,
                "headers": [(k.lower().encode(), v.encode("latin-1")) for k, v in answer.headers],
            }
        )
        await send({"type": "http.response.body", "body": answer.body})
        if outcome is not None:
            # After the page is out: record, tell listeners and stop, from a thread of its own
            # (stopping waits for this server's connections, this one included).
            threading.Thread(
                target=self._owner._finish,
                args=(outcome,),
                name="stripe-oauth-nb-finish",
                daemon=True,
            ).start()


async def _in_thread(function: Callable[..., Any], *args: Any) -> Any:
    """Run ``function(*args)`` in a daemon thread (it may wait on the attempt log's lock)."""
    import asyncio

    loop = asyncio.get_running_loop()
    future: asyncio.Future[Any] = loop.create_future()

    def deliver(setter: Callable[[Any], None], value: Any) -> None:
        if not future.done():
            setter(value)

    def run() -> None:
        try:
            result = function(*args)
        except BaseException as exc:
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(deliver, future.set_exception, exc)
        else:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(deliver, future.set_result, result)

    threading.Thread(target=run, name="stripe-oauth-nb-callback-check", daemon=True).start()
    return await future


def _suggest_port(host: str, port: int) -> int:
    for candidate in range(port + 1, min(port + 50, 65535)):
        try:
            probe = bind(host, candidate)
        except OSError:
            continue
        probe.close()
        return candidate
    return 8766
