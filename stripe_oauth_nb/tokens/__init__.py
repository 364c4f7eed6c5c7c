"""Step 4: exchange a code once, keep token sets, refresh them single-flight.

    from stripe_oauth_nb.tokens import TokenManager, FileTokenStore

:class:`TokenManager` is what everything else uses; the stores keep :class:`TokenSet` s keyed by
(account, mode). :func:`open_attempt_log` opens the attempt log that goes with a token store.

The private modules, one concern each:

- ``_client``: the token endpoint (exchange, refresh), one request each, never retried, each
  within a total deadline.
- ``_store`` and ``_postgres/``: the stores (file, keyring, memory, PostgreSQL), keyed by
  (account, livemode); :func:`open_store` picks the one a setting names; tokens sealed at rest
  with a store key (``_crypto``).
- ``_refresh``: single flight (locks, in-flight records); ``_manager``: :class:`TokenManager`;
  ``_bulk``: ``refresh_all`` for many installs; ``_migrate``: copying sets between stores.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._tokenset import TokenSet
from ._bulk import RefreshOutcome as RefreshOutcome
from ._client import DEFAULT_DEADLINE as DEFAULT_DEADLINE
from ._client import TokenClient
from ._manager import DEFAULT_LOCK_TIMEOUT as DEFAULT_LOCK_TIMEOUT
from ._manager import RefreshTokenExpiringWarning as RefreshTokenExpiringWarning
from ._manager import TokenManager
from ._manager import default_attempts_path as default_attempts_path
from ._refresh import InflightRecord as InflightRecord
from ._store import (
    FileTokenStore,
    KeyringTokenStore,
    MemoryTokenStore,
    TokenStore,
    open_attempt_log,
)
from ._store import open_store as open_store

if TYPE_CHECKING:
    from ._postgres import PostgresTokenStore as PostgresTokenStore

__all__ = [
    "FileTokenStore",
    "KeyringTokenStore",
    "MemoryTokenStore",
    "TokenClient",
    "TokenManager",
    "TokenSet",
    "TokenStore",
    "open_attempt_log",
]


def __getattr__(name: str) -> Any:
    if name == "PostgresTokenStore":  # imports psycopg: only when asked for
        from ._postgres import PostgresTokenStore

        return PostgresTokenStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
