"""The local record of each authorization attempt.

An attempt is written when an install link is built: its ``state``, mode, client id, redirect
URI and time. When a callback arrives, the record found by ``state`` (not anything in the URL)
decides the mode, and so which secret key exchanges the code. The record also remembers that a
code was sent to the token endpoint, so a re-run cell never sends it twice.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from .._errors import AttemptLogError, CallbackStateError, CodeAlreadySentError
from .._fileio import (
    DamagedFile,
    LockTimeout,
    atomic_write_text,
    hold_lock,
    read_section,
)
from .._masking import Secret
from .._modes import read_mode
from .._settings import Mode, Settings

__all__ = [
    "Attempt",
    "AttemptLog",
    "AttemptRecords",
    "AuthorizationCode",
    "FileAttemptRecords",
    "MemoryAttemptRecords",
    "default_attempts_path",
]

#: How long an attempt stays open for a callback (seconds). Stripe's codes live 5 minutes;
#: a person may take longer to read the consent page, so attempts live a little longer.
ATTEMPT_TTL = 15 * 60
#: How long records are kept before they are pruned (seconds).
_KEEP = 7 * 24 * 3600


def _time(value: object, name: str, *, optional: bool = False) -> Any:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} is not a number")
    if not 0.0 <= value < 1e11:
        raise ValueError(f"{name} is not a time")
    return float(value)


def _digest(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) != 64:
        raise ValueError("code_sha256 is not a SHA-256")
    return value


def code_fingerprint(code: Secret) -> str:
    """SHA-256 of a code: what the log keeps of a code sent (no code can be read back)."""
    return hashlib.sha256(code.reveal().encode()).hexdigest()


@dataclass(frozen=True)
class Attempt:
    """One install link built by this machine: what a returning ``state`` must match."""

    state: Secret
    mode: Mode
    client_id: str
    redirect_uri: str
    created_at: float
    install_url: str = ""
    #: When the code that came back for this attempt was sent to the token endpoint.
    code_sent_at: float | None = None
    #: When a callback for this attempt was accepted (state matched and was used up).
    completed_at: float | None = None
    #: SHA-256 of the code sent for this attempt: no attempt may send the same code again.
    code_sha256: str | None = None

    @property
    def expires_at(self) -> float:
        return self.created_at + ATTEMPT_TTL

    def to_json(self) -> dict[str, Any]:
        return {
            "state": self.state.reveal(),
            "mode": self.mode,
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "created_at": self.created_at,
            "install_url": self.install_url,
            "code_sent_at": self.code_sent_at,
            "completed_at": self.completed_at,
        } | ({"code_sha256": self.code_sha256} if self.code_sha256 is not None else {})

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Attempt:
        """Build from the stored form; an error names the first bad field."""
        if not isinstance(data, dict):
            raise TypeError("an attempt is not a JSON object")
        mode = read_mode(data["mode"])
        if mode is None:
            raise ValueError("mode is neither test nor live")
        texts = {name: data[name] for name in ("state", "client_id", "redirect_uri")}
        texts["install_url"] = data.get("install_url", "")
        for name, value in texts.items():
            if not isinstance(value, str):
                raise TypeError(f"{name} is not text")
        return cls(
            state=Secret(texts["state"]),
            mode=mode,
            client_id=texts["client_id"],
            redirect_uri=texts["redirect_uri"],
            created_at=_time(data["created_at"], "created_at"),
            install_url=texts["install_url"],
            code_sent_at=_time(data.get("code_sent_at"), "code_sent_at", optional=True),
            completed_at=_time(data.get("completed_at"), "completed_at", optional=True),
            code_sha256=_digest(data.get("code_sha256")),
        )

    def __repr__(self) -> str:
        return (
            f"Attempt(state={self.state.masked!r}, mode={self.mode!r}, "
            f"client_id={self.client_id!r}, redirect_uri={self.redirect_uri!r})"
        )


@dataclass(frozen=True)
class AuthorizationCode:
    """A code caught by the callback (or pasted), tied to the attempt whose state it carried."""

    code: Secret
    attempt: Attempt
    received_at: float = field(default_factory=time.time)

    #: Stripe's codes are valid for five minutes.
    LIFETIME = 300.0

    @property
    def expires_at(self) -> float:
        return self.received_at + self.LIFETIME

    @property
    def mode(self) -> Mode:
        return self.attempt.mode

    def __repr__(self) -> str:
        return f"AuthorizationCode(code={self.code.masked!r}, mode={self.mode!r})"


def default_attempts_path(settings: Settings) -> Path:
    """Where attempts are recorded for ``settings``: ``attempts.json`` beside the token store.

    The install-link step writes here and the token step reads here, so a code caught by one
    form or command can be exchanged by another, and is never sent twice. (With a PostgreSQL
    token store the attempts live in the database instead: see
    :func:`stripe_oauth_nb.tokens.open_attempt_log`.)
    """
    return settings.token_store_path.with_name("attempts.json")


class AttemptRecords(Protocol):
    """Where an :class:`AttemptLog` keeps its records (``state`` -> the attempt's JSON form).

    A change is ``with records.locked(): r = records.read(); ...; records.write(r)``: exclusive
    across threads, processes (and hosts, for the database); ``write`` only inside ``locked``.
    """

    def read(self) -> dict[str, dict[str, Any]]:
        """Every record, as stored."""

    def locked(self) -> AbstractContextManager[None]:
        """Hold the log's write lock."""

    def write(self, records: dict[str, dict[str, Any]]) -> None:
        """Replace every record, durably (inside :meth:`locked`)."""


class MemoryAttemptRecords:
    """Records in a dict: nothing survives the process."""

    def __init__(self) -> None:
        self._records: dict[str, dict[str, Any]] = {}

    def read(self) -> dict[str, dict[str, Any]]:
        return {k: dict(v) for k, v in self._records.items()}

    @contextmanager
    def locked(self) -> Iterator[None]:
        yield  # the AttemptLog's own lock is enough for one process

    def write(self, records: dict[str, dict[str, Any]]) -> None:
        self._records = {k: dict(v) for k, v in records.items()}

    def __repr__(self) -> str:
        return "MemoryAttemptRecords()"


#: How long an attempt-log write waits for another process's write (seconds).
_LOCK_TIMEOUT = 10.0


class FileAttemptRecords:
    """Records in a private JSON file (``{"attempts": {state: record}}``), written durably under
    ``<file>.lock``. A file that is not what the toolkit writes is refused, never emptied:
    the same policy as the token store."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __repr__(self) -> str:
        return f"FileAttemptRecords({str(self.path)!r})"

    def _damaged(self, why: str) -> AttemptLogError:
        return AttemptLogError(
            f"The attempt log {self.path} is damaged ({why}), so install links built here "
            f"cannot be checked. Move it aside (mv {self.path} {self.path}.damaged), then build "
            "a new install link and authorize again."
        )

    def read(self) -> dict[str, dict[str, Any]]:
        try:
            raw = read_section(self.path, "attempts")
        except DamagedFile as exc:
            raise self._damaged(str(exc)) from None
        except OSError as exc:
            raise AttemptLogError(
                f"The attempt log {self.path} cannot be read ({exc.strerror or exc}). Check that "
                "it is a file of yours (mode 600) in a folder you can write, or move it aside."
            ) from None
        for state, record in raw.items():
            try:
                Attempt.from_json(record)
                if record["state"] != state:
                    raise ValueError("state differs from its key")
            except (KeyError, TypeError, ValueError) as exc:
                raise self._damaged(f"a record is not an attempt: {type(exc).__name__}") from None
        return raw

    @contextmanager
    def locked(self) -> Iterator[None]:
        lock_path = self.path.with_name(self.path.name + ".lock")
        try:
            held = hold_lock(lock_path, _LOCK_TIMEOUT)
        except LockTimeout:
            raise AttemptLogError(
                f"Another process kept {lock_path} locked for {_LOCK_TIMEOUT:.0f} s. Try again; "
                "if no other stripe-oauth-nb process is running, delete that file."
            ) from None
        except OSError as exc:
            raise AttemptLogError(
                f"The attempt log's folder {self.path.parent} cannot be written "
                f"({exc.strerror or exc}); nothing was recorded. Make it writable, or choose "
                "another place with STRIPE_OAUTH_NB_TOKEN_STORE."
            ) from None
        with held:
            yield

    def write(self, records: dict[str, dict[str, Any]]) -> None:
        try:
            atomic_write_text(self.path, json.dumps({"attempts": records}, indent=2) + "\n")
        except OSError as exc:
            raise AttemptLogError(
                f"The attempt log {self.path} could not be written ({exc.strerror or exc}); "
                "nothing was recorded. Free some space or fix the folder's permissions, then "
                "try again."
            ) from None


class AttemptLog:
    """Attempts by state: in memory, in a private JSON file when ``path`` is given, or in any
    :class:`AttemptRecords` (the PostgreSQL store's table) given as ``records``."""

    def __init__(
        self,
        path: Path | None = None,
        *,
        clock: Callable[[], float] = time.time,
        records: AttemptRecords | None = None,
    ):
        self.path = path
        self._clock = clock
        self._lock = threading.RLock()
        self.records: AttemptRecords = (
            records
            if records is not None
            else FileAttemptRecords(path)
            if path is not None
            else MemoryAttemptRecords()
        )

    # -- storage -------------------------------------------------------------------------
    def _load(self) -> dict[str, dict[str, Any]]:
        return self.records.read()

    @contextmanager
    def _locked(self) -> Iterator[dict[str, dict[str, Any]]]:
        """Read under the log's lock, let the caller change the records, write them back
        (nothing is written when the block raises); records older than a week are dropped."""
        with self._lock, self.records.locked():
            records = self._load()
            yield records
            now = self._clock()
            for key in [k for k, v in records.items() if v.get("created_at", 0) <= now - _KEEP]:
                del records[key]
            self.records.write(records)

    # -- API -----------------------------------------------------------------------------
    def record(self, attempt: Attempt) -> Attempt:
        """Remember a new attempt."""
        with self._locked() as records:
            records[attempt.state.reveal()] = attempt.to_json()
        return attempt

    def all(self) -> list[Attempt]:
        with self._lock:
            return [Attempt.from_json(v) for v in self._load().values()]

    def __repr__(self) -> str:
        return f"AttemptLog({self.records!r})"

    @staticmethod
    def _missing_state() -> CallbackStateError:
        return CallbackStateError(
            "The callback carried no state, so it cannot be tied to an install link built "
            "here (possible CSRF). Open the install link from this notebook again."
        )

    def _open_attempt(self, records: dict[str, dict[str, Any]], state: str) -> Attempt:
        """The open attempt of ``state`` among ``records``, compared in constant time.

        Every key is compared (no early exit), so timing does not tell how much of a guess
        matched. Raises :class:`CallbackStateError` for an unknown, used or expired state.
        """
        now = self._clock()
        wanted = state.encode()
        found: Attempt | None = None
        for key, value in records.items():
            if hmac.compare_digest(key.encode(), wanted):
                found = Attempt.from_json(value)
        if found is None:
            raise CallbackStateError(
                "The callback's state does not match any install link built here (possible "
                "CSRF, or a link from another machine). Open the install link from this "
                "notebook again."
            )
        if found.completed_at is not None:
            raise CallbackStateError(
                "This install link was already used once. Build a new install link and open it."
            )
        if found.expires_at < now:
            raise CallbackStateError(
                "This install link is too old (built more than 15 minutes ago). Build a new "
                "install link and open it."
            )
        return found

    def find(self, state: str | None) -> Attempt:
        """The open attempt whose state equals ``state`` (constant-time comparison).

        Raises :class:`CallbackStateError` for a missing, unknown, used or expired state.
        A read only: use :meth:`complete` to check *and* use up a state in one step.
        """
        if not state:
            raise self._missing_state()
        with self._lock:
            records = self._load()
        return self._open_attempt(records, state)

    def complete(self, state: str | None, *, redirect_uri: str | None = None) -> Attempt:
        """Check ``state`` and mark its attempt as used, atomically; return the used attempt.

        The check (as :meth:`find`, plus, when ``redirect_uri`` is given, that the attempt was
        built for that redirect URI) and the write happen under one lock (threads, and for a
        file log other processes too), so of many callers racing on one state exactly one
        succeeds; the others get :class:`CallbackStateError` ("already used once"). Nothing
        is written when a check fails: the attempt stays open.
        """
        if not state:
            raise self._missing_state()
        with self._locked() as records:
            attempt = self._open_attempt(records, state)
            if redirect_uri is not None and attempt.redirect_uri != redirect_uri:
                raise CallbackStateError(
                    "The callback's state belongs to an install link built for another "
                    f"redirect URI ({attempt.redirect_uri}). Open the install link from this "
                    "notebook again."
                )
            done = replace(attempt, completed_at=self._clock())
            records[attempt.state.reveal()] = done.to_json()
        return done

    def mark_code_sent(self, state: str, code: Secret | None = None) -> Attempt:
        """Record that this attempt's code is about to be sent; refuse a second send.

        The one home of "a code is sent once": refused (:class:`CodeAlreadySentError`) when this
        attempt already sent its code, or when ``code`` was sent by any attempt in the log (an
        old code spliced into a fresh, valid redirect; for Connect a reused code revokes every
        token it gave). Only the code's SHA-256 is kept. Call this *before* the POST to the
        token endpoint: a crash after it means the code counts as sent, which is the safe side.
        """
        digest = code_fingerprint(code) if code is not None else None
        with self._locked() as records:
            record = records.get(state)
            if record is None:
                raise CallbackStateError(
                    "This code's install link is not recorded here. Open the install link again."
                )
            attempt = Attempt.from_json(record)
            seen = digest is not None and any(
                hmac.compare_digest(str(other.get("code_sha256") or ""), digest)
                for other in records.values()
            )
            if attempt.code_sent_at is not None or seen:
                raise CodeAlreadySentError(
                    "This authorization code was already sent to Stripe once; a code works only "
                    "once, and sending it again would revoke the tokens it gave. Use the stored "
                    "tokens, or open the install link again for a new code."
                )
            sent = replace(attempt, code_sent_at=self._clock(), code_sha256=digest)
            records[state] = sent.to_json()
        return sent
