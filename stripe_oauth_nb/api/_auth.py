"""Send the Stripe Apps access token, and keep it fresh: refreshed before it expires.

:class:`TokenAuth` is an ``httpx.Auth``: its ``auth_flow`` generator sets
``Authorization: Bearer <access token>``, refreshes the token through a :class:`TokenSource`
shortly before it expires, and, when Stripe still answers 401 ``api_key_expired`` (clocks
disagree, or another process rotated the pair), refreshes once and sends the request once more.

"Fresh" is the token manager's rule (:meth:`TokenSet.is_due`): more than ``margin`` seconds
left on the access token, and more than :data:`REFRESH_WARNING_WINDOW` on the refresh token, so
a connection in daily use also rolls its refresh token before the year ends.

Refreshing is single-flight: the token in use is kept in memory, and when several requests find
it stale together only the first one asks the source; the others wait for it and reuse its
result. The stale token is passed to ``refresh(stale_access_token=...)``, so a source that already
holds a newer token (refreshed by another thread or process) returns it without a request.
The common path (a fresh cached token) takes no lock.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Generator
from typing import Any, Protocol

from .._http import httpx, stripe_error
from .._masking import Secret
from .._settings import DEFAULT_MARGIN, REFRESH_WARNING_WINDOW
from .._tokenset import TokenSet

__all__ = [
    "TokenAuth",
    "TokenSource",
    "error_fields",
    "is_expired_key_response",
]


class TokenSource(Protocol):
    """What :class:`TokenAuth` needs from a token manager (``stripe_oauth_nb.tokens``)."""

    def get(self, account_id: str | None = None, livemode: bool | None = None) -> TokenSet:
        """The stored tokens of (account, mode), without refreshing them."""
        ...

    def refresh(
        self,
        account_id: str | None = None,
        livemode: bool | None = None,
        *,
        force: bool = False,
        stale_access_token: Secret | None = None,
    ) -> TokenSet:
        """New tokens; if the store already holds another access token than ``stale_access_token``,
        that stored set, without a request."""
        ...


def error_fields(response: httpx.Response) -> dict[str, Any]:
    """The ``error`` object of a Stripe error answer (``code``, ``message``...), or ``{}``.

    The response body must have been read; parsed by :func:`~stripe_oauth_nb._http.stripe_error`.
    """
    return stripe_error(response.content)


def is_expired_key_response(response: httpx.Response) -> bool:
    """True for Stripe's 401 ``api_key_expired`` (the response body must have been read)."""
    return response.status_code == 401 and error_fields(response).get("code") == "api_key_expired"


class TokenAuth(httpx.Auth):
    """Bearer auth with an access token that refreshes itself. Thread-safe; sync clients only.

    ``account_id``/``livemode`` pick the stored pair (None: the source's default). ``clock``
    must agree with the clock that stamped the tokens' ``obtained_at`` (default ``time.time``).
    """

    requires_response_body = True

    def __init__(
        self,
        source: TokenSource,
        account_id: str | None = None,
        livemode: bool | None = None,
        *,
        margin: float = DEFAULT_MARGIN,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._source = source
        self.account_id = account_id
        self.livemode = livemode
        self.margin = margin
        self._clock = clock
        self._lock = threading.Lock()
        self._tokens: TokenSet | None = None
        #: How many times this auth asked the source for new tokens (for people and tests).
        self.refreshes = 0

    @property
    def tokens(self) -> TokenSet:
        """The token set in use (loaded from the source on first use)."""
        current = self._tokens
        if current is None:
            with self._lock:
                if self._tokens is None:
                    self._tokens = self._source.get(self.account_id, self.livemode)
                current = self._tokens
        return current

    def _is_fresh(self, tokens: TokenSet) -> bool:
        return not tokens.is_due(self._clock(), self.margin, REFRESH_WARNING_WINDOW)

    def access_token(self) -> Secret:
        """A token with more than ``margin`` seconds left (and a refresh token outside its
        last 30 days), refreshed first if needed."""
        current = self._tokens
        if current is not None and self._is_fresh(current):
            return current.access_token
        with self._lock:
            current = self._tokens
            if current is None:
                current = self._tokens = self._source.get(self.account_id, self.livemode)
            if self._is_fresh(current):
                return current.access_token
            return self._refresh_locked(current.access_token)

    def renew(self, stale: Secret) -> Secret:
        """Replace ``stale`` after Stripe refused it; a no-op if another caller already did."""
        with self._lock:
            current = self._tokens
            if current is not None and current.access_token != stale:
                return current.access_token
            return self._refresh_locked(stale)

    def _refresh_locked(self, stale: Secret) -> Secret:
        fresh = self._source.refresh(self.account_id, self.livemode, stale_access_token=stale)
        self.refreshes += 1
        self._tokens = fresh
        return fresh.access_token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        token = self.access_token()
        request.headers["Authorization"] = f"Bearer {token.reveal()}"
        response = yield request
        if is_expired_key_response(response):
            token = self.renew(token)
            request.headers["Authorization"] = f"Bearer {token.reveal()}"
            yield request

    def __repr__(self) -> str:
        current = self._tokens
        shown = current.access_token.masked if current is not None else "<not loaded>"
        return f"TokenAuth(account_id={self.account_id!r}, access_token={shown!r})"
