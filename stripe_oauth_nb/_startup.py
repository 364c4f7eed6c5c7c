"""A signal that arrives while the command line is still starting ends the process at once.

Python's own SIGINT handler raises ``KeyboardInterrupt`` wherever the main thread happens to be,
and where that is a weakref callback or a ``__del__`` (the import system runs such callbacks on
every import) Python prints "Exception ignored ... KeyboardInterrupt" and carries on: the
interrupt is lost and, for ``stripe-oauth-nb sandbox``, the server then starts and serves until
a second signal. So the front door (``python -m stripe_oauth_nb`` and the ``stripe-oauth-nb``
script) calls :func:`guard` before it imports anything else: until the command hands over, SIGINT
and SIGTERM take their default action (the process ends, killed by that signal; nothing has been
written or started yet). The command line calls :func:`release` once it has parsed its
arguments, and each command then handles signals as it needs (``KeyboardInterrupt`` and exit 130
for most; the sandbox stops its server and exits 0).

Only the interpreter's own start (``site``, the package's ``__init__``) comes before
:func:`guard`: a SIGINT there is still Python's to lose.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from types import FrameType
from typing import Any

__all__ = ["guard", "release"]

_Handler = Callable[[int, FrameType | None], Any] | int | signal.Handlers | None

_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_previous: dict[signal.Signals, _Handler] = {}


def _end_by(signum: int, frame: FrameType | None) -> None:
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def guard() -> None:
    """From now until :func:`release`, SIGINT and SIGTERM end the process at once."""
    for sig in _SIGNALS:
        _previous[sig] = signal.signal(sig, _end_by)


def release() -> None:
    """Give SIGINT and SIGTERM back their handlers from before :func:`guard` (if it was called)."""
    for sig in _SIGNALS:
        if sig in _previous and signal.getsignal(sig) is _end_by:
            previous = _previous.pop(sig)
            signal.signal(sig, signal.SIG_DFL if previous is None else previous)
