"""A test hook: stop the process dead at a named point of a refresh.

Tests of crash safety set ``STRIPE_OAUTH_NB_TEST_KILL_AT=<point>`` in a child process; when the
refresh reaches that point the child sends itself SIGKILL (no cleanup, no ``finally``), exactly
as a power cut or an OOM kill would. Points, in order:

- ``before-post``: the in-flight record is on disk, the request is not sent yet;
- ``after-response``: Stripe has answered (the refresh token rotated), nothing is stored yet;
- ``after-received``: the new pair is kept in the in-flight record (the second durable place),
  the store is not written yet (local stores only);
- ``after-replace``: the new pair is in the store, the in-flight record is not cleared.

(The tests add ``mid-write``, between the temp file and the replace, by wrapping ``os.replace``
in the child.) With the variable unset, which is always the case outside tests, this is a no-op.
"""

from __future__ import annotations

import os
import signal

__all__ = ["KILL_AT_ENV", "POINTS", "checkpoint"]

KILL_AT_ENV = "STRIPE_OAUTH_NB_TEST_KILL_AT"
POINTS = ("before-post", "after-response", "after-received", "after-replace")


def checkpoint(name: str) -> None:
    """Test hook: SIGKILL this process if ``STRIPE_OAUTH_NB_TEST_KILL_AT`` names this point."""
    if os.environ.get(KILL_AT_ENV) == name:
        os.kill(os.getpid(), getattr(signal, "SIGKILL", signal.SIGTERM))
