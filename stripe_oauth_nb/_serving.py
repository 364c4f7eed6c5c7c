"""Uvicorn in a daemon thread, on a socket bound before the thread starts.

The one HTTP server stack of the package: the sandbox and the callback server both run here.

- :func:`bind` binds and listens before any thread starts, so a taken port fails at once with an
  ``OSError`` the caller turns into its own message, and port 0 gives a free port with no race.
- :class:`ServerThread` serves an ASGI app on that socket with uvicorn (h11) in a daemon thread of
  the kernel or command (the caller's own event loop, if any, stays free). Uvicorn installs no
  signal handlers outside the main thread and never touches the host's logging configuration
  here (``log_config=None``).
- Stopping is prompt: the thread's loop is woken at once (not at uvicorn's next 0.1 s tick), the
  listening socket is closed first, so the port is free within milliseconds of :meth:`stop`,
  and connections get ``grace`` seconds to finish.

Accepted connections get TCP_NODELAY (the socket is made with ``IPPROTO_TCP``, which asyncio
needs to set it), so answers do not wait on Nagle's algorithm. Uvicorn's own loggers get the
package's log hygiene before any server starts: secrets masked, query strings (which carry codes
and states) cut from access-log paths.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import socket
import ssl
import threading
import time
from typing import TYPE_CHECKING, Any

import uvicorn

if TYPE_CHECKING:
    from starlette.types import ASGIApp

from ._masking import MaskingFilter

__all__ = ["ServerThread", "bind", "install_log_filters"]


class _AccessLogFilter(logging.Filter):
    """Strip query strings from access-log paths (tokens and codes can travel there)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5 and isinstance(args[2], str):
            record.args = (*args[:2], args[2].split("?", 1)[0], *args[3:])
        return True


_log_lock = threading.Lock()
_log_filters_installed = False


def install_log_filters() -> None:
    """Mask secrets in uvicorn's logs and cut query strings from its access log (once)."""
    global _log_filters_installed
    with _log_lock:
        if _log_filters_installed:
            return
        access = logging.getLogger("uvicorn.access")
        access.addFilter(_AccessLogFilter())
        access.addFilter(MaskingFilter())
        logging.getLogger("uvicorn.error").addFilter(MaskingFilter())
        _log_filters_installed = True


def bind(host: str, port: int, *, backlog: int = 128) -> socket.socket:
    """A TCP socket bound to ``host:port`` (0: any free port) and listening.

    Raises ``OSError`` (``EADDRINUSE`` when the port is taken; ``EINVAL`` for a port outside
    0-65535, which the socket module would report as an ``OverflowError``).
    """
    if not isinstance(port, int) or not 0 <= port <= 65535:
        raise OSError(errno.EINVAL, f"port {port!r} is not a number from 0 to 65535")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        if os.name == "nt":  # pragma: no cover - Windows: SO_REUSEADDR would let others steal it
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_EXCLUSIVEADDRUSE, 1)  # type: ignore[attr-defined,unused-ignore]
        else:  # a port in TIME_WAIT after the last server is free, not "in use"
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(backlog)
    except BaseException:
        sock.close()
        raise
    return sock


class _Server(uvicorn.Server):
    """Uvicorn's server, woken at once to stop, with a prompt shutdown."""

    def __init__(self, config: uvicorn.Config, *, grace: float) -> None:
        super().__init__(config)
        self._grace = grace
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        #: Set once the listening sockets are closed (the port is free again).
        self.listeners_closed = threading.Event()

    def request_exit(self) -> None:
        """Ask the server to stop; from any thread, without waiting."""
        self.should_exit = True
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None:
            with contextlib.suppress(RuntimeError):  # the loop has already closed
                loop.call_soon_threadsafe(wake.set)

    async def main_loop(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        counter = 0
        while not await self.on_tick(counter):
            # uvicorn polls every 0.1 s; waiting on an event answers request_exit at once, and
            # a tick a second keeps the Date header fresh.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=1.0)
            self._wake.clear()
            counter = (counter + 10) % 864000

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in getattr(self, "servers", []):
            server.close()
        for sock in sockets or []:
            sock.close()
        self.listeners_closed.set()
        for connection in list(self.server_state.connections):
            connection.shutdown()
        loop = asyncio.get_running_loop()
        until = loop.time() + self._grace
        while (self.server_state.connections or self.server_state.tasks) and loop.time() < until:
            await asyncio.sleep(0.01)
        for task in list(self.server_state.tasks):
            task.cancel()
        for connection in list(self.server_state.connections):
            transport = getattr(connection, "transport", None)
            if transport is not None:
                transport.abort()
        # A connection accepted while the server closed may not have reached uvicorn's list;
        # asyncio's server knows every transport it made (Python 3.13+), so none is left open.
        for server in getattr(self, "servers", []):
            abort_clients = getattr(server, "abort_clients", None)
            if abort_clients is not None:
                abort_clients()


class _Config(uvicorn.Config):
    """A uvicorn config that serves TLS from a ready ``ssl.SSLContext``."""

    def __init__(self, *args: Any, ssl_context: ssl.SSLContext | None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._ssl_context = ssl_context

    def load(self) -> None:
        super().load()
        if self._ssl_context is not None:
            self.ssl = self._ssl_context


class _Loop(asyncio.SelectorEventLoop):
    """An event loop whose TLS handshakes time out after ``handshake_timeout`` seconds.

    asyncio's default is 60 s, and uvicorn passes none: a client that connects to an HTTPS
    port and never handshakes would hold its connection for a minute.
    """

    def __init__(self, handshake_timeout: float) -> None:
        super().__init__()
        self._handshake_timeout = handshake_timeout

    async def create_server(self, *args: Any, **kwargs: Any) -> asyncio.Server:
        if kwargs.get("ssl") is not None:
            kwargs.setdefault("ssl_handshake_timeout", self._handshake_timeout)
        return await super().create_server(*args, **kwargs)

    # CPython gh-109564 (open in 3.11-3.13): a connection accepted just before the server closes
    # is turned into a transport one loop turn later; by then ``Server.close()`` has run, the
    # transport's ``Server._attach`` fails an assertion, asyncio swallows the error and the
    # half-made transport and its socket are left to the garbage collector ("unclosed
    # transport", at some random later moment). Such a connection is closed here instead,
    # before any transport exists: the client sees a reset, as from any server that stopped.

    def _make_socket_transport(
        self, sock: socket.socket, protocol: Any, waiter: Any = None, **kwargs: Any
    ) -> Any:
        _refuse_once_closed(sock, kwargs.get("server"))
        return super()._make_socket_transport(sock, protocol, waiter, **kwargs)  # type: ignore[misc]

    def _make_ssl_transport(
        self,
        rawsock: socket.socket,
        protocol: Any,
        sslcontext: Any,
        waiter: Any = None,
        **kwargs: Any,
    ) -> Any:
        _refuse_once_closed(rawsock, kwargs.get("server"))
        return super()._make_ssl_transport(rawsock, protocol, sslcontext, waiter, **kwargs)  # type: ignore[misc]


def _refuse_once_closed(sock: socket.socket, server: asyncio.Server | None) -> None:
    """Close ``sock`` and raise if the server that accepted it has closed (gh-109564)."""
    if server is not None and not server.sockets:
        sock.close()
        raise ConnectionAbortedError("the server closed before this connection was set up")


class ServerThread:
    """Serve ``app`` on the bound socket ``sock`` (see :func:`bind`) until :meth:`stop`.

    ``http``: uvicorn's protocol (``"h11"`` or an ``H11Protocol`` subclass). ``ssl_context``:
    serve TLS with it; a handshake may take ``handshake_timeout`` seconds. ``grace``: seconds
    open connections get to finish once stopping. The other options are uvicorn's.
    """

    def __init__(
        self,
        app: ASGIApp,
        sock: socket.socket,
        *,
        name: str,
        http: Any = "h11",
        ssl_context: ssl.SSLContext | None = None,
        handshake_timeout: float = 10.0,
        limit_concurrency: int | None = None,
        timeout_keep_alive: float = 5.0,
        h11_max_incomplete_event_size: int | None = None,
        grace: float = 1.0,
    ) -> None:
        self._sock = sock
        self.port: int = sock.getsockname()[1]
        self._name = name
        self._handshake_timeout = handshake_timeout
        config = _Config(
            app,
            http=http,
            ws="none",
            lifespan="off",
            log_config=None,
            access_log=True,  # False would strip the host's handlers from uvicorn.access
            server_header=False,
            limit_concurrency=limit_concurrency,
            timeout_keep_alive=int(timeout_keep_alive),
            h11_max_incomplete_event_size=h11_max_incomplete_event_size,
            ssl_context=ssl_context,
        )
        self._server = _Server(config, grace=grace)
        self._thread: threading.Thread | None = None
        self._failure: BaseException | None = None

    @property
    def running(self) -> bool:
        """Serving, and not asked to stop."""
        thread = self._thread
        return (
            thread is not None
            and thread.is_alive()
            and not self._server.should_exit
            and not self._server.listeners_closed.is_set()
        )

    @property
    def thread(self) -> threading.Thread | None:
        return self._thread

    def start(self, timeout: float = 5.0) -> None:
        """Start serving; returns once the server accepts connections.

        Raises ``TimeoutError`` (closing the socket) if it did not start within ``timeout``.
        """
        if self._thread is not None:
            return
        install_log_filters()
        thread = threading.Thread(target=self._run, name=self._name, daemon=True)
        self._thread = thread
        thread.start()
        until = time.monotonic() + timeout
        while not self._server.started and thread.is_alive() and time.monotonic() < until:
            time.sleep(0.002)
        if not self._server.started:
            self.stop()
            detail = f" ({type(self._failure).__name__}: {self._failure})" if self._failure else ""
            raise TimeoutError(f"the server on port {self.port} did not start{detail}")

    def _run(self) -> None:
        try:
            with asyncio.Runner(loop_factory=lambda: _Loop(self._handshake_timeout)) as runner:
                runner.run(self._server.serve(sockets=[self._sock]))
        except BaseException as exc:  # reported by start(); never printed from the thread
            self._failure = exc
        finally:
            self._server.listeners_closed.set()
            self._sock.close()

    def request_stop(self) -> None:
        """Ask the server to stop; from any thread (its own included), without waiting."""
        self._server.request_exit()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving: the port is free when this returns; the thread is joined (bounded).

        From the server's own thread it only asks (the thread cannot join itself).
        """
        self.request_stop()
        thread = self._thread
        if thread is None:
            self._sock.close()
            return
        if thread is threading.current_thread():
            return
        self._server.listeners_closed.wait(timeout)
        thread.join(timeout)
