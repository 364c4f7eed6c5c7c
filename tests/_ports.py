"""The one free-port helper for tests: the toolkit's own rule (``stripe_oauth_nb._ports``), a
port below the ephemeral range, so no connection of another test (or xdist worker) takes it
between the probe and the bind."""

from __future__ import annotations

from stripe_oauth_nb._ports import free_loopback_port

__all__ = ["free_port"]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago and that no outgoing connection takes."""
    return free_loopback_port()
