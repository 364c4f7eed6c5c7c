"""One lock per (destination, account, mode): how several sync processes share one destination.

- PostgreSQL: a session advisory lock on the destination's server, keyed by the dataset, the
  account and the mode (:func:`account_key`). Several ``sync --all-accounts`` processes, on
  one machine or several, each try the lock of an account before reading it; an account whose
  lock another process holds is left to that process. PostgreSQL releases a session's locks
  when its connection ends, so a process killed with SIGKILL leaves no lock behind.
- DuckDB: one writer per file. The destination's lock (a lock file beside the database) already
  covers every account, so the account locks are no-ops: one process loads a DuckDB file at a
  time, and a second is refused at once (``SyncLockedError``).
- other dlt destinations: the work folder's lock, likewise.

Into PostgreSQL, processes read and normalize at the same time; the load step itself (dlt's
merge, and the tables and columns it adds) takes the dataset's load lock (:meth:`loading`),
one process at a time.

No scheduler: each process walks every account and takes those it can lock. A process holds the
lock of each account it loaded until its run ends (one lock per account on the server: a
thousand accounts are a thousand of PostgreSQL's ``max_locks_per_transaction *
max_connections`` slots). Whether an account was already loaded during this run by another
process that has ended is read from its dlt state in the destination (the ``loaded`` cursor,
see ``_sync``), never from a table of our own.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
from collections.abc import Callable, Iterator
from typing import Any

from .._errors import DestinationError, SyncVersionError

__all__ = ["LAYOUT_VERSION", "AccountLocks", "PostgresAccountLocks", "account_key", "dataset_key"]

#: The version of the tables this code writes (their keys, columns and types, the Stripe API
#: version they follow): raise it when they change shape. Processes loading into one
#: PostgreSQL dataset at the same time must agree on it (:meth:`PostgresAccountLocks.open`).
LAYOUT_VERSION = 1


def dataset_key(dataset: str) -> int:
    """The first key (a signed 32-bit integer) of the dataset's layout lock; the second is
    :data:`LAYOUT_VERSION`."""
    digest = hashlib.sha256(f"stripe-oauth-nb-layout:{dataset}".encode()).digest()
    key = int.from_bytes(digest[:4], "big")
    return key - (1 << 32) if key >= 1 << 31 else key


def account_key(dataset: str, account_id: str, livemode: bool) -> int:
    """The advisory lock key (a signed 64-bit integer) of one account and mode in one dataset."""
    mode = "live" if livemode else "test"
    digest = hashlib.sha256(f"stripe-oauth-nb:{dataset}:{account_id}:{mode}".encode()).digest()
    key = int.from_bytes(digest[:8], "big")
    return key - (1 << 64) if key >= 1 << 63 else key


class AccountLocks:
    """No lock per account: the destination's own lock covers them all (DuckDB, others)."""

    #: True when other processes may load into the same destination at the same time (their
    #: loads are then read back from the destination before an account starts).
    shared = False

    def try_lock(self, account_id: str, livemode: bool) -> bool:
        """Take the account's lock if it is free; False when another process holds it."""
        return True

    def release(self, account_id: str, livemode: bool) -> None:
        """Give the account's lock back."""

    def loading(self) -> contextlib.AbstractContextManager[None]:
        """Held while a load writes (and migrates) the tables: one process at a time changes the
        destination's tables (dlt adds tables and columns as it meets them, and two processes
        adding the same column would fail). Here: nothing to wait for."""
        return contextlib.nullcontext()

    def close(self) -> None:
        """Give every lock back."""


class PostgresAccountLocks(AccountLocks):
    """Session advisory locks on one connection of their own (kept open for the run).

    When the connection is lost (the server restarted, say), the call that finds out raises
    :class:`DestinationError` ("try again": the server released the locks with the session) and
    the next one connects again.
    """

    shared = True

    def __init__(self, connect: Callable[[], Any], dataset: str, description: str) -> None:
        self._connect = connect
        self._connection: Any = None
        self._dataset = dataset
        self._description = description
        self._guard = threading.Lock()  # one cursor at a time on the connection

    def open(self, version: int = LAYOUT_VERSION) -> None:
        """Connect, and hold the dataset's layout lock for ``version`` (shared with the processes
        of the same version) for as long as the connection lasts; refuse with
        :class:`SyncVersionError` while a process of another version holds it."""
        with self._guard:
            if self._connection is None:
                try:
                    self._connection = self._connect()
                    self._hold_layout(version)
                except SyncVersionError:
                    self._drop()
                    raise
                except Exception:
                    self._drop()
                    raise DestinationError(
                        f"Lost the connection to PostgreSQL at {self._description} as the sync "
                        "started (the server restarted or went away). Nothing was loaded; try "
                        "again once it is back."
                    ) from None

    def _hold_layout(self, version: int) -> None:
        first = dataset_key(self._dataset)
        with self._connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock_shared(%s, %s)", (first, version))
            # advisory locks of two int4 keys: classid is the first, objid the second, as oids
            cursor.execute(
                "SELECT DISTINCT objid::bigint FROM pg_locks WHERE locktype = 'advisory' "
                "AND objsubid = 2 AND granted AND classid::bigint = %s AND database = "
                "(SELECT oid FROM pg_database WHERE datname = current_database())",
                (first & 0xFFFFFFFF,),
            )
            others = sorted(int(row[0]) for row in cursor.fetchall() if int(row[0]) != version)
        if others:
            raise SyncVersionError(
                f"Another sync process is loading into {self._description} (dataset "
                f"{self._dataset!r}) with version {others[0]} of the tables; this one writes "
                f"version {version}. Nothing was loaded: run the same stripe-oauth-nb on every "
                "machine (upgrade the older ones), then sync again."
            )

    def _call(self, function: str, account_id: str, livemode: bool) -> bool:
        key = account_key(self._dataset, account_id, livemode)
        with self._guard:
            try:
                if self._connection is None:
                    self._connection = self._connect()
                    self._hold_layout(LAYOUT_VERSION)
                with self._connection.cursor() as cursor:
                    cursor.execute(f"SELECT {function}(%s)", (key,))
                    row = cursor.fetchone()
            except Exception as exc:
                self._drop()
                if isinstance(exc, DestinationError | SyncVersionError):
                    raise
                raise DestinationError(
                    f"Lost the connection to PostgreSQL at {self._description} while taking an "
                    "account's lock (the server restarted or went away). Nothing of this account "
                    "was loaded; try again (sync again once the server is back)."
                ) from None
        return bool(row and row[0])

    def _drop(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(Exception):
                self._connection.close()
            self._connection = None

    def try_lock(self, account_id: str, livemode: bool) -> bool:
        return self._call("pg_try_advisory_lock", account_id, livemode)

    def release(self, account_id: str, livemode: bool) -> None:
        self._call("pg_advisory_unlock", account_id, livemode)

    @contextlib.contextmanager
    def loading(self) -> Iterator[None]:
        # the dataset's load lock: account "*" is no account id (they start with acct_)
        self._call("pg_advisory_lock", "*", False)
        try:
            yield
        finally:
            with contextlib.suppress(DestinationError):  # a lost session released it
                self._call("pg_advisory_unlock", "*", False)

    def close(self) -> None:
        with self._guard:
            if self._connection is not None:
                # released now, not when the server has ended the session: a sync started right
                # after this one (the next run, another machine) would find them still held
                with contextlib.suppress(Exception), self._connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock_all()")
            self._drop()  # and if that failed, the server releases them as the session ends
