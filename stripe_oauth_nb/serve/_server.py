"""Run the install app with uvicorn: in a thread (notebooks, tests) or in the foreground (CLI).

The socket is bound before uvicorn starts, so a taken port fails at once with a clear error and
port 0 gets a free port without a race. Log filters on uvicorn's loggers drop query strings
(codes and states travel there) and mask anything that looks like a secret. Starting a server
on a port where this process already serves one stops the old one first (a re-run cell).
"""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType
from typing import ClassVar

import uvicorn

from .._errors import ConfigError
from ..sandbox._logs import install_log_filters
from ._app import create_app
from ._config import ServeConfig

__all__ = ["InstallServer"]


class InstallServer:
    """The install app of ``config`` on ``config.host:config.port``.

    ``with InstallServer(config) as server:`` serves in a daemon thread until the block ends;
    :meth:`serve_forever` serves in the calling thread until SIGINT/SIGTERM (the CLI).
    """

    _running: ClassVar[dict[tuple[str, int], InstallServer]] = {}
    _registry_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, config: ServeConfig) -> None:
        self.config = config
        self.app = create_app(config)
        self._fresh = True
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None
        self.port = 0

    @property
    def url(self) -> str:
        """Where this process listens (the public URL may differ behind a proxy)."""
        host = self.config.host if ":" not in self.config.host else f"[{self.config.host}]"
        return f"http://{host}:{self.port}"

    @property
    def public_url(self) -> str:
        return self.config.public_url

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def bind(self) -> int:
        """Bind the port now (a taken port fails here); return it. :meth:`start` and
        :meth:`serve_forever` bind on their own when this was not called."""
        if self._socket is None:
            self._socket = self._bind()
        return self.port

    def _bind(self) -> socket.socket:
        if not self._fresh:  # stopped before: its HTTP client is closed
            self.app = create_app(self.config)
        self._fresh = False
        key = (self.config.host, self.config.port)
        with self._registry_lock:
            previous = self._running.pop(key, None) if self.config.port else None
        if previous is not None:
            previous.stop()
        family = socket.AF_INET6 if ":" in self.config.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.config.host, self.config.port))
        except OSError as exc:
            sock.close()
            raise ConfigError(
                f"Cannot listen on {self.config.host}:{self.config.port} ({exc.strerror}). "
                "Another program uses that port: stop it, or pick another with --port (and "
                "list the new callback URL in allowed_redirect_uris)."
            ) from None
        self.port = sock.getsockname()[1]
        with self._registry_lock:
            self._running[(self.config.host, self.port)] = self
        return sock

    def _uvicorn(self) -> uvicorn.Server:
        install_log_filters()
        config = uvicorn.Config(
            self.app,
            http="h11",
            ws="none",
            lifespan="off",
            log_config=None,
            access_log=True,
            timeout_graceful_shutdown=2,
            timeout_keep_alive=5,
            server_header=False,
            limit_concurrency=512,
        )
        return uvicorn.Server(config)

    def start(self, timeout: float = 10.0) -> InstallServer:
        """Serve in a daemon thread; return once connections are accepted."""
        if self.running:
            return self
        self.bind()
        assert self._socket is not None
        sock = self._socket
        server = self._server = self._uvicorn()
        thread = threading.Thread(
            target=server.run,
            kwargs={"sockets": [sock]},
            name=f"stripe-oauth-nb-serve:{self.port}",
            daemon=True,
        )
        self._thread = thread
        thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise ConfigError(
                    f"The install server did not start on port {self.port} within {timeout:g} s."
                )
            time.sleep(0.01)
        return self

    def serve_forever(self) -> None:
        """Serve in this thread until SIGINT or SIGTERM (uvicorn's own handlers)."""
        self.bind()
        assert self._socket is not None
        sock = self._socket
        self._server = self._uvicorn()
        try:
            self._server.run(sockets=[sock])
        finally:
            self._release()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving, join the thread, release the port (idempotent)."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
        self._release()

    def _release(self) -> None:
        if self._socket is not None:
            self._socket.close()
        with self._registry_lock:
            if self._running.get((self.config.host, self.port)) is self:
                del self._running[(self.config.host, self.port)]
        if self.app.state.owns_http:
            self.app.state.http.close()
            self.app.state.owns_http = False
        self._server = self._thread = self._socket = None

    def __enter__(self) -> InstallServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self.url if self.port else "not started"
        return f"InstallServer({where}, public_url={self.public_url!r})"
