"""Tokens: exchange a code once, store token sets durably, refresh them single-flight.

- :class:`TokenClient`: the token endpoint (exchange, refresh), one request each, never retried.
- :class:`TokenStore` and its three stores (file, keyring, memory), keyed by (account, livemode).
- :class:`TokenManager`: what notebooks, the CLI and the API layer use.
"""

from __future__ import annotations

from ._client import TokenClient
from ._manager import (
    DEFAULT_MARGIN,
    REFRESH_WARNING_WINDOW,
    RefreshTokenExpiringWarning,
    TokenManager,
    default_attempts_path,
)
from ._refresh import InflightRecord
from ._store import FileTokenStore, KeyringTokenStore, MemoryTokenStore, TokenStore

__all__ = [
    "DEFAULT_MARGIN",
    "REFRESH_WARNING_WINDOW",
    "FileTokenStore",
    "InflightRecord",
    "KeyringTokenStore",
    "MemoryTokenStore",
    "RefreshTokenExpiringWarning",
    "TokenClient",
    "TokenManager",
    "TokenStore",
    "default_attempts_path",
]
