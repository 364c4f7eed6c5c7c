"""The shared token store in PostgreSQL (psycopg 3), for teams and many installs.

``_store`` holds :class:`PostgresTokenStore` (token sets, in-flight records, single flight
between hosts, the spool) and :class:`PostgresAttemptRecords` (the attempt log's rows). Imports
psycopg: load it only where a ``postgresql://`` store is used.
"""

from __future__ import annotations

from ._store import _WARNED as _WARNED  # databases warned about once (tests clear it)
from ._store import (
    LATEST_VERSION,
    MIGRATIONS,
    SCHEMA,
    PostgresAttemptRecords,
    PostgresTokenStore,
)

__all__ = [
    "LATEST_VERSION",
    "MIGRATIONS",
    "SCHEMA",
    "PostgresAttemptRecords",
    "PostgresTokenStore",
]
