"""The shared token store in PostgreSQL (psycopg 3), for teams and many installs.

Split along its seams: ``_pool`` is the database itself (DSN, connection pool, schema and
migrations), ``_store`` the token store over it (:class:`PostgresTokenStore`: token sets,
in-flight records, single flight between hosts, the spool), ``_attempts`` the attempt log's
records in the same database (:class:`PostgresAttemptRecords`). Imports psycopg: load it only
where a ``postgresql://`` store is used.
"""

from __future__ import annotations

from ._attempts import PostgresAttemptRecords
from ._pool import LATEST_VERSION, MIGRATIONS, SCHEMA
from ._store import _WARNED as _WARNED  # databases warned about once (tests clear it)
from ._store import PostgresTokenStore

__all__ = [
    "LATEST_VERSION",
    "MIGRATIONS",
    "SCHEMA",
    "PostgresAttemptRecords",
    "PostgresTokenStore",
]
