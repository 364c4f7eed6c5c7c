"""TokenManager: exchange once, store durably, refresh single-flight, never lose a token.

A refresh (``refresh``, or ``access_token`` when the access token is due) goes:

1. take the key's refresh lock (threads, processes, hosts: ``store.locked``; bounded wait ->
   ``TokenLockTimeoutError``);
2. re-read the store: if someone else already refreshed, return their tokens, no request (a
   pair received by an interrupted refresh is recovered here);
3. store the in-flight record durably and reserve room for the answer; 4. POST once (within a
   total deadline); 5. keep the new pair in a second durable place, then write it to the store;
6. clear the in-flight record; 7. only then return the new access token.

A refresh whose new pair cannot be written raises :class:`TokenStoreError` carrying the new
set (``.tokens``); it stays usable in this session (``get``, ``access_token``) until
``save_pending`` writes it, and the message says whether it is also kept on disk for the next
run. ``refresh_all`` refreshes every due set of a store, many at once within Stripe's rate
limits (:mod:`._bulk`).

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
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from .._errors import (
    AuthorizeAgainError,
    ConfigError,
    NetworkError,
    RefreshResponseLostError,
    StripeOAuthNBError,
    TokenLockTimeoutError,
    TokenRateLimitError,
    TokenStoreError,
)
from .._http import DEFAULT_TIMEOUT, httpx
from .._masking import Secret
from .._ratelimit import ModeLimiter, token_endpoint_limiter
from .._settings import DEFAULT_MARGIN, REFRESH_WARNING_WINDOW, Settings
from .._tokenset import TokenSet
from ..oauth._attempts import AttemptLog, AuthorizationCode, default_attempts_path
from ._checkpoint import checkpoint
from ._client import DEFAULT_DEADLINE, TokenClient
from ._refresh import InflightRecord, RefreshSlot
from ._store import TokenStore, open_attempt_log, open_store, store_key

if TYPE_CHECKING:
    from ._bulk import RefreshOutcome

__all__ = [
    "DEFAULT_LOCK_TIMEOUT",
    "RefreshTokenExpiringWarning",
    "TokenManager",
    "default_attempts_path",
]

#: How long a refresh waits for another one to finish (seconds): longer than one request's
#: whole deadline (``DEFAULT_DEADLINE``) plus the writes around it.
DEFAULT_LOCK_TIMEOUT = 60.0


class RefreshTokenExpiringWarning(UserWarning):
    """A stored refresh token is within 30 days of its one-year end: refresh it to roll it."""


def _when(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds")


#: How ``summary`` words each state for people.
_STATES = {
    "ok": "ok",
    "deauthorized": "deauthorized: authorize again",
    "lost": "lost",
    "received": "new pair received, stored by the next refresh",
    "interrupted": "refresh in flight or interrupted",
}


class TokenManager:
    """Exchange codes, keep token sets, hand out fresh access tokens.

    ``store`` defaults to the store the settings name (:func:`~._store.open_store`: the file at
    ``settings.token_store_path``, or PostgreSQL for a ``postgresql://`` setting);
    ``attempts`` to the :class:`AttemptLog` that goes with it (it must be the log the install
    link was recorded in); ``clock`` gives "now" (``Sandbox.now`` to follow a sandbox's moved
    clock); ``http`` is an ``httpx.Client`` to reuse; ``timeout`` applies to every read of a
    token request and ``deadline`` to each request as a whole; ``lock_timeout`` bounds the wait
    for another refresh (then ``TokenLockTimeoutError``).
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
        deadline: float = DEFAULT_DEADLINE,
        limiter: ModeLimiter | None = None,
    ) -> None:
        self.settings = settings
        #: Spaces the refreshes sent (Stripe's rate of the token endpoint, per mode): by default
        #: the process's one limiter, shared with every other manager (a sync's, refresh --all).
        self.limiter = limiter if limiter is not None else token_endpoint_limiter()
        self.store: TokenStore = store if store is not None else open_store(settings)
        self._owns_store = store is None
        if attempts is None:
            records = getattr(self.store, "attempt_records", None)  # the database's own table
            attempts = AttemptLog(records=records()) if records else open_attempt_log(settings)
        self.attempts = attempts
        self.clock = clock
        self.lock_timeout = lock_timeout
        self.client = TokenClient(
            settings, http=http, timeout=timeout, clock=clock, deadline=deadline
        )
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
        closer = getattr(self.store, "close", None)
        if closer is not None and self._owns_store:
            closer()

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
        """Where the tokens are kept, for messages: the store's file, or its database (the
        DSN without its password)."""
        return self.store.location

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

    def _records(self) -> dict[str, InflightRecord]:
        return {record.key: record for record in self.store.records()}

    def inflight(self, account_id: str, livemode: bool) -> InflightRecord | None:
        """The in-flight record of (account, mode), if a refresh started and was not seen to end."""
        record = self._records().get(store_key(account_id, livemode))
        return record if record is not None and record.in_flight else None

    def state(self, tokens: TokenSet, records: dict[str, InflightRecord] | None = None) -> str:
        """``ok``, ``deauthorized``, ``lost``, ``received`` or ``interrupted``: what the store's
        record says about ``tokens`` (pass ``records`` when at hand, else they are read)."""
        record = (records if records is not None else self._records()).get(store_key(*tokens.key))
        if record is None or not record.matches(tokens.refresh_token):
            return "ok"
        if record.deauthorized:
            return "deauthorized"
        if record.confirmed_lost:
            return "lost"
        return "received" if record.received is not None else "interrupted"

    def is_due(self, tokens: TokenSet, margin: float = DEFAULT_MARGIN) -> bool:
        """Whether ``tokens`` needs a refresh: access token within ``margin`` of its end, or
        refresh token within its last 30 days (:meth:`TokenSet.is_due`)."""
        return tokens.is_due(self.clock(), margin, REFRESH_WARNING_WINDOW)

    def summary(self) -> list[dict[str, Any]]:
        """One masked row per stored set, for people (CLI ``tokens status``, the panel)."""
        now = self.clock()
        records = self._records()  # one read
        rows: list[dict[str, Any]] = []
        for tokens in self.all():
            state = _STATES[self.state(tokens, records)]
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
    def _not_stored(self, tokens: TokenSet, why: StripeOAuthNBError) -> TokenStoreError:
        return TokenStoreError(
            f"New tokens for {tokens.account_id} ({tokens.mode} mode) were received but "
            f"could not be stored: {why} They stay usable in this session (get() and "
            "access_token() return them); fix the store, then call save_pending().",
            tokens=tokens,
            kept_at=getattr(why, "kept_at", None),
        )

    def _keep(self, tokens: TokenSet, *, authorized: bool = False) -> str:
        """Hold ``tokens`` in memory (usable at once) until the store has them; their key."""
        key = store_key(*tokens.key)
        self._unsaved[key] = tokens
        if authorized:
            self._unsaved_authorized.add(key)
        return key

    def _persist(
        self,
        tokens: TokenSet,
        slot: RefreshSlot,
        *,
        authorized: bool = False,
        rotated_from: TokenSet | None = None,
    ) -> None:
        """Write ``tokens`` (under the lock); until that succeeds they wait in ``_unsaved``.

        A set rotated from a new authorization that was never stored stays the most recent one.
        """
        key = self._keep(tokens, authorized=authorized)
        try:
            slot.save(tokens, authorized=key in self._unsaved_authorized, rotated_from=rotated_from)
        except StripeOAuthNBError as exc:
            raise self._not_stored(tokens, exc) from None
        self._unsaved.pop(key, None)
        self._unsaved_authorized.discard(key)

    def save_pending(self) -> int:
        """Write tokens whose earlier write failed; return how many were written."""
        pending = list(self._unsaved.values())
        for tokens in pending:
            with self.store.locked(*tokens.key, self.lock_timeout) as slot:
                if self._unsaved.get(store_key(*tokens.key)) is tokens:
                    self._persist(tokens, slot)
        return len(pending)

    def exchange(self, code: AuthorizationCode) -> TokenSet:
        """Trade ``code`` for tokens (sent at most once, ever), store them, return them."""
        tokens = self.client.exchange(code, self.attempts)
        key = self._keep(tokens, authorized=True)  # usable now, whatever happens to the write
        try:
            with self.store.locked(*tokens.key, self.lock_timeout) as slot:
                if self._unsaved.get(key) is tokens:  # else a refresh stored (or rotated) them
                    self._persist(tokens, slot)
                    # An old record cannot match the new refresh token, and refresh() drops
                    # such a record itself: failing to clear it here loses nothing.
                    with contextlib.suppress(TokenStoreError):
                        slot.clear()
        except (TokenLockTimeoutError, TokenStoreError) as exc:
            if isinstance(exc, TokenStoreError) and exc.tokens is not None:
                raise
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
        """Rotate the tokens of (account, mode), single-flight across threads, processes and
        (with a shared store) hosts.

        Without ``force`` or ``stale_access_token``, only when due (see :meth:`is_due`). With
        ``stale_access_token`` (the token that just failed): when the store already holds
        another one, someone else refreshed, and that set is returned without a request. A set
        Stripe refused before (deauthorized) is not sent again unless ``force``.
        """
        if account_id is not None and livemode is not None:
            key = (account_id, livemode)  # re-read under the lock below; no read before it
        else:
            key = self._select(account_id, livemode).key
        with self.store.locked(*key, self.lock_timeout) as slot:
            return self.refresh_locked(
                slot, key, force=force, stale_access_token=stale_access_token, margin=margin
            )

    def refresh_locked(
        self,
        slot: RefreshSlot,
        key: tuple[str, bool],
        *,
        force: bool = False,
        stale_access_token: Secret | None = None,
        margin: float = DEFAULT_MARGIN,
        unless_rotated_from: Secret | None = None,
        limiter: ModeLimiter | None = None,
    ) -> TokenSet:
        """:meth:`refresh` for a caller that holds ``key``'s lock (``slot``).

        ``unless_rotated_from``: return the stored set without a request when its refresh token
        is no longer this one (someone refreshed it since the caller looked). ``limiter``: the
        one to wait on before the request (default: the manager's).
        """
        skey = store_key(*key)
        on_disk = slot.load()
        unsaved = self._unsaved.get(skey)
        if unsaved is not None:
            with contextlib.suppress(TokenStoreError):
                self._persist(unsaved, slot)
                on_disk = unsaved
        current = self._unsaved.get(skey) or on_disk
        if current is None:
            raise self._none_stored(*key)
        record = slot.record()
        if record is not None and (on_disk is None or not record.matches(on_disk.refresh_token)):
            slot.clear()  # that refresh was stored; only its clean-up was lost
            record = None
        if unless_rotated_from is not None and current.refresh_token != unless_rotated_from:
            return current
        if stale_access_token is not None and current.access_token != stale_access_token:
            return current
        if stale_access_token is None and not force and not self.is_due(current, margin):
            return current
        replaying = record is not None and record.matches(current.refresh_token)
        if record is not None and replaying and record.confirmed_lost:
            raise RefreshResponseLostError(self._lost_message(current, record))
        if record is not None and replaying and record.deauthorized and not force:
            raise AuthorizeAgainError(self._deauthorized_message(current, record))
        interrupted = record if record is not None and replaying and record.in_flight else None
        return self._rotate(slot, current, interrupted, limiter or self.limiter)

    def refresh_all(
        self,
        *,
        force: bool = False,
        margin: float = DEFAULT_MARGIN,
        workers: int = 16,
        rates: dict[str, float] | None = None,
        keys: Sequence[tuple[str, bool]] | None = None,
        progress: Callable[[RefreshOutcome], None] | None = None,
    ) -> list[RefreshOutcome]:
        """Refresh every due set (or every set, ``force``) of the store, ``workers`` at once,
        within Stripe's rate limits; one :class:`~._bulk.RefreshOutcome` per set (a failure
        never stops the others). See :func:`._bulk.refresh_all`."""
        from ._bulk import refresh_all

        return refresh_all(
            self,
            force=force,
            margin=margin,
            workers=workers,
            rates=rates,
            keys=keys,
            progress=progress,
        )

    def _lost_message(self, tokens: TokenSet, record: InflightRecord) -> str:
        where = f" on {record.host}" if record.host else ""
        return (
            f"Token rotated, response lost: a refresh of {tokens.account_id} ({tokens.mode} "
            f"mode) started at {_when(record.started_at)} by process {record.pid}{where} never "
            "stored its answer, and Stripe no longer accepts the stored refresh token. Authorize "
            "the app again (open a new install link); the new tokens replace these."
        )

    def _deauthorized_message(self, tokens: TokenSet, record: InflightRecord) -> str:
        return (
            f"Stripe refused the refresh token of {tokens.account_id} ({tokens.mode} mode) on "
            f"{_when(record.started_at)} (the app was uninstalled, or the token revoked), so it "
            "is not sent again. Authorize the app again (open a new install link); the new "
            "tokens replace these. (`tokens refresh --force` tries the old token once more.)"
        )

    def _rotate(
        self,
        slot: RefreshSlot,
        current: TokenSet,
        interrupted: InflightRecord | None,
        limiter: ModeLimiter,
    ) -> TokenSet:
        """Steps 3-6 of a refresh, under the lock (its turn at the token endpoint first)."""
        self.client.check_tokens(current)  # mode and key checks: before anything is written
        limiter.wait(current.mode)  # before the in-flight record: a wait is never a refresh
        slot.begin(current, self.clock())  # raises, with nothing sent, when it cannot
        checkpoint("before-post")
        try:
            new = self.client.refresh(current)
        except RefreshResponseLostError:
            raise  # keep the record: next time it explains what happened
        except AuthorizeAgainError:
            again = slot.load()  # re-read once: did someone else rotate it?
            if again is not None and again.refresh_token != current.refresh_token:
                slot.clear()
                return again
            if interrupted is not None:
                slot.confirm_lost()
                raise RefreshResponseLostError(self._lost_message(current, interrupted)) from None
            slot.mark_deauthorized(current, self.clock())
            raise
        except (ConfigError, NetworkError, TokenRateLimitError):
            slot.clear()  # refused before processing, or never sent
            raise
        checkpoint("after-response")
        self._persist(new, slot, rotated_from=current)  # raises on failure; nothing is lost
        checkpoint("after-replace")
        with contextlib.suppress(TokenStoreError):
            slot.clear()
        return new
