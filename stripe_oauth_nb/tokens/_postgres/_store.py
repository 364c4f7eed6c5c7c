"""The shared token store: PostgreSQL, for teams and many installs (psycopg 3).

Chosen with ``STRIPE_OAUTH_NB_TOKEN_STORE=postgresql://user:password@host/db`` (or in code,
``PostgresTokenStore(dsn)``). Everything lives in the schema ``stripe_oauth_nb``, which the
database object creates and migrates itself (:mod:`._pool`):

- ``token_sets``: one row per (account, livemode), tokens sealed when a store key is set
  (:mod:`.._crypto`), the SHA-256 of the refresh token, and the order of authorization;
- ``inflight``: the in-flight record of a refresh, a refusal mark (deauthorized), per key;
- ``attempts``: the attempt log of install links (:mod:`._attempts`).

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
import time
import warnings
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
from ..._tokenset import TokenSet
from .._crypto import StoreCipher, open_fields, seal_fields
from .._refresh import InflightRecord, fingerprint, store_key, thread_lock
from ._attempts import PostgresAttemptRecords
from ._pool import SCHEMA, Database
from ._pool import lock_id as advisory_key

if TYPE_CHECKING:
    import psycopg


__all__ = ["PostgresTokenStore"]

#: Seconds the commit of a received pair is retried on fresh connections before it is spooled.
SAVE_RETRY = 20.0

_COLUMNS = (
    "account_id, livemode, access_token, refresh_token, publishable_key, scope, token_type, "
    "obtained_at"
)


#: Databases already warned about (tokens without encryption), once per process.
_WARNED: set[str] = set()


def _spool_folder() -> Path:
    from platformdirs import user_state_path

    return user_state_path("stripe-oauth-nb", appauthor=False) / "pending"


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
        self.db = Database(dsn, connect_timeout=connect_timeout)
        self.location = self.db.location
        self.cipher = cipher
        self.spool = spool if spool is not None else _spool_folder()
        # one thread-lock namespace per database, in this process
        self._ident = self.db.ident
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

    def close(self) -> None:
        self.db.close()

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
        with self.db.conn("could not be read") as conn:
            row = self._select(conn, account_id, livemode)
        return self._row_to_tokens(row) if row else None

    def all(self) -> list[TokenSet]:
        with self.db.conn("could not be read") as conn:
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
        with self.db.conn("refused the write") as conn:
            self._upsert(conn, tokens, authorized=authorized)

    def delete(self, account_id: str, livemode: bool) -> None:
        with self.db.conn("refused the delete") as conn, conn.transaction():
            conn.execute(
                "DELETE FROM stripe_oauth_nb.token_sets WHERE account_id = %s AND livemode = %s",
                [account_id, livemode],
            )
            conn.execute(
                "DELETE FROM stripe_oauth_nb.inflight WHERE account_id = %s AND livemode = %s",
                [account_id, livemode],
            )

    def records(self) -> list[InflightRecord]:
        with self.db.conn("could not be read") as conn:
            rows = conn.execute(
                "SELECT account_id, livemode, refresh_sha256, started_at, pid, confirmed_lost, "
                "deauthorized, host FROM stripe_oauth_nb.inflight"
            ).fetchall()
        return [_record(row) for row in rows]

    def rekey(self) -> int:
        """Seal every set again with the first key (or in clear without one); how many."""
        with self.db.conn("refused the rekey") as conn, conn.transaction():
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
        return PostgresAttemptRecords(self.db, self.cipher)

    @contextlib.contextmanager
    def locked(self, account_id: str, livemode: bool, timeout: float) -> Iterator[_PgSlot]:

        key = store_key(account_id, livemode)
        with thread_lock(f"pg:{self._ident}:{key}", timeout, self.location) as deadline:
            lock_id = advisory_key(f"{SCHEMA}:{key}")
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
            conn = self.db.checkout()
            try:
                if timeout <= 0:
                    row = conn.execute("SELECT pg_try_advisory_lock(%s)", [lock_id]).fetchone()
                    if not row or not row[0]:
                        self.db.checkin(conn)
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
                self.db.checkin(conn)
                raise TokenLockTimeoutError(message) from None
            except psycopg.OperationalError as exc:
                conn.close()
                if time.monotonic() + 0.5 >= deadline:
                    raise self.db.unavailable(
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
        self.db.checkin(conn)

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
            raise self.store.db.unavailable(exc, what, after) from None

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
                    conn = self.store.db.connect()
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
                raise self.store.db.unavailable(
                    exc,
                    "could not take the new tokens",
                    f"They could not be kept on this machine either ({spool_exc.strerror}).",
                ) from None
            error = self.store.db.unavailable(
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
