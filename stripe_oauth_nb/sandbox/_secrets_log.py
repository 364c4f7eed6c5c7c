"""Test-only hook: write down every secret the sandbox mints, so a leak test knows exact values.

When the environment variable ``STRIPE_OAUTH_NB_SANDBOX_SECRETS_FILE`` names a file, every
developer secret key, authorization code, access token and refresh token the sandbox creates is
appended to it, one per line (the file is created with mode 0600). The variable is read at each
mint, so a process (or a notebook kernel) that inherits it records the secrets of every sandbox
it starts. ``tests/test_leaks.py`` uses this to search executed notebooks and DEBUG logs for the
exact values. Unset (the default), nothing is written. Never set it outside tests: the file holds
the secrets unmasked.
"""

from __future__ import annotations

import os
import threading
from typing import Final

__all__ = ["SECRETS_FILE_ENV", "record_secret"]

SECRETS_FILE_ENV: Final = "STRIPE_OAUTH_NB_SANDBOX_SECRETS_FILE"
_lock = threading.Lock()


def record_secret(value: str) -> str:
    """Append ``value`` to the secrets file when the variable is set; return ``value``."""
    path = os.environ.get(SECRETS_FILE_ENV)
    if path:
        with _lock:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                os.write(fd, f"{value}\n".encode())
            finally:
                os.close(fd)
    return value
