"""Tokens: exchange a code once, store token sets durably, refresh them single-flight.

- :class:`TokenClient`: the token endpoint (exchange, refresh), one request each, never retried,
  each within a total deadline.
- :class:`TokenStore` and its stores (file, PostgreSQL, keyring, memory), keyed by (account,
  livemode); :func:`open_store` picks the one a setting names; tokens sealed at rest with a
  store key (:mod:`._crypto`).
- :class:`TokenManager`: what notebooks, the CLI and the API layer use; ``refresh_all`` for
  many installs (:mod:`._bulk`); :func:`migrate` copies sets between stores (:mod:`._migrate`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._bulk import RefreshOutcome
from ._client import DEFAULT_DEADLINE, TokenClient
from ._manager import (
    DEFAULT_LOCK_TIMEOUT,
    RefreshTokenExpiringWarning,
    TokenManager,
    default_attempts_path,
)
from ._refresh import InflightRecord
from ._store import (
    FileTokenStore,
    KeyringTokenStore,
    MemoryTokenStore,
    TokenStore,
    open_attempt_log,
    open_store,
)

if TYPE_CHECKING:
    from ._postgres import PostgresTokenStore

__all__ = [
    "DEFAULT_DEADLINE",
    "DEFAULT_LOCK_TIMEOUT",
    "FileTokenStore",
    "InflightRecord",
    "KeyringTokenStore",
    "MemoryTokenStore",
    "PostgresTokenStore",
    "RefreshOutcome",
    "RefreshTokenExpiringWarning",
    "TokenClient",
    "TokenManager",
    "TokenStore",
    "default_attempts_path",
    "open_attempt_log",
    "open_store",
]


def __getattr__(name: str) -> Any:
    if name == "PostgresTokenStore":  # imports psycopg: only when asked for
        from ._postgres import PostgresTokenStore

        return PostgresTokenStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
