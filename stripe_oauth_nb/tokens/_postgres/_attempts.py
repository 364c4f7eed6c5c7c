"""The attempt log's records in the token database: ``stripe_oauth_nb.attempts``.

The :class:`~stripe_oauth_nb.oauth._attempts.AttemptRecords` of the attempt log when the token store
is PostgreSQL: every host that shares the token database shares the attempt log (a state is
used up once, a code is sent once, whichever host receives the redirect).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ..._errors import StoreKeyError
from .._crypto import StoreCipher
from ._pool import SCHEMA, Database

if TYPE_CHECKING:
    import psycopg

__all__ = ["PostgresAttemptRecords"]

_ATTEMPTS_LOCK = 0x534F4E42_00000002


class PostgresAttemptRecords:
    """The attempt log in ``stripe_oauth_nb.attempts`` (an :class:`AttemptRecords`).

    Rows are keyed by a SHA-256 of the state; the record (state, redirect URI, ...) is sealed
    like the tokens when a store key is set. ``locked`` is one transaction under an advisory
    lock (reads and the write inside it use it), so ``complete`` and ``mark_code_sent`` are
    atomic between hosts.
    """

    def __init__(self, db: Database, cipher: StoreCipher | None) -> None:
        self.db = db
        self.cipher = cipher
        self._held = threading.local()  # the connection of this thread's locked(), if any

    def __repr__(self) -> str:
        return f"PostgresAttemptRecords({self.db.location!r})"

    def _open(self, text: str) -> dict[str, Any]:
        from .._crypto import is_sealed

        where = f"{self.db.location} ({SCHEMA}.attempts)"
        if is_sealed(text):
            if self.cipher is None:
                raise StoreKeyError(
                    f"The attempt log in {where} is encrypted and no key is set: set "
                    "STRIPE_OAUTH_NB_STORE_KEY."
                )
            text = self.cipher.open(text, "stripe-oauth-nb:attempt", where)
        value = json.loads(text)
        if not isinstance(value, dict):
            raise ValueError("an attempt is not an object")
        return value

    def _seal(self, record: dict[str, Any]) -> str:
        text = json.dumps(record)
        cipher = self.cipher
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
                    f"A row of {SCHEMA}.attempts in {self.db.location} is damaged. Delete it "
                    "(or the table's rows) and build a new install link."
                ) from None
        return records

    def read(self) -> dict[str, dict[str, Any]]:
        held = getattr(self._held, "conn", None)
        if held is not None:  # inside locked(): the transaction's own view
            records = self._rows(held)
            self._held.before = records
            return {key: dict(value) for key, value in records.items()}
        with self.db.conn("could not be read") as conn:
            return self._rows(conn)

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        with self.db.conn("refused the write") as conn, conn.transaction():
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
