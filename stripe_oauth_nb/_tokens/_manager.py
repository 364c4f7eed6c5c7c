"""TokenManager: exchange once, store durably, refresh single-flight, never lose a token.

A refresh (``refresh``, or ``access_token`` when the access token is due) goes:

1. take the refresh lock (threads, then processes; bounded wait -> ``TokenLockTimeoutError``);
2. re-read the store: if someone else already refreshed, return their tokens, no request;
3. write the in-flight record durably; 4. POST once; 5. write the new pair durably;
6. clear the in-flight record; 7. only then return the new access token.

A refresh whose new pair cannot be written raises :class:`TokenStoreError` carrying the new
set (``.tokens``); it stays usable in this session (``get``, ``access_token``) until
``save_pending`` writes it.

Warnings: as a stored refresh token nears its one-year end (less than
:data:`REFRESH_WARNING_WINDOW`), ``get`` and ``access_token`` emit
:class:`RefreshTokenExpiringWarning` (a ``UserWarning``; filter it with the ``warnings`` module).
``access_token`` also refreshes such a set on its own, which rolls the refresh token for another
year, so the warning only appears for sets nobody used for eleven months.
"""

from __future__ import annotations

import contextlib
import time
import warnings
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from .._attempts import AttemptLog, AuthorizationCode, default_attempts_path
from .._errors import (
    AuthorizeAgainError,
    ConfigError,
    NetworkError,
    RefreshResponseLostError,
    StripeOAuthNBError,
    TokenLockTimeoutError,
    TokenStoreError,
)
from .._http import DEFAULT_TIMEOUT, httpx
from .._masking import Secret
from .._settings import DEFAULT_MARGIN, REFRESH_WARNING_WINDOW, Settings
from .._tokenset import TokenSet
from ._checkpoint import checkpoint
from ._client import TokenClient
from ._refresh import InflightLog, InflightRecord, refresh_lock
from ._store import FileTokenStore, TokenStore, store_key

__all__ = [
    "DEFAULT_MARGIN",
    "REFRESH_WARNING_WINDOW",
    "RefreshTokenExpiringWarning",
    "TokenManager",
    "default_attempts_path",
]

#: How long a refresh waits for another one to finish (seconds): longer than one request.
DEFAULT_LOCK_TIMEOUT = 60.0


class RefreshTokenExpiringWarning(UserWarning):
    """A stored refresh token is within 30 days of its one-year end: refresh it to roll it."""


def _when(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds")


class TokenManager:
    """Exchange codes, keep token sets, hand out fresh access tokens.

    ``store`` defaults to a :class:`FileTokenStore` at ``settings.token_store_path``;
    ``attempts`` to an :class:`AttemptLog` beside it (it must be the log the install link was
    recorded in); ``clock`` gives "now" (``Sandbox.now`` to follow a sandbox's moved clock);
    ``http`` is an ``httpx.Client`` to reuse; ``timeout`` applies to every token request;
    ``lock_timeout`` bounds the wait for another refresh (then ``TokenLockTimeoutError``).
    """

    def __init__(
        self,
        settings: Settings,
        store: TokenStore | None = None,
        attempts: AttemptLog | None = None,
        *,
        clock: Callable[[], float] = time.time,
        http: httpx.Client | None = None,
        lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
    ) -> None:
        self.settings = settings
        self.store: TokenStore = (
            store if store is not None else FileTokenStore(settings.token_store_path)
        )
        self.attempts = attempts if attempts is not None else AttemptLog.for_settings(settings)
        self.clock = clock
        self.lock_timeout = lock_timeout
        self.client = TokenClient(settings, http=http, timeout=timeout, clock=clock)
        self._inflight = InflightLog(self.store.inflight_path)
        #: New tokens not (yet) in the store, by store key: usable in this process meanwhile.
        self._unsaved: dict[str, TokenSet] = {}
        #: Keys in ``_unsaved`` that are a new authorization (the most recent one once stored).
        self._unsaved_authorized: set[str] = set()

    def use_settings(self, settings: Settings) -> None:
        """Switch to new settings for the same store (e.g. the app's client ids became known)."""
        self.settings = settings
        self.client.settings = settings

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> TokenManager:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"TokenManager({self.store!r}, mode={self.settings.mode!r})"

    # -- reading -------------------------------------------------------------------------
    def _select(self, account_id: str | None, livemode: bool | None) -> TokenSet:
        found: TokenSet | None
        if account_id is not None and livemode is not None:
            key = store_key(account_id, livemode)
            found = self._unsaved.get(key) or self.store.load(account_id, livemode)
        else:
            entries = {store_key(*t.key): t for t in self.store.all()}
            entries.update(self._unsaved)
            matching = [
                t
                for t in entries.values()
                if (account_id is None or t.account_id == account_id)
                and (livemode is None or t.livemode == livemode)
            ]
            found = matching[-1] if matching else None
        if found is None:
            raise self._none_stored(account_id, livemode)
        return found

    def _none_stored(self, account_id: str | None, livemode: bool | None) -> AuthorizeAgainError:
        which = account_id or "any account"
        mode = "" if livemode is None else f" ({'live' if livemode else 'test'} mode)"
        return AuthorizeAgainError(
            f"No tokens are stored for {which}{mode} in {self.location}. Authorize the app "
            "first: open the install link, approve, and exchange the code."
        )

    @property
    def location(self) -> str:
        """Where the tokens are kept, for messages: the store's file, or its repr."""
        path = getattr(self.store, "path", None)
        return str(path) if path is not None else repr(self.store)

    def _warn_if_old(self, tokens: TokenSet) -> None:
        left = tokens.refresh_expires_in(self.clock())
        if left < REFRESH_WARNING_WINDOW:
            days = max(left / 86400, 0.0)
            warnings.warn(
                RefreshTokenExpiringWarning(
                    f"The refresh token of {tokens.account_id} ({tokens.mode} mode) ends in "
                    f"{days:.0f} days; after that the app must be authorized again. Refresh now "
                    "(`stripe-oauth-nb tokens refresh --force`, or manager.refresh(force=True)) "
                    "to roll it for another year, and schedule the refresh with cron."
                ),
                stacklevel=3,
            )

    def get(self, account_id: str | None = None, livemode: bool | None = None) -> TokenSet:
        """The stored set for (account, mode); with ``None``, the only or most recently
        authorized one. Raises :class:`AuthorizeAgainError` when none is stored."""
        tokens = self._select(account_id, livemode)
        self._warn_if_old(tokens)
        return tokens

    def all(self) -> list[TokenSet]:
        """Every stored set (and any unsaved one), oldest authorization first."""
        entries = {store_key(*t.key): t for t in self.store.all()}
        entries.update(self._unsaved)
        return list(entries.values())

    def inflight(self, account_id: str, livemode: bool) -> InflightRecord | None:
        """The in-flight record of (account, mode), if a refresh started and was not seen to end."""
        return self._inflight.get(store_key(account_id, livemode))

    def is_due(self, tokens: TokenSet, margin: float = DEFAULT_MARGIN) -> bool:
        """Whether ``tokens`` needs a refresh: access token within ``margin`` of its end, or
        refresh token within its last 30 days (:meth:`TokenSet.is_due`)."""
        return tokens.is_due(self.clock(), margin, REFRESH_WARNING_WINDOW)

    def summary(self) -> list[dict[str, Any]]:
        """One masked row per stored set, for people (CLI ``tokens status``, the panel)."""
        now = self.clock()
        records = {record.key: record for record in self._inflight.all()}  # one read
        rows: list[dict[str, Any]] = []
        for tokens in self.all():
            record = records.get(store_key(*tokens.key))
            if record is not None and record.matches(tokens.refresh_token):
                state = "lost" if record.confirmed_lost else "refresh in flight or interrupted"
            else:
                state = "ok"
            rows.append(
                {
                    "account_id": tokens.account_id,
                    "mode": tokens.mode,
                    "access_token": tokens.access_token.masked,
                    "refresh_token": tokens.refresh_token.masked,
                    "obtained_at": _when(tokens.obtained_at),
                    "access_expires_at": _when(tokens.access_expires_at),
                    "refresh_expires_at": _when(tokens.refresh_expires_at),
                    "access_expires_in": round(tokens.access_expires_in(now)),
                    "refresh_expires_in": round(tokens.refresh_expires_in(now)),
                    "state": state,
                    "unsaved": store_key(*tokens.key) in self._unsaved,
                }
            )
        return rows

    # -- writing -------------------------------------------------------------------------
    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with (
            refresh_lock(self.store.lock_path, f"memory:{id(self.store)}", self.lock_timeout),
            self._inflight.held(),
        ):
            yield

    def _not_stored(self, tokens: TokenSet, why: StripeOAuthNBError) -> TokenStoreError:
        return TokenStoreError(
            f"New tokens for {tokens.account_id} ({tokens.mode} mode) were received but "
            f"could not be stored: {why} They stay usable in this session (get() and "
            "access_token() return them); fix the store, then call save_pending().",
            tokens=tokens,
        )

    def _keep(self, tokens: TokenSet, *, authorized: bool = False) -> str:
        """Hold ``tokens`` in memory (usable at once) until the store has them; their key."""
        key = store_key(*tokens.key)
        self._unsaved[key] = tokens
        if authorized:
            self._unsaved_authorized.add(key)
        return key

    def _persist(self, tokens: TokenSet, *, authorized: bool = False) -> None:
        """Write ``tokens`` (under the lock); until that succeeds they wait in ``_unsaved``.

        A set rotated from a new authorization that was never stored stays the most recent one.
        """
        key = self._keep(tokens, authorized=authorized)
        try:
            self.store.save(tokens, authorized=key in self._unsaved_authorized)
        except StripeOAuthNBError as exc:
            raise self._not_stored(tokens, exc) from None
        self._unsaved.pop(key, None)
        self._unsaved_authorized.discard(key)

    def save_pending(self) -> int:
        """Write tokens whose earlier write failed; return how many were written."""
        with self._locked():
            pending = list(self._unsaved.values())
            for tokens in pending:
                self._persist(tokens)
        return len(pending)

    def exchange(self, code: AuthorizationCode) -> TokenSet:
        """Trade ``code`` for tokens (sent at most once, ever), store them, return them."""
        tokens = self.client.exchange(code, self.attempts)
        key = self._keep(tokens, authorized=True)  # usable now, whatever happens to the write
        try:
            with self._locked():
                if self._unsaved.get(key) is tokens:  # else a refresh stored (or rotated) them
                    self._persist(tokens)
                    # An old record cannot match the new refresh token, and refresh() drops
                    # such a record itself: failing to clear it here loses nothing.
                    with contextlib.suppress(TokenStoreError):
                        self._inflight.clear(key)
        except TokenLockTimeoutError as exc:
            raise self._not_stored(tokens, exc) from None
        return tokens

    def access_token(
        self,
        account_id: str | None = None,
        livemode: bool | None = None,
        *,
        margin: float = DEFAULT_MARGIN,
    ) -> Secret:
        """A usable access token, refreshed first when less than ``margin`` seconds are left."""
        tokens = self._select(account_id, livemode)
        if self.is_due(tokens, margin):
            tokens = self.refresh(
                tokens.account_id,
                tokens.livemode,
                stale_access_token=tokens.access_token,
                margin=margin,
            )
        self._warn_if_old(tokens)
        return tokens.access_token

    def refresh(
        self,
        account_id: str | None = None,
        livemode: bool | None = None,
        *,
        force: bool = False,
        stale_access_token: Secret | None = None,
        margin: float = DEFAULT_MARGIN,
    ) -> TokenSet:
        """Rotate the tokens of (account, mode), single-flight across threads and processes.

        Without ``force`` or ``stale_access_token``, only when due (see :meth:`is_due`). With
        ``stale_access_token`` (the token that just failed): when the store already holds
        another one, someone else refreshed, and that set is returned without a request.
        """
        if account_id is not None and livemode is not None:
            key = (account_id, livemode)  # re-read under the lock below; no read before it
        else:
            key = self._select(account_id, livemode).key
        skey = store_key(*key)
        with self._locked():
            on_disk = self.store.load(*key)
            unsaved = self._unsaved.get(skey)
            if unsaved is not None:
                with contextlib.suppress(TokenStoreError):
                    self._persist(unsaved)
                    on_disk = unsaved
            current = self._unsaved.get(skey) or on_disk
            if current is None:
                raise self._none_stored(*key)
            record = self._inflight.get(skey)
            if record is not None and (
                on_disk is None or not record.matches(on_disk.refresh_token)
            ):
                self._inflight.clear(skey)  # that refresh was stored; only its clean-up was lost
                record = None
            if stale_access_token is not None and current.access_token != stale_access_token:
                return current
            if stale_access_token is None and not force and not self.is_due(current, margin):
                return current
            replaying = record is not None and record.matches(current.refresh_token)
            if record is not None and replaying and record.confirmed_lost:
                raise RefreshResponseLostError(self._lost_message(current, record))
            return self._rotate(current, record if replaying else None)

    def _lost_message(self, tokens: TokenSet, record: InflightRecord) -> str:
        return (
            f"Token rotated, response lost: a refresh of {tokens.account_id} ({tokens.mode} "
            f"mode) started at {_when(record.started_at)} by process {record.pid} never stored "
            "its answer, and Stripe no longer accepts the stored refresh token. Authorize the "
            "app again (open a new install link); the new tokens replace these."
        )

    def _rotate(self, current: TokenSet, interrupted: InflightRecord | None) -> TokenSet:
        """Steps 3-6 of a refresh, under the lock."""
        skey = store_key(*current.key)
        self.client.check_tokens(current)  # mode and key checks: before anything is written
        self._inflight.start(skey, current.refresh_token, self.clock())
        checkpoint("before-post")
        try:
            new = self.client.refresh(current)
        except RefreshResponseLostError:
            raise  # keep the record: next time it explains what happened
        except AuthorizeAgainError:
            again = self.store.load(*current.key)  # re-read once: did someone else rotate it?
            if again is not None and again.refresh_token != current.refresh_token:
                self._inflight.clear(skey)
                return again
            if interrupted is not None:
                self._inflight.confirm_lost(skey)
                raise RefreshResponseLostError(self._lost_message(current, interrupted)) from None
            self._inflight.clear(skey)
            raise
        except (ConfigError, NetworkError):
            self._inflight.clear(skey)  # refused before processing, or never sent
            raise
        checkpoint("after-response")
        self._persist(new)  # raises on failure; the new pair stays in memory, the record stays
        checkpoint("after-replace")
        self._inflight.clear(skey)
        return new
