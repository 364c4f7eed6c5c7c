"""The token database itself: its DSN, a small pool of connections, and its schema.

:class:`Database` turns a DSN into connection parameters (never shown with the password:
:attr:`Database.location`), keeps up to a few idle connections for reuse (closed when the
database object goes away), turns database errors into :class:`StoreUnavailableError` with a
masked detail, and on its first connection creates and migrates the schema ``stripe_oauth_nb``:
a numbered list of steps (:data:`MIGRATIONS`, never changed once released, only appended),
applied under an advisory lock, the version kept in ``schema_version``. The store
(:mod:`._store`) and the attempt records (:mod:`._attempts`) both work through it.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
import weakref
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ..._errors import ConfigError, StoreUnavailableError
from ..._masking import mask_dsn, mask_text

if TYPE_CHECKING:
    import psycopg

__all__ = ["LATEST_VERSION", "MIGRATIONS", "SCHEMA", "Database", "lock_id"]

SCHEMA = "stripe_oauth_nb"
#: Idle connections kept for reuse by one store.
_IDLE = 8
_MIGRATE_LOCK = 0x534F4E42_00000001  # "SONB" + 1: one migrator at a time

#: The schema, step by step; a step is never changed once released, only new ones appended.
MIGRATIONS: list[tuple[int, str]] = [
    (
        1,
        """
        CREATE TABLE stripe_oauth_nb.token_sets (
            account_id      text             NOT NULL,
            livemode        boolean          NOT NULL,
            access_token    text             NOT NULL,
            refresh_token   text             NOT NULL,
            refresh_sha256  text             NOT NULL,
            publishable_key text             NOT NULL DEFAULT '',
            scope           text             NOT NULL DEFAULT 'stripe_apps',
            token_type      text             NOT NULL DEFAULT 'bearer',
            obtained_at     double precision NOT NULL,
            authorized_seq  bigint           NOT NULL,
            updated_at      timestamptz      NOT NULL DEFAULT now(),
            PRIMARY KEY (account_id, livemode)
        );
        CREATE SEQUENCE stripe_oauth_nb.authorized_seq;
        CREATE TABLE stripe_oauth_nb.inflight (
            account_id      text             NOT NULL,
            livemode        boolean          NOT NULL,
            refresh_sha256  text             NOT NULL,
            started_at      double precision NOT NULL,
            pid             integer          NOT NULL,
            host            text             NOT NULL DEFAULT '',
            confirmed_lost  boolean          NOT NULL DEFAULT false,
            deauthorized    boolean          NOT NULL DEFAULT false,
            PRIMARY KEY (account_id, livemode)
        );
        CREATE TABLE stripe_oauth_nb.attempts (
            state_sha256    text             PRIMARY KEY,
            created_at      double precision NOT NULL,
            record          text             NOT NULL
        );
        """,
    ),
]
LATEST_VERSION = MIGRATIONS[-1][0]


def _dsn_parts(dsn: str) -> dict[str, Any]:
    from psycopg.conninfo import conninfo_to_dict

    try:
        return dict(conninfo_to_dict(dsn))
    except Exception:  # psycopg.ProgrammingError, and anything odd in a malformed DSN
        raise ConfigError(
            "The token store setting looks like a PostgreSQL DSN but cannot be read. Write it as "
            "postgresql://USER:PASSWORD@HOST:PORT/DATABASE (URL-encode special characters)."
        ) from None


def _database_key(parts: dict[str, Any]) -> str:
    """``user@host:port/db``: one name per database, however its DSN is written."""
    host = parts.get("host") or "localhost"
    return f"{parts.get('user', '')}@{host}:{parts.get('port', '')}/{parts.get('dbname', '')}"


def lock_id(text: str) -> int:
    """A signed 64-bit advisory lock key for ``text``."""
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big", signed=True)


def _close_all(connections: list[Any]) -> None:
    for conn in list(connections):
        with contextlib.suppress(Exception):
            conn.close()
    connections.clear()


class Database:
    """One PostgreSQL database, reached with ``dsn`` (see the module docstring)."""

    def __init__(self, dsn: str, *, connect_timeout: int = 10) -> None:
        self.parts = _dsn_parts(dsn)
        self.parts.setdefault("connect_timeout", str(connect_timeout))
        self.parts.setdefault("application_name", "stripe-oauth-nb")
        for name, value in (("keepalives", "1"), ("keepalives_idle", "10")):
            self.parts.setdefault(name, value)
        #: The DSN for messages: its password masked.
        self.location = mask_dsn(dsn)
        #: ``user@host:port/db``: one name per database, however its DSN is written.
        self.ident = _database_key(self.parts)
        self._idle: list[psycopg.Connection[Any]] = []
        self._pool_lock = threading.Lock()
        # A database nobody closed still closes its idle connections when it goes away.
        self._finalizer = weakref.finalize(self, _close_all, self._idle)
        self._migrated = False

    def unavailable(self, exc: BaseException, what: str, after: str) -> StoreUnavailableError:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        password = str(self.parts.get("password") or "")
        if password:
            detail = detail.replace(password, "***")
        return StoreUnavailableError(
            f"The token database {self.location} {what} ({mask_text(detail)[:200]}). {after}"
        )

    def connect(self) -> psycopg.Connection[Any]:
        import psycopg

        try:
            conn = psycopg.connect(autocommit=True, **self.parts)
        except psycopg.Error as exc:
            raise self.unavailable(
                exc,
                "cannot be reached",
                "Check STRIPE_OAUTH_NB_TOKEN_STORE (host, port, user, password, database) and "
                "that the server runs; nothing was changed.",
            ) from None
        if not self._migrated:
            try:
                self.migrate(conn)
            except BaseException:
                conn.close()
                raise
        return conn

    def checkout(self) -> psycopg.Connection[Any]:
        from psycopg.pq import TransactionStatus

        while True:
            with self._pool_lock:
                conn = self._idle.pop() if self._idle else None
            if conn is None:
                return self.connect()
            if not conn.closed and conn.info.transaction_status == TransactionStatus.IDLE:
                return conn
            conn.close()

    def checkin(self, conn: psycopg.Connection[Any]) -> None:
        from psycopg.pq import TransactionStatus

        if conn.closed or conn.info.transaction_status != TransactionStatus.IDLE:
            conn.close()
            return
        with self._pool_lock:
            if len(self._idle) < _IDLE:
                self._idle.append(conn)
                return
        conn.close()

    @contextlib.contextmanager
    def conn(self, what: str = "failed") -> Iterator[psycopg.Connection[Any]]:
        """A connection for one operation; database errors become clear store errors."""
        import psycopg

        conn = self.checkout()
        try:
            yield conn
        except psycopg.OperationalError as exc:
            conn.close()
            raise self.unavailable(
                exc, "dropped the connection", "Nothing was changed; try again."
            ) from None
        except psycopg.Error as exc:
            conn.close()
            raise self.unavailable(exc, what, "Nothing was changed.") from None
        finally:
            self.checkin(conn)

    def close(self) -> None:
        with self._pool_lock:
            idle = list(self._idle)
            self._idle.clear()
        for conn in idle:
            conn.close()

    def version(self, conn: psycopg.Connection[Any]) -> int:
        row = conn.execute(
            "SELECT to_regclass(%s) IS NOT NULL", ["stripe_oauth_nb.schema_version"]
        ).fetchone()
        if not row or not row[0]:
            return 0
        found = conn.execute("SELECT max(version) FROM stripe_oauth_nb.schema_version").fetchone()
        return int(found[0]) if found and found[0] is not None else 0

    def migrate(self, conn: psycopg.Connection[Any]) -> None:
        import psycopg

        try:
            if self.version(conn) == LATEST_VERSION:
                self._migrated = True
                return
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", [_MIGRATE_LOCK])
                conn.execute("CREATE SCHEMA IF NOT EXISTS stripe_oauth_nb")
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS stripe_oauth_nb.schema_version "
                    "(version integer NOT NULL)"
                )
                current = self.version(conn)
                if current > LATEST_VERSION:
                    raise StoreUnavailableError(
                        f"The token database {self.location} was set up by a newer "
                        f"stripe-oauth-nb (schema {current}; this one knows {LATEST_VERSION}). "
                        "Upgrade stripe-oauth-nb on this machine; nothing was changed."
                    )
                for version, sql in MIGRATIONS:
                    if version > current:
                        conn.execute(sql)
                        conn.execute(
                            "INSERT INTO stripe_oauth_nb.schema_version (version) VALUES (%s)",
                            [version],
                        )
        except psycopg.Error as exc:
            raise self.unavailable(
                exc,
                "could not be prepared (creating or migrating its tables)",
                "The database user needs CREATE on the database (or an administrator runs "
                "stripe-oauth-nb once to create the schema stripe_oauth_nb); nothing was changed.",
            ) from None
        self._migrated = True
