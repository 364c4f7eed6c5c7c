"""Uvicorn in a daemon thread, on a socket bound before the thread starts.

Binding first gives a free port with no race and a clear error when a fixed port is taken.
Uvicorn installs no signal handlers outside the main thread and never touches the host's logging
configuration here (``log_config=None``). Accepted connections get TCP_NODELAY (see
:meth:`ServerThread.start`), so keep-alive requests do not wait on Nagle's algorithm.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable

import uvicorn
from starlette.types import ASGIApp

from .._errors import SandboxError
from ._logs import install_log_filters

__all__ = ["ServerThread"]


class ServerThread:
    """Serve ``app`` on ``host:port`` (0: any free port) until :meth:`stop`."""

    def __init__(self, app: ASGIApp, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self._app = app
        self._host = host
        self._requested_port = port
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None
        self.port = 0

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, timeout: float = 5.0, abort: Callable[[], bool] | None = None) -> int:
        """Bind, start serving, and return the port once the server accepts connections.

        ``abort`` is asked while waiting for the server: when it says True (a signal arrived),
        the server is stopped at once and ``start`` returns without waiting any longer.
        """
        if self.running:
            return self.port
        install_log_filters()
        # proto=IPPROTO_TCP matters: asyncio sets TCP_NODELAY on accepted sockets only when
        # the listening socket says TCP; with proto 0 every keep-alive response waits ~40 ms.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self._host, self._requested_port))
        except OSError as exc:
            sock.close()
            raise SandboxError(
                f"The sandbox cannot listen on {self._host}:{self._requested_port} ({exc}). "
                "Pick another port, or 0 for any free one."
            ) from exc
        self._socket = sock
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self._app,
            http="h11",
            ws="none",
            lifespan="off",
            log_config=None,
            access_log=True,  # False would strip the host's handlers from uvicorn.access
            timeout_graceful_shutdown=1,
            server_header=False,
        )
        config.load()  # the imports it needs happen here, not in the server thread
        server = uvicorn.Server(config)
        self._server = server
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name=f"sandbox:{self.port}", daemon=True
        )
        self._thread = thread
        thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if abort is not None and abort():
                self.stop()
                return 0
            if not thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise SandboxError(
                    f"The sandbox did not start on port {self.port} within {timeout:g} s."
                )
            time.sleep(0.002)
        return self.port

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving, join the thread and release the port."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
        if self._socket is not None:
            self._socket.close()
        self._server = self._thread = self._socket = None
