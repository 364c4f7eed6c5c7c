"""Run the install app with uvicorn in a thread (notebooks, tests) or until a signal (CLI).

The thread, the early bind (a taken port fails at once with a clear error; port 0 gets a free
one without a race) and the log filters on uvicorn's loggers (query strings dropped, secrets
masked) are the package's one server stack, :mod:`stripe_oauth_nb._serving`.
Starting a server on a port where this process already serves one stops the old one first (a
re-run notebook cell).
"""

from __future__ import annotations

import signal
import threading
import time
from types import FrameType, TracebackType
from typing import ClassVar

from .._errors import ConfigError
from .._serving import ServerThread, bind
from ._app import create_app
from ._config import ServeConfig

#: How often serve_forever looks for a signal (and whether the server still runs).
_POLL = 0.05

__all__ = ["InstallServer"]


class InstallServer:
    """The install app of ``config`` on ``config.host:config.port``.

    ``with InstallServer(config) as server:`` serves in a daemon thread until the block ends;
    :meth:`serve_forever` serves until SIGINT or SIGTERM (the CLI).
    """

    _running: ClassVar[dict[tuple[str, int], InstallServer]] = {}
    _registry_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, config: ServeConfig) -> None:
        self.config = config
        self._thread: ServerThread | None = None
        self.port = 0

    @property
    def url(self) -> str:
        """Where this process listens (the public URL may differ behind a proxy)."""
        return f"http://{self.config.host}:{self.port}"

    @property
    def public_url(self) -> str:
        return self.config.public_url

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.running

    def start(self) -> InstallServer:
        """Bind and serve in a daemon thread; return once connections are accepted."""
        if self.running:
            return self
        key = (self.config.host, self.config.port)
        with self._registry_lock:
            previous = self._running.pop(key, None) if self.config.port else None
        if previous is not None:
            previous.stop()
        app = create_app(self.config)
        try:
            sock = bind(self.config.host, self.config.port)
            thread = ServerThread(app, sock, name=f"stripe-oauth-nb-serve:{sock.getsockname()[1]}")
            thread.start(timeout=10.0)
        except (OSError, TimeoutError):
            app.state.http.close()
            raise ConfigError(
                f"Cannot serve on {self.config.host}:{self.config.port}: another program uses "
                "that port (or the address is not this machine's). Stop it, or pick another "
                "--port (and list the new callback URL in allowed_redirect_uris)."
            ) from None
        self.port = thread.port
        self._thread, self._app = thread, app
        with self._registry_lock:
            self._running[(self.config.host, self.port)] = self
        return self

    def serve_forever(self) -> None:
        """Serve until SIGINT or SIGTERM, then stop (call from the main thread)."""
        stop: list[int] = []

        def on_signal(signum: int, frame: FrameType | None) -> None:
            # No lock here: an Event.set() in a handler deadlocks when the signal lands while
            # this same thread holds the Event's lock inside Event.wait() (seen: a SIGTERM that
            # never stopped `serve`). The loop below reads the list instead.
            stop.append(signum)

        previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            self.start()
            while not stop:
                if not self.running:
                    raise ConfigError("The install server stopped unexpectedly; see the log.")
                time.sleep(_POLL)
        finally:
            self.stop()
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def stop(self) -> None:
        """Stop serving, release the port (idempotent)."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        thread.stop()
        self._app.state.http.close()
        with self._registry_lock:
            if self._running.get((self.config.host, self.port)) is self:
                del self._running[(self.config.host, self.port)]

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
