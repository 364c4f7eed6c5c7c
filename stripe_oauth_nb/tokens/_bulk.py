"""Refresh many installs at once: ``TokenManager.refresh_all`` and ``tokens refresh --all``.

Every set that is due (or every set, with ``force``) is refreshed by a pool of worker threads,
within Stripe's rate limits for the token endpoint. The endpoint is called with the app
developer's secret key, so the developer account's limit applies to all of them together: 100
requests a second in live mode, 25 in test mode. The process's
:func:`~stripe_oauth_nb._ratelimit.token_endpoint_limiter` (a
:class:`~stripe_oauth_nb._ratelimit.ModeLimiter`, the toolkit's one limiter, which every refresh
of the process waits on: a sync's too) spaces requests evenly per mode (never more than the
limit in any one-second window); a 429 anyway (another program using the same key) is waited out
and retried, at most :data:`RETRIES_ON_429` times, which is safe because Stripe processed
nothing.

Each set is handled on its own and reported as a :class:`RefreshOutcome`; a failure never stops
the others. A set Stripe refused (``invalid_grant``: the account uninstalled the app) is
marked deauthorized by the refresh and skipped from then on without a request, until a new
authorization replaces it.

**Several workers, several hosts.** Workers take each set's refresh lock without waiting
(``timeout=0``): a set whose lock is held is being refreshed by someone else right now and is
reported ``busy``. Under the lock the set is read again and only refreshed if its refresh token
is still the one this run listed at its start: a set another worker rotated meanwhile is
reported ``done elsewhere``. So no set is refreshed twice, whatever the number of workers.
A sync refreshing a set (a token that expires mid-load) takes the same lock, the store's per
(account, mode), in :meth:`TokenManager.refresh`, and re-reads the set under it: a sync and a
``refresh --all`` on other processes or hosts never rotate one refresh token twice either
(``tests/test_tokens_sync_refresh.py``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal, Protocol

from .._errors import (
    AuthorizeAgainError,
    RefreshResponseLostError,
    StripeOAuthNBError,
    TokenLockTimeoutError,
    TokenRateLimitError,
)
from .._ratelimit import ModeLimiter
from .._settings import DEFAULT_MARGIN
from .._tokenset import TokenSet
from ._refresh import RefreshSlot, store_key
from ._store import TokenStore


class TokenManager(Protocol):
    """What this module uses of :class:`~._manager.TokenManager`."""

    store: TokenStore
    limiter: ModeLimiter

    def all(self) -> list[TokenSet]: ...

    def state(self, tokens: TokenSet) -> str: ...

    def is_due(self, tokens: TokenSet, margin: float = ...) -> bool: ...

    def refresh_locked(
        self,
        slot: RefreshSlot,
        key: tuple[str, bool],
        *,
        force: bool = ...,
        margin: float = ...,
        limiter: ModeLimiter | None = ...,
    ) -> TokenSet: ...


__all__ = ["RefreshOutcome", "refresh_all"]

#: How often one set's refresh is retried after a 429.
RETRIES_ON_429 = 3

Status = Literal["refreshed", "fresh", "done elsewhere", "busy", "deauthorized", "lost", "failed"]


@dataclass(frozen=True)
class RefreshOutcome:
    """What happened to one set: ``status`` and a sentence for people (never a secret)."""

    account_id: str
    livemode: bool
    status: Status
    detail: str = ""
    tokens: TokenSet | None = None

    @property
    def mode(self) -> str:
        return "live" if self.livemode else "test"

    @property
    def ok(self) -> bool:
        return self.status not in ("deauthorized", "lost", "failed")


def _one(
    manager: TokenManager,
    listed: TokenSet,
    *,
    force: bool,
    margin: float,
    limiter: ModeLimiter,
) -> RefreshOutcome:
    account, livemode = listed.key

    def outcome(status: Status, detail: str = "", tokens: TokenSet | None = None) -> RefreshOutcome:
        return RefreshOutcome(account, livemode, status, detail, tokens)

    state = manager.state(listed)
    if state == "deauthorized":
        return outcome("deauthorized", "Stripe refused this set before: authorize the app again.")
    if state == "lost":
        return outcome("lost", "Token rotated, response lost: authorize the app again.")
    if not force and not manager.is_due(listed, margin) and state == "ok":
        return outcome("fresh")
    for attempt in range(RETRIES_ON_429 + 1):
        try:
            with manager.store.locked(account, livemode, 0.0) as slot:
                current = slot.load()
                if current is not None and current.refresh_token != listed.refresh_token:
                    return outcome("done elsewhere", "another worker refreshed it", current)
                new = manager.refresh_locked(
                    slot, listed.key, force=force, margin=margin, limiter=limiter
                )
        except TokenLockTimeoutError:
            return outcome("busy", "another refresh of this set was running; it does this one")
        except TokenRateLimitError as exc:
            if attempt == RETRIES_ON_429:
                return outcome("failed", str(exc))
            time.sleep(exc.retry_after if exc.retry_after is not None else 1.0 + attempt)
            continue
        except RefreshResponseLostError as exc:
            return outcome("lost", str(exc))
        except AuthorizeAgainError as exc:
            return outcome("deauthorized", str(exc))
        except StripeOAuthNBError as exc:
            return outcome("failed", str(exc))
        if new.refresh_token == listed.refresh_token:
            return outcome("fresh", tokens=new)
        return outcome("refreshed", tokens=new)
    return outcome("failed", "rate limited")  # pragma: no cover - the loop always returns


def refresh_all(
    manager: TokenManager,
    *,
    force: bool = False,
    margin: float = DEFAULT_MARGIN,
    workers: int = 16,
    rates: dict[str, float] | None = None,
    keys: Sequence[tuple[str, bool]] | None = None,
    progress: Callable[[RefreshOutcome], None] | None = None,
) -> list[RefreshOutcome]:
    """Refresh the store's sets (``keys``: only these), ``workers`` at once; see the module doc.

    Outcomes come back in the store's order; ``progress`` is called as each one is known.
    """
    listed = manager.all()
    if keys is not None:
        wanted = {store_key(*key) for key in keys}
        listed = [tokens for tokens in listed if store_key(*tokens.key) in wanted]
    # the process's one limiter (a sync's refreshes wait on it too), unless rates are given
    limiter = ModeLimiter(rates) if rates is not None else manager.limiter
    done = threading.Lock()

    def run(tokens: TokenSet) -> RefreshOutcome:
        result = _one(manager, tokens, force=force, margin=margin, limiter=limiter)
        if progress is not None:
            with done:
                progress(result)
        return result

    if not listed:
        return []
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(listed)))) as pool:
        return list(pool.map(run, listed))
