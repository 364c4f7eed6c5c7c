"""The sandbox's server: the package's uvicorn thread (:mod:`stripe_oauth_nb._serving`).

Binding first gives a free port with no race and a clear error when a fixed port is taken; the
sandbox's log filters (no secrets, no query strings) go on uvicorn's loggers before it starts.
The modules uvicorn loads when it starts are imported with this one, so the server thread starts
in milliseconds and a command can stop it promptly even while it is starting.
"""

from __future__ import annotations

from collections.abc import Callable

import uvicorn.lifespan.off
import uvicorn.middleware.proxy_headers
import uvicorn.protocols.http.h11_impl  # noqa: F401 - imported for uvicorn's Config.load
from starlette.types import ASGIApp

from .._errors import SandboxError
from .._serving import ServerThread as _Thread
from .._serving import bind
from ._logs import install_log_filters

__all__ = ["ServerThread"]


class ServerThread:
    """Serve ``app`` on ``host:port`` (0: any free port) until :meth:`stop`."""

    def __init__(self, app: ASGIApp, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self._app = app
        self._host = host
        self._requested_port = port
        self._thread: _Thread | None = None
        self.port = 0

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.running

    def start(self, timeout: float = 5.0, abort: Callable[[], bool] | None = None) -> int:
        """Bind, start serving, and return the port once the server accepts connections.

        ``abort`` is asked before and after starting: when it says True (a signal arrived),
        the server is stopped (or not started) and ``start`` returns at once.
        """
        if self.running:
            return self.port
        if abort is not None and abort():
            return 0
        install_log_filters()
        try:
            sock = bind(self._host, self._requested_port)
        except OSError as exc:
            raise SandboxError(
                f"The sandbox cannot listen on {self._host}:{self._requested_port} "
                f"({exc.strerror or exc}). Pick another port (1-65535), or 0 for any free one."
            ) from None
        thread = _Thread(self._app, sock, name=f"sandbox:{sock.getsockname()[1]}")
        self._thread = thread
        self.port = thread.port
        try:
            thread.start(timeout)
        except TimeoutError:
            self._thread = None
            raise SandboxError(
                f"The sandbox did not start on port {self.port} within {timeout:g} s."
            ) from None
        if abort is not None and abort():
            self.stop()
        return self.port

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving, join the thread and release the port."""
        if self._thread is not None:
            self._thread.stop(timeout)
        self._thread = None
