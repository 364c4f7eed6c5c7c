"""The shared token store: PostgreSQL, for teams and many installs (psycopg 3).

Chosen with ``STRIPE_OAUTH_NB_TOKEN_STORE=postgresql://user:password@host/db`` (or in code,
``PostgresTokenStore(dsn)``). Everything lives in the schema ``stripe_oauth_nb``, which the store
creates and migrates itself (a numbered list of steps, :data:`MIGRATIONS`, applied under an
advisory lock, the version kept in ``schema_version``):

- ``token_sets``: one row per (account, livemode), tokens sealed when a store key is set
  (:mod:`._crypto`), the SHA-256 of the refresh token, and the order of authorization;
- ``inflight``: the in-flight record of a refresh, a refusal mark (deauthorized), per key;
- ``attempts``: the attempt log of install links (keyed by a SHA-256 of their state).

**Single flight between hosts.** ``locked(account, livemode, timeout)`` takes a session-level
advisory lock on a key derived from (schema, account, mode), on a connection it keeps for the
whole refresh (``lock_timeout`` bounds the wait; ``timeout=0`` tries once). The in-flight
record is committed on that connection before the POST, so it is only written while the lock is
held; the new pair is committed after it, in one transaction with the removal of the record, and
only over the set it was rotated from (compare-and-set on the refresh token's hash), so a late
writer can never overwrite a newer pair. The lock dies with its session: a killed refresher
(or a dropped connection) frees it at once, and its committed record tells the next one what
happened (see :mod:`._refresh`).

**Failures lose nothing.** A connection that cannot be made, or that drops before the POST:
:class:`StoreUnavailableError`, nothing sent. After the POST the new pair is the one thing that
must not be lost: its commit is retried on fresh connections for :data:`SAVE_RETRY` seconds
(a database restart takes a few); if the database stays away, the pair is written to a private
spool file on this machine (sealed like the store) and stored by the next refresh here.

Messages name the database without its password (:func:`~stripe_oauth_nb._masking.mask_dsn`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
import time
import warnings
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..._errors import (
    ConfigError,
    StoreKeyError,
    StoreUnavailableError,
    TokenLockTimeoutError,
    TokenStoreError,
    needs_extra,
)
from ..._fileio import DamagedFile, atomic_write_text, read_json_file
from ..._masking import mask_dsn, mask_text
from ..._tokenset import TokenSet
from .._crypto import StoreCipher, open_fields, seal_fields
from .._refresh import InflightRecord, fingerprint, store_key, thread_lock

if TYPE_CHECKING:
    import psycopg

    from ..._settings import Settings

__all__ = [
    "LATEST_VERSION",
    "MIGRATIONS",
    "SCHEMA",
    "PostgresAttemptRecords",
    "PostgresTokenStore",
]

SCHEMA = "stripe_oauth_nb"
#: Seconds the commit of a received pair is retried on fresh connections before it is spooled.
SAVE_RETRY = 20.0
#: Idle connections kept for reuse by one store.
_IDLE = 8
_MIGRATE_LOCK = 0x534F4E42_00000001  # "SONB" + 1: one migrator at a time
_ATTEMPTS_LOCK = 0x534F4E42_00000002

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

_COLUMNS = (
    "account_id, livemode, access_token, refresh_token, publishable_key, scope, token_type, "
    "obtained_at"
)


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


def _lock_id(text: str) -> int:
    """A signed 64-bit advisory lock key for ``text``."""
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big", signed=True)


#: Databases already warned about (tokens without encryption), once per process.
_WARNED: set[str] = set()


def _spool_folder() -> Path:
    from platformdirs import user_state_path

    return user_state_path("stripe-oauth-nb", appauthor=False) / "pending"


def _close_all(connections: list[Any]) -> None:
    for conn in list(connections):
        with contextlib.suppress(Exception):
            conn.close()
    connections.clear()


class PostgresTokenStore:
    """Token sets in PostgreSQL (see the module docstring). ``cipher`` seals tokens at rest."""

    def __init__(
        self,
        dsn: str,
        *,
        cipher: StoreCipher | None = None,
        spool: Path | None = None,
        connect_timeout: int = 10,
    ) -> None:
        try:
            import psycopg  # noqa: F401
        except ImportError:
            raise ConfigError(needs_extra("A postgresql:// token store", "psycopg")) from None
        self._parts = _dsn_parts(dsn)
        self._parts.setdefault("connect_timeout", str(connect_timeout))
        self._parts.setdefault("application_name", "stripe-oauth-nb")
        for name, value in (("keepalives", "1"), ("keepalives_idle", "10")):
            self._parts.setdefault(name, value)
        self.location = mask_dsn(dsn)
        self.cipher = cipher
        self.spool = spool if spool is not None else _spool_folder()
        # one thread-lock namespace per database, in this process
        self._ident = _database_key(self._parts)
        self._idle: list[psycopg.Connection[Any]] = []
        self._pool_lock = threading.Lock()
        # A store nobody closed still closes its idle connections when it goes away.
        self._finalizer = weakref.finalize(self, _close_all, self._idle)
        self._migrated = False
        if cipher is None and self.location not in _WARNED:
            _WARNED.add(self.location)
            warnings.warn(
                f"Tokens in {self.location} are stored without encryption: anyone who can read "
                "the database (or a dump of it) can use them. Set STRIPE_OAUTH_NB_STORE_KEY "
                "(`stripe-oauth-nb tokens new-key`), then run `stripe-oauth-nb tokens rekey`.",
                UserWarning,
                stacklevel=2,
            )

    def __repr__(self) -> str:
        return f"PostgresTokenStore({self.location!r})"

    # -- connections ---------------------------------------------------------------------
    def _unavailable(self, exc: BaseException, what: str, after: str) -> StoreUnavailableError:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        password = str(self._parts.get("password") or "")
        if password:
            detail = detail.replace(password, "***")
        return StoreUnavailableError(
            f"The token database {self.location} {what} ({mask_text(detail)[:200]}). {after}"
        )

    def _connect(self) -> psycopg.Connection[Any]:
        import psycopg

        try:
            conn = psycopg.connect(autocommit=True, **self._parts)
        except psycopg.Error as exc:
            raise self._unavailable(
                exc,
                "cannot be reached",
                "Check STRIPE_OAUTH_NB_TOKEN_STORE (host, port, user, password, database) and "
                "that the server runs; nothing was changed.",
            ) from None
        if not self._migrated:
            try:
                self._migrate(conn)
            except BaseException:
                conn.close()
                raise
        return conn

    def _checkout(self) -> psycopg.Connection[Any]:
        from psycopg.pq import TransactionStatus

        while True:
            with self._pool_lock:
                conn = self._idle.pop() if self._idle else None
            if conn is None:
                return self._connect()
            if not conn.closed and conn.info.transaction_status == TransactionStatus.IDLE:
                return conn
            conn.close()

    def _checkin(self, conn: psycopg.Connection[Any]) -> None:
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
    def _conn(self, what: str = "failed") -> Iterator[psycopg.Connection[Any]]:
        """A connection for one operation; database errors become clear store errors."""
        import psycopg

        conn = self._checkout()
        try:
            yield conn
        except psycopg.OperationalError as exc:
            conn.close()
            raise self._unavailable(
                exc, "dropped the connection", "Nothing was changed; try again."
            ) from None
        except psycopg.Error as exc:
            conn.close()
            raise self._unavailable(exc, what, "Nothing was changed.") from None
        finally:
            self._checkin(conn)

    def close(self) -> None:
        with self._pool_lock:
            idle = list(self._idle)
            self._idle.clear()
        for conn in idle:
            conn.close()

    # -- schema --------------------------------------------------------------------------
    def _version(self, conn: psycopg.Connection[Any]) -> int:
        row = conn.execute(
            "SELECT to_regclass(%s) IS NOT NULL", ["stripe_oauth_nb.schema_version"]
        ).fetchone()
        if not row or not row[0]:
            return 0
        found = conn.execute("SELECT max(version) FROM stripe_oauth_nb.schema_version").fetchone()
        return int(found[0]) if found and found[0] is not None else 0

    def _migrate(self, conn: psycopg.Connection[Any]) -> None:
        import psycopg

        try:
            if self._version(conn) == LATEST_VERSION:
                self._migrated = True
                return
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", [_MIGRATE_LOCK])
                conn.execute("CREATE SCHEMA IF NOT EXISTS stripe_oauth_nb")
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS stripe_oauth_nb.schema_version "
                    "(version integer NOT NULL)"
                )
                current = self._version(conn)
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
            raise self._unavailable(
                exc,
                "could not be prepared (creating or migrating its tables)",
                "The database user needs CREATE on the database (or an administrator runs "
                "stripe-oauth-nb once to create the schema stripe_oauth_nb); nothing was changed.",
            ) from None
        self._migrated = True

    # -- rows ----------------------------------------------------------------------------
    def _row_to_tokens(self, row: tuple[Any, ...]) -> TokenSet:
        names = [name.strip() for name in _COLUMNS.split(",")]
        data = dict(zip(names, row, strict=True))
        try:
            return TokenSet.from_json(open_fields(data, self.cipher, self.location))
        except StoreKeyError:
            raise
        except (KeyError, TypeError, ValueError) as exc:
            raise TokenStoreError(
                f"A row of {SCHEMA}.token_sets in {self.location} is damaged "
                f"({type(exc).__name__}: {str(exc)[:80]}). Delete that account's row and "
                "authorize it again."
            ) from None

    def _select(self, conn: psycopg.Connection[Any], account_id: str, livemode: bool) -> Any:
        return conn.execute(
            """
            SELECT account_id, livemode, access_token, refresh_token, publishable_key, scope,
                   token_type, obtained_at
            FROM stripe_oauth_nb.token_sets
            WHERE account_id = %s AND livemode = %s
            """,
            [account_id, livemode],
        ).fetchone()

    def _upsert(self, conn: psycopg.Connection[Any], tokens: TokenSet, *, authorized: bool) -> None:
        data = seal_fields(tokens.to_json(), self.cipher)
        conn.execute(
            """
            INSERT INTO stripe_oauth_nb.token_sets (account_id, livemode, access_token,
                refresh_token, publishable_key, scope, token_type, obtained_at, refresh_sha256,
                authorized_seq)
            VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, nextval('stripe_oauth_nb.authorized_seq'))
            ON CONFLICT (account_id, livemode) DO UPDATE SET
                access_token = EXCLUDED.access_token,
                refresh_token = EXCLUDED.refresh_token,
                refresh_sha256 = EXCLUDED.refresh_sha256,
                publishable_key = EXCLUDED.publishable_key,
                scope = EXCLUDED.scope,
                token_type = EXCLUDED.token_type,
                obtained_at = EXCLUDED.obtained_at,
                authorized_seq = CASE WHEN %s THEN EXCLUDED.authorized_seq
                                      ELSE stripe_oauth_nb.token_sets.authorized_seq END,
                updated_at = now()
            """,
            [
                tokens.account_id,
                tokens.livemode,
                data["access_token"],
                data["refresh_token"],
                tokens.publishable_key,
                tokens.scope,
                tokens.token_type,
                tokens.obtained_at,
                fingerprint(tokens.refresh_token),
                authorized,
            ],
        )

    # -- the TokenStore protocol -----------------------------------------------------------
    def load(self, account_id: str, livemode: bool) -> TokenSet | None:
        with self._conn("could not be read") as conn:
            row = self._select(conn, account_id, livemode)
        return self._row_to_tokens(row) if row else None

    def all(self) -> list[TokenSet]:
        with self._conn("could not be read") as conn:
            rows = conn.execute(
                """
            SELECT account_id, livemode, access_token, refresh_token, publishable_key, scope,
                   token_type, obtained_at
            FROM stripe_oauth_nb.token_sets
            ORDER BY authorized_seq
            """
            ).fetchall()
        return [self._row_to_tokens(row) for row in rows]

    def save(self, tokens: TokenSet, *, authorized: bool = False) -> None:
        with self._conn("refused the write") as conn:
            self._upsert(conn, tokens, authorized=authorized)

    def delete(self, account_id: str, livemode: bool) -> None:
        with self._conn("refused the delete") as conn, conn.transaction():
            conn.execute(
                "DELETE FROM stripe_oauth_nb.token_sets WHERE account_id = %s AND livemode = %s",
                [account_id, livemode],
            )
            conn.execute(
                "DELETE FROM stripe_oauth_nb.inflight WHERE account_id = %s AND livemode = %s",
                [account_id, livemode],
            )

    def records(self) -> list[InflightRecord]:
        with self._conn("could not be read") as conn:
            rows = conn.execute(
                "SELECT account_id, livemode, refresh_sha256, started_at, pid, confirmed_lost, "
                "deauthorized, host FROM stripe_oauth_nb.inflight"
            ).fetchall()
        return [_record(row) for row in rows]

    def rekey(self) -> int:
        """Seal every set again with the first key (or in clear without one); how many."""
        with self._conn("refused the rekey") as conn, conn.transaction():
            rows = conn.execute(
                """
            SELECT account_id, livemode, access_token, refresh_token, publishable_key, scope,
                   token_type, obtained_at
            FROM stripe_oauth_nb.token_sets
            ORDER BY authorized_seq FOR UPDATE
            """
            ).fetchall()
            sets = [self._row_to_tokens(row) for row in rows]  # every one opens, or nothing
            for tokens in sets:
                self._upsert(conn, tokens, authorized=False)
        return len(sets)

    def attempt_records(self) -> PostgresAttemptRecords:
        return PostgresAttemptRecords(self)

    @contextlib.contextmanager
    def locked(self, account_id: str, livemode: bool, timeout: float) -> Iterator[_PgSlot]:

        key = store_key(account_id, livemode)
        with thread_lock(f"pg:{self._ident}:{key}", timeout, self.location) as deadline:
            lock_id = _lock_id(f"{SCHEMA}:{key}")
            conn = self._acquire(lock_id, key, timeout, deadline)
            slot = _PgSlot(self, conn, account_id, livemode)
            try:
                yield slot
            finally:
                self._release(slot.conn, lock_id)

    def _acquire(
        self, lock_id: int, key: str, timeout: float, deadline: float
    ) -> psycopg.Connection[Any]:
        """A connection holding the advisory lock of ``key`` (reconnecting within the wait)."""
        import psycopg

        message = (
            f"Another refresh of {key} held its lock in {self.location} for more than "
            f"{timeout:.0f} s. It may still be running: try again in a minute (a lock dies with "
            "its database session)."
        )
        while True:
            conn = self._checkout()
            try:
                if timeout <= 0:
                    row = conn.execute("SELECT pg_try_advisory_lock(%s)", [lock_id]).fetchone()
                    if not row or not row[0]:
                        self._checkin(conn)
                        raise TokenLockTimeoutError(message)
                    return conn
                left_ms = max(int((deadline - time.monotonic()) * 1000), 1)
                conn.execute("SELECT set_config('lock_timeout', %s, false)", [f"{left_ms}ms"])
                try:
                    conn.execute("SELECT pg_advisory_lock(%s)", [lock_id])
                finally:
                    if not conn.closed:
                        with contextlib.suppress(psycopg.Error):
                            conn.execute("SELECT set_config('lock_timeout', '0', false)")
                return conn
            except psycopg.errors.LockNotAvailable:
                self._checkin(conn)
                raise TokenLockTimeoutError(message) from None
            except psycopg.OperationalError as exc:
                conn.close()
                if time.monotonic() + 0.5 >= deadline:
                    raise self._unavailable(
                        exc,
                        "dropped the connection while waiting for the refresh lock",
                        "Nothing was sent; try again when the database is back.",
                    ) from None
                time.sleep(0.5)

    def _release(self, conn: psycopg.Connection[Any], lock_id: int) -> None:
        import psycopg

        if conn.closed:
            return
        try:
            conn.execute("SELECT pg_advisory_unlock(%s)", [lock_id])
        except psycopg.Error:
            conn.close()  # the session ends, and its lock with it
            return
        self._checkin(conn)

    # -- the spool (a received pair the database could not take) ---------------------------
    def _spool_path(self, key: str) -> Path:
        name = hashlib.sha256(f"{self._ident}\0{key}".encode()).hexdigest()[:24]
        return self.spool / f"{name}.json"

    def _spool_write(self, key: str, tokens: TokenSet, rotated_from: str) -> Path:
        path = self._spool_path(key)
        payload = {
            "store": self.location,
            "key": key,
            "rotated_from": rotated_from,
            "tokens": seal_fields(tokens.to_json(), self.cipher),
        }
        atomic_write_text(path, json.dumps(payload, indent=2) + "\n")
        return path

    def _spool_read(self, key: str) -> tuple[TokenSet, str] | None:
        path = self._spool_path(key)
        try:
            data = read_json_file(path)
            if data is None:
                return None
            tokens = TokenSet.from_json(open_fields(data["tokens"], self.cipher, str(path)))
            rotated_from = data["rotated_from"]
            if data["key"] != key or not isinstance(rotated_from, str):
                raise ValueError("spooled for another key")
        except StoreKeyError:
            raise
        except (DamagedFile, OSError, KeyError, TypeError, ValueError) as exc:
            raise TokenStoreError(
                f"The spooled token set {path} cannot be read ({type(exc).__name__}). Move it "
                "aside and try again; if the refresh it holds is lost, authorize again."
            ) from None
        return tokens, rotated_from


def _record(row: tuple[Any, ...]) -> InflightRecord:

    account_id, livemode, sha, started, pid, lost, deauthorized, host = row
    return InflightRecord(
        store_key(account_id, livemode), sha, float(started), int(pid), lost, deauthorized, host
    )


def _put_record(
    conn: psycopg.Connection[Any], account_id: str, livemode: bool, record: InflightRecord
) -> None:
    conn.execute(
        """
        INSERT INTO stripe_oauth_nb.inflight (account_id, livemode, refresh_sha256, started_at, pid,
                                       host, confirmed_lost, deauthorized)
        VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
        ON CONFLICT (account_id, livemode) DO UPDATE SET
            refresh_sha256 = EXCLUDED.refresh_sha256, started_at = EXCLUDED.started_at,
            pid = EXCLUDED.pid, host = EXCLUDED.host, confirmed_lost = EXCLUDED.confirmed_lost,
            deauthorized = EXCLUDED.deauthorized
        """,
        [
            account_id,
            livemode,
            record.refresh_sha256,
            record.started_at,
            record.pid,
            record.host,
            record.confirmed_lost,
            record.deauthorized,
        ],
    )


class _PgSlot:
    """The refresh slot of :class:`PostgresTokenStore`: works on the lock's connection."""

    def __init__(
        self,
        store: PostgresTokenStore,
        conn: psycopg.Connection[Any],
        account_id: str,
        livemode: bool,
    ) -> None:

        self.store = store
        self.conn = conn
        self.account_id = account_id
        self.livemode = livemode
        self.key = store_key(account_id, livemode)
        self._record: InflightRecord | None = None
        self._record_read = False

    @contextlib.contextmanager
    def _on_lock(self, what: str, after: str) -> Iterator[psycopg.Connection[Any]]:
        import psycopg

        try:
            yield self.conn
        except psycopg.Error as exc:
            self.conn.close()
            raise self.store._unavailable(exc, what, after) from None

    def _where(self) -> list[Any]:
        return [self.account_id, self.livemode]

    # -- reading -------------------------------------------------------------------------
    def record(self) -> InflightRecord | None:
        if not self._record_read:
            with self._on_lock("could not be read", "Nothing was sent; try again.") as conn:
                row = conn.execute(
                    "SELECT account_id, livemode, refresh_sha256, started_at, pid, "
                    "confirmed_lost, deauthorized, host FROM stripe_oauth_nb.inflight "
                    "WHERE account_id = %s AND livemode = %s",
                    self._where(),
                ).fetchone()
            self._record, self._record_read = (_record(row) if row else None), True
        return self._record

    def load(self) -> TokenSet | None:
        with self._on_lock("could not be read", "Nothing was sent; try again.") as conn:
            row = self.store._select(conn, self.account_id, self.livemode)
        stored = self.store._row_to_tokens(row) if row else None
        spooled = self.store._spool_read(self.key)
        if spooled is None or stored is None:
            return stored
        tokens, rotated_from = spooled
        if rotated_from == fingerprint(stored.refresh_token):  # a pair the database missed
            self._commit(tokens, rotated_from)
            stored = tokens
            self._record, self._record_read = None, True
        if stored.refresh_token == tokens.refresh_token or rotated_from != fingerprint(
            stored.refresh_token
        ):
            with contextlib.suppress(OSError):
                self.store._spool_path(self.key).unlink()
        return stored

    # -- writing -------------------------------------------------------------------------
    def begin(self, current: TokenSet, now: float) -> None:
        record = InflightRecord.start(self.key, current.refresh_token, now)
        with self._on_lock(
            "could not record the refresh", "Nothing was sent and the stored tokens still work."
        ) as conn:
            _put_record(conn, self.account_id, self.livemode, record)
        self._record, self._record_read = record, True

    def _commit(self, tokens: TokenSet, rotated_from: str) -> str:
        """Store ``tokens`` over the set whose refresh token hashes to ``rotated_from`` and drop
        its record, in one transaction; retried on fresh connections. What happened."""
        import psycopg

        give_up = time.monotonic() + SAVE_RETRY
        conn: psycopg.Connection[Any] | None = None if self.conn.closed else self.conn
        while True:
            try:
                if conn is None or conn.closed:
                    conn = self.store._connect()
                    self.conn = conn  # released (unlocked, or closed) with the slot
                with conn.transaction():
                    found = conn.execute(
                        "SELECT refresh_sha256 FROM stripe_oauth_nb.token_sets "
                        "WHERE account_id = %s AND livemode = %s FOR UPDATE",
                        self._where(),
                    ).fetchone()
                    if found is not None and found[0] == rotated_from:
                        self.store._upsert(conn, tokens, authorized=False)
                        outcome = "stored"
                    elif found is not None and found[0] == fingerprint(tokens.refresh_token):
                        outcome = "stored"  # an earlier try committed; its answer was lost
                    else:
                        outcome = "replaced"  # a newer set (a new authorization) stays
                    conn.execute(
                        "DELETE FROM stripe_oauth_nb.inflight "
                        "WHERE account_id = %s AND livemode = %s AND refresh_sha256 = %s",
                        [*self._where(), rotated_from],
                    )
                return outcome
            except (psycopg.OperationalError, StoreUnavailableError):
                if conn is not None:
                    conn.close()
                conn = None
                if time.monotonic() >= give_up:
                    raise
                time.sleep(0.5)

    def save(
        self, tokens: TokenSet, *, authorized: bool = False, rotated_from: TokenSet | None = None
    ) -> None:
        import psycopg

        if rotated_from is None:
            with self._on_lock("refused the write", "The tokens were not stored.") as conn:
                self.store._upsert(conn, tokens, authorized=authorized)
            return
        old = fingerprint(rotated_from.refresh_token)
        try:
            self._commit(tokens, old)
        except (psycopg.Error, StoreUnavailableError) as exc:
            try:
                path = self.store._spool_write(self.key, tokens, old)
            except OSError as spool_exc:
                raise self.store._unavailable(
                    exc,
                    "could not take the new tokens",
                    f"They could not be kept on this machine either ({spool_exc.strerror}).",
                ) from None
            error = self.store._unavailable(
                exc,
                "could not take the new tokens",
                f"They are kept in {path} (sealed like the store): the next refresh of this "
                "account on this machine stores them, so nothing is lost.",
            )
            error.kept_at = str(path)
            raise error from None
        self._record, self._record_read = None, True

    def clear(self) -> None:
        if self._record_read and self._record is None:
            return
        with self._on_lock("could not clear the in-flight record", "Nothing was lost.") as conn:
            conn.execute(
                "DELETE FROM stripe_oauth_nb.inflight WHERE account_id = %s AND livemode = %s",
                self._where(),
            )
        self._record, self._record_read = None, True

    def confirm_lost(self) -> None:
        record = self.record()
        if record is None:
            return
        with self._on_lock("could not mark the refresh as lost", "Try again.") as conn:
            conn.execute(
                "UPDATE stripe_oauth_nb.inflight SET confirmed_lost = true "
                "WHERE account_id = %s AND livemode = %s",
                self._where(),
            )
        self._record = InflightRecord(
            record.key, record.refresh_sha256, record.started_at, record.pid, True, False,
            record.host,
        )  # fmt: skip

    def mark_deauthorized(self, tokens: TokenSet, now: float) -> None:
        record = InflightRecord.start(self.key, tokens.refresh_token, now)
        record = InflightRecord(
            record.key, record.refresh_sha256, now, record.pid, False, True, record.host
        )
        with self._on_lock("could not mark the set as deauthorized", "Try again.") as conn:
            _put_record(conn, self.account_id, self.livemode, record)
        self._record, self._record_read = record, True

    def adopt(self, record: InflightRecord) -> None:
        with self._on_lock("could not store the in-flight record", "Try again.") as conn:
            _put_record(conn, self.account_id, self.livemode, record)
        self._record, self._record_read = record, True

    def release(self) -> None:
        """Nothing is reserved on disk for a database store."""


class PostgresAttemptRecords:
    """The attempt log in ``stripe_oauth_nb.attempts`` (an :class:`AttemptRecords`).

    Rows are keyed by a SHA-256 of the state; the record (state, redirect URI, ...) is sealed
    like the tokens when a store key is set. ``locked`` is one transaction under an advisory
    lock (reads and the write inside it use it), so ``complete`` and ``mark_code_sent`` are
    atomic between hosts.
    """

    def __init__(self, store: PostgresTokenStore) -> None:
        self.store = store
        self._held = threading.local()  # the connection of this thread's locked(), if any

    @classmethod
    def for_settings(cls, settings: Settings) -> PostgresAttemptRecords:
        if settings.token_store_dsn is None:
            raise ConfigError(
                "The attempt log goes in the database only with a postgresql:// store."
            )
        cipher = StoreCipher.from_setting(settings.token_store_key)
        return cls(PostgresTokenStore(settings.token_store_dsn.reveal(), cipher=cipher))

    def __repr__(self) -> str:
        return f"PostgresAttemptRecords({self.store.location!r})"

    def _open(self, text: str) -> dict[str, Any]:
        from .._crypto import is_sealed

        where = f"{self.store.location} ({SCHEMA}.attempts)"
        if is_sealed(text):
            if self.store.cipher is None:
                raise StoreKeyError(
                    f"The attempt log in {where} is encrypted and no key is set: set "
                    "STRIPE_OAUTH_NB_STORE_KEY."
                )
            text = self.store.cipher.open(text, "stripe-oauth-nb:attempt", where)
        value = json.loads(text)
        if not isinstance(value, dict):
            raise ValueError("an attempt is not an object")
        return value

    def _seal(self, record: dict[str, Any]) -> str:
        text = json.dumps(record)
        cipher = self.store.cipher
        return cipher.seal(text, "stripe-oauth-nb:attempt") if cipher is not None else text

    def _rows(self, conn: psycopg.Connection[Any]) -> dict[str, dict[str, Any]]:
        from ..._errors import AttemptLogError

        records: dict[str, dict[str, Any]] = {}
        for (text,) in conn.execute("SELECT record FROM stripe_oauth_nb.attempts").fetchall():
            try:
                record = self._open(text)
                records[str(record["state"])] = record
            except (ValueError, KeyError, TypeError):
                raise AttemptLogError(
                    f"A row of {SCHEMA}.attempts in {self.store.location} is damaged. Delete it "
                    "(or the table's rows) and build a new install link."
                ) from None
        return records

    def read(self) -> dict[str, dict[str, Any]]:
        held = getattr(self._held, "conn", None)
        if held is not None:  # inside locked(): the transaction's own view
            records = self._rows(held)
            self._held.before = records
            return {key: dict(value) for key, value in records.items()}
        with self.store._conn("could not be read") as conn:
            return self._rows(conn)

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        with self.store._conn("refused the write") as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", [_ATTEMPTS_LOCK])
            self._held.conn, self._held.before = conn, None
            try:
                yield
            finally:
                self._held.conn = None

    def write(self, records: dict[str, dict[str, Any]]) -> None:
        conn = getattr(self._held, "conn", None)
        if conn is None:
            raise RuntimeError("write() belongs inside locked()")
        before: dict[str, dict[str, Any]] = self._held.before
        if before is None:
            before = self._rows(conn)
        for state in set(before) - set(records):
            conn.execute(
                "DELETE FROM stripe_oauth_nb.attempts WHERE state_sha256 = %s", [_sha(state)]
            )
        for state, record in records.items():
            if before.get(state) == record:
                continue
            conn.execute(
                """
                INSERT INTO stripe_oauth_nb.attempts (state_sha256, created_at, record)
                VALUES (%s, %s, %s)
                ON CONFLICT (state_sha256) DO UPDATE SET record = EXCLUDED.record
                """,
                [_sha(state), float(record.get("created_at", 0.0)), self._seal(record)],
            )


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()
