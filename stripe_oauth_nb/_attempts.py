"""The local record of each authorization attempt.

An attempt is written when an install link is built: its ``state``, mode, client id, redirect
URI and time. When a callback arrives, the record found by ``state`` (not anything in the URL)
decides the mode, and so which secret key exchanges the code. The record also remembers that a
code was sent to the token endpoint, so a re-run cell never sends it twice.
"""

from __future__ import annotations

import hmac
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ._errors import CallbackStateError, CodeAlreadyUsedError
from ._fileio import atomic_write_text
from ._masking import Secret
from ._settings import Mode, Settings

__all__ = ["Attempt", "AttemptLog", "AuthorizationCode", "default_attempts_path"]

#: How long an attempt stays open for a callback (seconds). Stripe's codes live 5 minutes;
#: a person may take longer to read the consent page, so attempts live a little longer.
ATTEMPT_TTL = 15 * 60
#: How long records are kept before they are pruned (seconds).
_KEEP = 7 * 24 * 3600


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
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Attempt:
        return cls(
            state=Secret(data["state"]),
            mode="live" if data["mode"] == "live" else "test",
            client_id=data["client_id"],
            redirect_uri=data["redirect_uri"],
            created_at=float(data["created_at"]),
            install_url=data.get("install_url", ""),
            code_sent_at=data.get("code_sent_at"),
            completed_at=data.get("completed_at"),
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
    form or command can be exchanged by another, and is never sent twice.
    """
    return settings.token_store_path.with_name("attempts.json")


class AttemptLog:
    """Attempts by state, in memory, or in a private JSON file when ``path`` is given."""

    def __init__(self, path: Path | None = None, *, clock: Callable[[], float] = time.time):
        self.path = path
        self._clock = clock
        self._lock = threading.RLock()
        self._memory: dict[str, dict[str, Any]] = {}

    @classmethod
    def for_settings(cls, settings: Settings) -> AttemptLog:
        """The shared log of ``settings`` (see :func:`default_attempts_path`)."""
        return cls(default_attempts_path(settings))

    # -- storage -------------------------------------------------------------------------
    def _load(self) -> dict[str, dict[str, Any]]:
        if self.path is None:
            return dict(self._memory)
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError):
            return {}
        return {k: v for k, v in data.get("attempts", {}).items() if isinstance(v, dict)}

    def _save(self, records: dict[str, dict[str, Any]]) -> None:
        now = self._clock()
        records = {k: v for k, v in records.items() if v.get("created_at", 0) > now - _KEEP}
        if self.path is None:
            self._memory = records
            return
        atomic_write_text(self.path, json.dumps({"attempts": records}, indent=2) + "\n")

    @contextmanager
    def _locked(self) -> Iterator[dict[str, dict[str, Any]]]:
        with self._lock:
            if self.path is None:
                records = self._load()
                yield records
                self._save(records)
                return
            from filelock import FileLock

            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            with FileLock(str(self.path) + ".lock", timeout=10):
                records = self._load()
                yield records
                self._save(records)

    # -- API -----------------------------------------------------------------------------
    def record(self, attempt: Attempt) -> Attempt:
        """Remember a new attempt."""
        with self._locked() as records:
            records[attempt.state.reveal()] = attempt.to_json()
        return attempt

    def all(self) -> list[Attempt]:
        with self._lock:
            return [Attempt.from_json(v) for v in self._load().values()]

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

    def mark_code_sent(self, state: str) -> Attempt:
        """Record that this attempt's code is about to be sent; refuse a second send.

        Call this *before* the POST to the token endpoint: a crash after it means the code
        counts as sent, which is the safe side (Stripe revokes tokens of a reused code).
        """
        with self._locked() as records:
            record = records.get(state)
            if record is None:
                raise CallbackStateError(
                    "This code's install link is not recorded here. Open the install link again."
                )
            attempt = Attempt.from_json(record)
            if attempt.code_sent_at is not None:
                raise CodeAlreadyUsedError(
                    "This authorization code was already sent to Stripe once; a code works only "
                    "once, and sending it again would revoke the tokens it gave. Use the stored "
                    "tokens, or open the install link again for a new code."
                )
            sent = replace(attempt, code_sent_at=self._clock())
            records[state] = sent.to_json()
        return sent
