"""The two pieces that make a refresh safe: a single-flight lock and the in-flight record.

**Lock.** One refresh at a time per store: a ``threading.Lock`` per store (threads of this
process) and then a ``filelock.FileLock`` on ``<store>.lock`` (other processes), both with one
bounded wait; past it, :class:`TokenLockTimeoutError`. The file lock is an OS lock (``flock``),
so a process that dies holding it releases it.

**In-flight record.** Before the refresh token is sent, a record (the key, a SHA-256 of the
refresh token being sent, the time, the process id) is written durably to ``<store>.inflight``;
it is cleared after the new pair is stored. Finding a record later, under the lock, means a
refresh was interrupted:

- the store's refresh token differs from the record's hash: the new pair was stored, only the
  clean-up was missed. The record is dropped.
- it is the same: the answer may have been lost after Stripe rotated the token. The next refresh
  sends the stored token once more: if Stripe accepts it, nothing had been rotated (the crash came
  before the request); if Stripe says ``invalid_grant``, the record turns that into
  :class:`RefreshResponseLostError` ("token rotated, response lost: authorize again") and
  remembers it, so later calls say so without a request.

The record holds no secret (a hash of a 48-character random token reveals nothing).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from .._errors import TokenLockTimeoutError, TokenStoreError
from .._fileio import atomic_write_text, ensure_private_dir
from .._masking import Secret

__all__ = ["InflightLog", "InflightRecord", "fingerprint", "refresh_lock"]

_THREAD_LOCKS: dict[str, threading.Lock] = {}
_REGISTRY = threading.Lock()


def fingerprint(token: Secret) -> str:
    """SHA-256 of a token: compares tokens without storing them."""
    return hashlib.sha256(token.reveal().encode()).hexdigest()


def _thread_lock(name: str) -> threading.Lock:
    with _REGISTRY:
        return _THREAD_LOCKS.setdefault(name, threading.Lock())


@contextlib.contextmanager
def refresh_lock(lock_path: Path | None, name: str, timeout: float) -> Iterator[None]:
    """Hold the refresh lock of one store (``name`` identifies in-memory stores)."""
    deadline = time.monotonic() + timeout
    key = str(lock_path.resolve()) if lock_path is not None else name
    local = _thread_lock(key)
    message = (
        f"Another refresh held the token lock for more than {timeout:.0f} s"
        + (f" ({lock_path})" if lock_path is not None else "")
        + ". It may still be running: try again in a minute. If no other stripe-oauth-nb process "
        "runs, the lock is free again (it dies with its process)."
    )
    if not local.acquire(timeout=max(timeout, 0.0)):
        raise TokenLockTimeoutError(message)
    try:
        if lock_path is None:
            yield
            return
        from filelock import FileLock, Timeout

        ensure_private_dir(lock_path.parent)
        lock = FileLock(str(lock_path), mode=0o600)
        try:
            lock.acquire(timeout=max(deadline - time.monotonic(), 0.0))
        except Timeout:
            raise TokenLockTimeoutError(message) from None
        try:
            yield
        finally:
            lock.release()
    finally:
        local.release()


@dataclass(frozen=True)
class InflightRecord:
    """A refresh that started and has not been seen to finish."""

    key: str
    refresh_sha256: str
    started_at: float
    pid: int
    #: Stripe refused the token since: the answer was lost, authorize again.
    confirmed_lost: bool = False

    def matches(self, token: Secret) -> bool:
        return self.refresh_sha256 == fingerprint(token)


class InflightLog:
    """In-flight records by store key, in ``path`` (or in memory). Write under the refresh lock.

    Inside :meth:`held` (entered right after taking the refresh lock) the file is read once and
    the thread that holds the lock works on that copy: only lock holders write the file, so it
    cannot change meanwhile. Other threads, and calls outside ``held``, read the file.
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._memory: dict[str, InflightRecord] = {}
        self._held = threading.local()

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        """Read the records once for this thread's locked section (see the class docstring)."""
        self._held.records = None  # None: not read yet in this section
        try:
            yield
        finally:
            del self._held.records

    def _load(self) -> dict[str, InflightRecord]:
        cached: dict[str, InflightRecord] | None = getattr(self._held, "records", None)
        if cached is not None:
            return dict(cached)
        records = self._read()
        if hasattr(self._held, "records"):  # inside held(): keep the copy
            self._held.records = records
        return dict(records)

    def _read(self) -> dict[str, InflightRecord]:
        if self.path is None:
            return dict(self._memory)
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return {key: InflightRecord(**value) for key, value in data["inflight"].items()}
        except FileNotFoundError:
            return {}
        except (OSError, ValueError, KeyError, TypeError):
            return {}  # unreadable: only the "response lost" wording is at stake

    def _save(self, records: dict[str, InflightRecord]) -> None:
        held = hasattr(self._held, "records")
        if held:
            self._held.records = None  # a failed write: read the file again next time
        self._write(records)
        if held:
            self._held.records = dict(records)

    def _write(self, records: dict[str, InflightRecord]) -> None:
        if self.path is None:
            self._memory = records
            return
        try:
            if records:
                payload = {"inflight": {key: asdict(value) for key, value in records.items()}}
                atomic_write_text(self.path, json.dumps(payload, indent=2) + "\n")
            else:
                with contextlib.suppress(FileNotFoundError):
                    self.path.unlink()
        except OSError as exc:
            raise TokenStoreError(
                f"The in-flight record {self.path} could not be written ({exc.strerror}); no "
                "refresh was sent. Free some space or fix the folder's permissions."
            ) from None

    def get(self, key: str) -> InflightRecord | None:
        return self._load().get(key)

    def all(self) -> list[InflightRecord]:
        return list(self._load().values())

    def start(self, key: str, refresh_token: Secret, now: float) -> InflightRecord:
        record = InflightRecord(key, fingerprint(refresh_token), now, os.getpid())
        records = self._load()
        records[key] = record
        self._save(records)
        return record

    def confirm_lost(self, key: str) -> None:
        records = self._load()
        if key in records:
            records[key] = replace(records[key], confirmed_lost=True)
            self._save(records)

    def clear(self, key: str) -> None:
        records = self._load()
        if records.pop(key, None) is not None:
            self._save(records)
