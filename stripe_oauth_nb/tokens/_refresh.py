"""What makes a refresh safe, for every store: a per-key lock, the in-flight record, a slot.

**Lock.** One refresh at a time per (account, mode): ``store.locked(account, livemode,
timeout)`` takes a ``threading.Lock`` (threads of this process), then the store's own lock
(a ``filelock`` file per key for local stores; a PostgreSQL advisory lock for the shared store),
with one bounded wait; past it, :class:`TokenLockTimeoutError`. Both kinds die with their
process (an OS file lock; a database session), so a killed refresher never wedges anyone.

**In-flight record.** Before the refresh token is sent, a record (the key, a SHA-256 of the
refresh token being sent, the time, host and process id) is stored durably; it is cleared after
the new pair is stored. Finding a record later, under the lock, means a refresh was interrupted:

- the record holds the *received* pair (the answer came and was kept before the store was
  written): the pair is recovered into the store, nothing is lost;
- the store's refresh token differs from the record's hash: the new pair was stored, only the
  clean-up was missed. The record is dropped;
- it is the same: the answer may have been lost after Stripe rotated the token. The next refresh
  sends the stored token once more: if Stripe accepts it, nothing had been rotated (the crash came
  before the request); if Stripe says ``invalid_grant``, the record turns that into
  :class:`RefreshResponseLostError` ("token rotated, response lost: authorize again") and
  remembers it, so later calls say so without a request.

A refresh refused with ``invalid_grant`` when nothing was in flight marks the set
*deauthorized* (the account uninstalled the app, or its token was revoked): later refreshes
say "authorize again" without asking Stripe, until a new authorization replaces the set.

The record holds no secret unless it carries a received pair, and that is sealed like the store
when a store key is set (a hash of a 48-character random token reveals nothing).

**Slot.** What a lock holder may do (:class:`RefreshSlot`); the manager drives it, each store
implements it. :class:`LocalSlot` is the one for stores whose locks and records are files
(file and keyring stores) or memory.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from .._errors import TokenLockTimeoutError, TokenStoreError
from .._fileio import (
    DamagedFile,
    LockTimeout,
    ReservedWrite,
    atomic_write_text,
    hold_lock,
    read_section,
)
from .._masking import Secret
from .._tokenset import TokenSet
from ._checkpoint import checkpoint

__all__ = [
    "InflightFile",
    "InflightRecord",
    "LocalSlot",
    "RefreshSlot",
    "fingerprint",
    "lock_file",
    "store_key",
    "thread_lock",
]

_THREAD_LOCKS: dict[str, threading.Lock] = {}
_REGISTRY = threading.Lock()
#: Space reserved before a refresh token is sent, on top of the current file size (bytes).
_RESERVE = 16 * 1024
#: How long writers of the in-flight file wait for each other (seconds).
_WRITE_LOCK_TIMEOUT = 30.0


def store_key(account_id: str, livemode: bool) -> str:
    """The string form of a store key: ``acct_…:test`` or ``acct_…:live``."""
    return f"{account_id}:{'live' if livemode else 'test'}"


def fingerprint(token: Secret) -> str:
    """SHA-256 of a token: compares tokens without storing them."""
    return hashlib.sha256(token.reveal().encode()).hexdigest()


def _lock_message(timeout: float, where: str) -> str:
    return (
        f"Another refresh held the token lock for more than {timeout:.0f} s ({where}). It may "
        "still be running: try again in a minute. If no other stripe-oauth-nb process runs, the "
        "lock is free again (it dies with its process)."
    )


@contextlib.contextmanager
def thread_lock(name: str, timeout: float, where: str) -> Iterator[float]:
    """Hold this process's lock ``name``; yields the deadline (monotonic) of the whole wait."""
    deadline = time.monotonic() + max(timeout, 0.0)
    with _REGISTRY:
        lock = _THREAD_LOCKS.setdefault(name, threading.Lock())
    if not (lock.acquire(blocking=False) or (timeout > 0 and lock.acquire(timeout=timeout))):
        raise TokenLockTimeoutError(_lock_message(timeout, where))
    try:
        yield deadline
    finally:
        lock.release()


@contextlib.contextmanager
def lock_file(path: Path, timeout: float) -> Iterator[None]:
    """Hold the OS file lock ``path`` (threads first, then processes; one bounded wait).

    A lock file that cannot be made (a read-only or full file system, a folder that is not
    yours) is a :class:`TokenStoreError` saying so, before anything is sent.
    """
    with thread_lock(str(path.absolute()), timeout, str(path)) as deadline:
        try:
            held = hold_lock(path, deadline - time.monotonic())
        except LockTimeout:
            raise TokenLockTimeoutError(_lock_message(timeout, str(path))) from None
        except OSError as exc:
            raise TokenStoreError(
                f"The lock file {path} cannot be created ({exc.strerror or exc}), so no refresh "
                "can start safely; nothing was sent and the stored tokens still work. The token "
                "store's folder must be writable: make it so, or choose another place with "
                "STRIPE_OAUTH_NB_TOKEN_STORE."
            ) from None
        with held:
            yield


@contextlib.contextmanager
def write_lock(path: Path) -> Iterator[None]:
    """Hold the short write lock ``path`` of a shared state file (read, change, write back)."""
    try:
        with lock_file(path, _WRITE_LOCK_TIMEOUT):
            yield
    except TokenLockTimeoutError:
        raise TokenStoreError(
            f"Another process kept {path} locked for {_WRITE_LOCK_TIMEOUT:.0f} s. If no other "
            "stripe-oauth-nb process is running, delete that file and try again."
        ) from None


@dataclass(frozen=True)
class InflightRecord:
    """A refresh that started and has not been seen to finish (or a refusal, see the flags)."""

    key: str
    refresh_sha256: str
    started_at: float
    pid: int
    #: Stripe refused the token since: the answer was lost, authorize again.
    confirmed_lost: bool = False
    #: Stripe refused the token with nothing in flight: uninstalled or revoked.
    deauthorized: bool = False
    host: str = ""
    #: The new pair in its stored form (sealed when a key is set), kept before the store was
    #: written so a failed or interrupted store write loses nothing. Never shown.
    received: dict[str, Any] | None = field(default=None, repr=False, compare=False)

    def matches(self, token: Secret) -> bool:
        return self.refresh_sha256 == fingerprint(token)

    @property
    def in_flight(self) -> bool:
        """A refresh started and its end is unknown (not a refusal mark)."""
        return not self.deauthorized

    @classmethod
    def start(cls, key: str, refresh_token: Secret, now: float) -> InflightRecord:
        return cls(key, fingerprint(refresh_token), now, os.getpid(), host=socket.gethostname())

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        if self.received is None:
            del data["received"]
        return data

    @classmethod
    def from_json(cls, data: Any) -> InflightRecord:
        if not isinstance(data, dict):
            raise TypeError("a record is not an object")
        key, sha = data["key"], data["refresh_sha256"]
        if not isinstance(key, str) or not isinstance(sha, str) or len(sha) != 64:
            raise ValueError("key or hash is not text")
        started, pid = data["started_at"], data["pid"]
        if isinstance(started, bool) or not isinstance(started, int | float):
            raise TypeError("started_at is not a number")
        if isinstance(pid, bool) or not isinstance(pid, int):
            raise TypeError("pid is not a number")
        flags = [data.get(name, False) for name in ("confirmed_lost", "deauthorized")]
        if not all(isinstance(flag, bool) for flag in flags):
            raise TypeError("a flag is not true or false")
        host, received = data.get("host", ""), data.get("received")
        if not isinstance(host, str) or not (received is None or isinstance(received, dict)):
            raise TypeError("host or received pair has the wrong type")
        return cls(key, sha, float(started), pid, flags[0], flags[1], host, received)


class RefreshSlot(Protocol):
    """What the holder of one key's refresh lock may do (see the module docstring)."""

    def load(self) -> TokenSet | None:
        """The stored set, read now; a received pair left by an interrupted refresh is
        recovered into the store first."""

    def record(self) -> InflightRecord | None:
        """This key's in-flight record, if any."""

    def begin(self, current: TokenSet, now: float) -> None:
        """Store the in-flight record durably and reserve what storing the answer needs.
        Raises :class:`TokenStoreError` when it cannot: then nothing may be sent."""

    def save(
        self, tokens: TokenSet, *, authorized: bool = False, rotated_from: TokenSet | None = None
    ) -> None:
        """Store ``tokens`` durably. With ``rotated_from`` (the answer of a refresh begun
        here): keep it in a second durable place first, and store it only over that set."""

    def clear(self) -> None:
        """Drop this key's record (best effort after a successful save)."""

    def confirm_lost(self) -> None:
        """Mark the record: Stripe refused its token, the answer was lost."""

    def mark_deauthorized(self, tokens: TokenSet, now: float) -> None:
        """Remember that Stripe refused ``tokens``' refresh token with nothing in flight."""

    def adopt(self, record: InflightRecord) -> None:
        """Store ``record`` as this key's record, as it is (``tokens migrate``)."""


# -- the in-flight file ----------------------------------------------------------------------
class InflightFile:
    """In-flight records by store key in one private JSON file (or in memory with ``None``).

    Each key's record is only changed by the holder of that key's refresh lock; writers of
    different keys share the file under a short write lock, read-modify-write. A file that is
    not what the toolkit writes is refused (:class:`TokenStoreError`), never emptied: the same
    policy as the token store and the attempt log.
    """

    def __init__(self, path: Path | None, *, write_lock: Path | None = None) -> None:
        self.path = path
        self.write_lock = write_lock
        self._memory: dict[str, InflightRecord] = {}
        self._memory_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"InflightFile({str(self.path) if self.path else 'memory'!r})"

    def read(self) -> dict[str, InflightRecord]:
        if self.path is None:
            with self._memory_lock:
                return dict(self._memory)
        try:
            raw = read_section(self.path, "inflight")
            records = {key: InflightRecord.from_json(value) for key, value in raw.items()}
            if any(key != record.key for key, record in records.items()):
                raise ValueError("a record is filed under another key")
            return records
        except (DamagedFile, KeyError, TypeError, ValueError) as exc:
            raise TokenStoreError(
                f"The in-flight record {self.path} is damaged ({type(exc).__name__}: "
                f"{str(exc)[:80]}), so interrupted refreshes cannot be told apart. Move it aside "
                f"(mv {self.path} {self.path}.damaged) and try again; a refresh that was lost "
                "then shows as 'authorize the app again'."
            ) from None
        except OSError as exc:
            raise TokenStoreError(
                f"The in-flight record {self.path} cannot be read ({exc.strerror or exc}). Check "
                "that it is a file of yours (mode 600)."
            ) from None

    def get(self, key: str) -> InflightRecord | None:
        return self.read().get(key)

    def reserve(self) -> ReservedWrite | None:
        """Space for one more write of this file (``None`` in memory); ``OSError`` when full."""
        if self.path is None:
            return None
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            size = 0
        return ReservedWrite(self.path, size + _RESERVE)

    def change(
        self,
        key: str,
        update: Callable[[InflightRecord | None], InflightRecord | None],
        reserved: ReservedWrite | None = None,
    ) -> None:
        """Replace ``key``'s record with ``update(old)`` (``None`` drops it), durably."""
        if self.path is None:
            with self._memory_lock:
                new = update(self._memory.get(key))
                if new is None:
                    self._memory.pop(key, None)
                else:
                    self._memory[key] = new
            return
        with self._write_locked():
            records = self.read()
            new = update(records.get(key))
            if new is None:
                if records.pop(key, None) is None:
                    if reserved is not None:
                        reserved.discard()
                    return
            else:
                records[key] = new
            self._write(records, reserved)

    @contextlib.contextmanager
    def _write_locked(self) -> Iterator[None]:
        if self.write_lock is None:
            yield
            return
        with write_lock(self.write_lock):
            yield

    def _write(self, records: dict[str, InflightRecord], reserved: ReservedWrite | None) -> None:
        import json

        assert self.path is not None
        try:
            if not records:
                if reserved is not None:
                    reserved.discard()
                with contextlib.suppress(FileNotFoundError):
                    self.path.unlink()
                return
            payload = {"inflight": {key: value.to_json() for key, value in records.items()}}
            text = json.dumps(payload, indent=2) + "\n"
            if reserved is not None:
                reserved.commit(text)
            else:
                atomic_write_text(self.path, text)
        except OSError as exc:
            if reserved is not None:
                reserved.discard()
            raise TokenStoreError(
                f"The in-flight record {self.path} could not be written "
                f"({exc.strerror or exc}). Free some space or fix the folder's permissions."
            ) from None


class LocalSlot:
    """The refresh slot of a store whose records are a file (or memory) on this machine.

    ``read``/``write`` are the store's own: read the stored set (in its stored form: sealed),
    and write one set durably (raising :class:`TokenStoreError`). ``seal``/``unseal`` turn a
    set into its stored form and back. ``reserve`` makes room for the store's next write.
    """

    def __init__(
        self,
        key: str,
        *,
        records: InflightFile,
        load: Callable[[], TokenSet | None],
        write: Callable[[TokenSet, bool, ReservedWrite | None], None],
        seal: Callable[[TokenSet], dict[str, Any]],
        unseal: Callable[[dict[str, Any]], TokenSet],
        reserve: Callable[[], ReservedWrite | None],
        where: str,
    ) -> None:
        self.key = key
        self._records = records
        self._load = load
        self._write = write
        self._seal = seal
        self._unseal = unseal
        self._reserve = reserve
        self._where = where
        self._record: InflightRecord | None = None
        self._record_read = False
        #: Space reserved by ``begin`` for the received pair and for the store.
        self._reserved: list[ReservedWrite | None] = []

    # -- reading -------------------------------------------------------------------------
    def record(self) -> InflightRecord | None:
        if not self._record_read:  # only this lock holder changes this key's record
            self._record = self._records.get(self.key)
            self._record_read = True
        return self._record

    def _set_record(
        self, new: InflightRecord | None, reserved: ReservedWrite | None = None
    ) -> None:
        self._records.change(self.key, lambda _old: new, reserved)
        self._record, self._record_read = new, True

    def load(self) -> TokenSet | None:
        stored = self._load()
        record = self.record()
        if (
            record is None
            or record.received is None
            or stored is None
            or not record.matches(stored.refresh_token)
        ):
            return stored
        received = self._unseal(record.received)  # the answer of a refresh cut short
        if received.key != stored.key:
            return stored
        self._write(received, False, None)
        with contextlib.suppress(TokenStoreError):
            self._set_record(None)
        return received

    # -- writing -------------------------------------------------------------------------
    def begin(self, current: TokenSet, now: float) -> None:
        self.release()
        self._set_record(InflightRecord.start(self.key, current.refresh_token, now))
        try:
            self._reserved = [self._records.reserve(), self._reserve()]
        except OSError as exc:
            self.release()
            with contextlib.suppress(TokenStoreError):
                self._set_record(None)
            raise TokenStoreError(
                f"There is no room to store the answer of a refresh in {self._where} "
                f"({exc.strerror or exc}), so none was sent and the stored tokens still work. "
                "Free some space and try again."
            ) from None

    def save(
        self, tokens: TokenSet, *, authorized: bool = False, rotated_from: TokenSet | None = None
    ) -> None:
        if rotated_from is None:
            self._write(tokens, authorized, None)
            return
        keep, store = self._reserved or [None, None]
        self._reserved = []
        record = self.record()
        if record is None or not record.matches(rotated_from.refresh_token):
            if keep is not None:
                keep.discard()
            self._write(tokens, authorized, store)
            return
        try:  # the second durable place, written before the store
            self._set_record(replace(record, received=self._seal(tokens)), keep)
        except TokenStoreError:
            if store is not None:
                store.discard()
            self._write(tokens, authorized, None)  # one more chance: the store itself
            return
        checkpoint("after-received")
        try:
            self._write(tokens, authorized, store)
        except TokenStoreError as exc:
            if self._records.path is None:
                raise
            kept = str(self._records.path)
            raise TokenStoreError(
                f"{exc} The new tokens are kept in {kept}: the next refresh of this account "
                "stores them, so nothing is lost.",
                kept_at=kept,
            ) from None

    def release(self) -> None:
        """Give back space reserved by :meth:`begin` (a refresh that ended without a save)."""
        for reserved in self._reserved:
            if reserved is not None:
                reserved.discard()
        self._reserved = []

    def clear(self) -> None:
        self.release()
        if self.record() is not None:
            self._set_record(None)

    def confirm_lost(self) -> None:
        self.release()
        record = self.record()
        if record is not None:
            self._set_record(replace(record, confirmed_lost=True, received=None))

    def adopt(self, record: InflightRecord) -> None:
        self._set_record(replace(record, received=None))

    def mark_deauthorized(self, tokens: TokenSet, now: float) -> None:
        self.release()
        mark = replace(InflightRecord.start(self.key, tokens.refresh_token, now), deauthorized=True)
        self._set_record(mark)
