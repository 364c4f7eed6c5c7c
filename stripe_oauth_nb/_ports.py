"""A loopback port for a server that will bind it a moment later.

Binding port 0 and releasing it hands out a port from the operating system's ephemeral range,
the same range every outgoing connection on the machine takes its local port from: between the
probe and the server's own bind, any connection (another kernel, a test running beside this one)
may take it, and the server then finds its port in use. A port below the ephemeral ranges
(Linux 32768-60999, macOS and Windows 49152-65535) is only ever taken by a program that binds it
on purpose, so a port picked at random there and found free stays free.
"""

from __future__ import annotations

import random
import socket

__all__ = ["free_loopback_port"]

#: Ports no operating system hands out on its own (below every default ephemeral range), and
#: above the ports well-known services are usually configured on.
_RANGE = (20000, 32767)
_TRIES = 64


def free_loopback_port(host: str = "127.0.0.1") -> int:
    """A TCP port on ``host`` that was free just now and that no outgoing connection takes."""
    pick = random.SystemRandom()
    for _ in range(_TRIES):
        port = pick.randint(*_RANGE)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind((host, port))
            except OSError:
                continue  # in use (or lingering): try another
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:  # a crowded range
        probe.bind((host, 0))
        found: int = probe.getsockname()[1]
        return found
