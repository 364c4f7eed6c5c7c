"""Stripe's token endpoint: exchange a code, refresh a token set. One request each, never retried.

``POST {api_base}/v1/oauth/token``, form-encoded, HTTP Basic with the app developer's secret key
of the matching mode as user name (stripe-apps-oauth.md §4). Mode checks happen before any
request. A code is marked as sent in the :class:`~stripe_oauth_nb.oauth._attempts.AttemptLog` before
the POST, so it leaves this machine at most once, also across re-run cells and processes.

What can go wrong, and what is raised:

=====================================  =========================================================
exchange: ``invalid_grant``            :class:`CodeAlreadyUsedError` (used, expired, not yours)
refresh: ``invalid_grant``             :class:`AuthorizeAgainError`
refresh: connection lost after sending :class:`RefreshResponseLostError` (it may have rotated)
refresh: no whole answer by deadline   :class:`RefreshResponseLostError` (the same: it was sent)
nothing could be sent (connect)        :class:`NetworkError`
exchange: timeout or connection lost   :class:`NetworkError` (the code counts as used)
401 (the secret key)                   :class:`ConfigError`
429                                    :class:`TokenRateLimitError` (an exchange: authorize again)
other OAuth errors, 5xx                :class:`TokenError`
mode mismatch                          :class:`ModeMismatchError`, before any request
=====================================  =========================================================

**Deadline.** Each request has a total deadline (``deadline``, default
:data:`DEFAULT_DEADLINE`), not only per-read timeouts: a server that trickles one byte a second
would pass every read timeout forever. A watchdog timer shuts the request's socket down when the
deadline passes (the socket is taken from HTTPX's ``trace`` extension as the connection opens;
the client's own connections are not kept alive, so every request opens one). The deadline is
shorter than the refresh lock's wait, so a stuck server never makes other refreshers time out.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from .._errors import (
    AuthorizeAgainError,
    CodeAlreadyUsedError,
    ConfigError,
    ModeMismatchError,
    NetworkError,
    RefreshResponseLostError,
    TokenError,
    TokenRateLimitError,
)
from .._http import DEFAULT_TIMEOUT, httpx, stripe_error
from .._masking import Secret, clean_server_text, mask
from .._settings import Mode, Settings, key_mode
from .._tokenset import TokenSet
from ..oauth._attempts import Attempt, AttemptLog, AuthorizationCode

__all__ = ["DEFAULT_DEADLINE", "TOKEN_PATH", "TokenClient"]

#: The most one token request may take, start to finish (seconds); shorter than the refresh
#: lock's wait (``_manager.DEFAULT_LOCK_TIMEOUT``), so waiters never time out behind it.
DEFAULT_DEADLINE = 30.0

TOKEN_PATH = "/v1/oauth/token"  # noqa: S105 (a URL path, not a password)
#: How much of Stripe's error text a message quotes (characters).
_MAX_DESCRIPTION = 300
#: Transport errors raised before a single byte of the request left this machine.
_NOT_SENT: tuple[type[Exception], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.UnsupportedProtocol,
)
_REQUIRED = ("access_token", "refresh_token", "stripe_user_id", "livemode")


def _env_name(mode: Mode) -> str:
    return f"STRIPE_SECRET_KEY_{mode.upper()}"


class _Watchdog:
    """Shuts a request's socket down when its total deadline passes (see the module doc)."""

    def __init__(self, seconds: float) -> None:
        self.fired = False
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()
        self._timer = threading.Timer(max(seconds, 0.0), self._fire)
        self._timer.daemon = True
        self._timer.start()

    def trace(self, name: str, info: dict[str, Any]) -> None:
        if name != "connection.connect_tcp.complete":
            return
        stream = info.get("return_value")
        sock = stream.get_extra_info("socket") if stream is not None else None
        with self._lock:
            self._sock = sock
            if self.fired:
                self._shutdown()

    def _fire(self) -> None:
        with self._lock:
            self.fired = True
            self._shutdown()

    def _shutdown(self) -> None:
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.shutdown(socket.SHUT_RDWR)

    def cancel(self) -> None:
        self._timer.cancel()


class TokenClient:
    """Talks to ``{settings.api_base}/v1/oauth/token`` with explicit timeouts.

    ``http``: an ``httpx.Client`` to reuse (it is not closed here); by default one is made on
    first use with :data:`~stripe_oauth_nb._http.DEFAULT_TIMEOUT`.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        http: httpx.Client | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        clock: Callable[[], float] = time.time,
        deadline: float = DEFAULT_DEADLINE,
    ) -> None:
        self.settings = settings
        self.timeout = timeout
        self.deadline = deadline
        self._clock = clock
        self._http = http
        self._owns_http = http is None

    @property
    def url(self) -> str:
        return self.settings.api_base.rstrip("/") + TOKEN_PATH

    def _client(self) -> httpx.Client:
        if self._http is None:  # no keep-alive: each request's socket is its own (the deadline)
            self._http = httpx.Client(
                timeout=self.timeout, limits=httpx.Limits(max_keepalive_connections=0)
            )
        return self._http

    def close(self) -> None:
        if self._owns_http and self._http is not None:
            self._http.close()
            self._http = None

    def __enter__(self) -> TokenClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- local checks (before any request) -----------------------------------------------
    def secret_key(self, mode: Mode) -> Secret:
        """The developer's secret key for ``mode`` (``ModeCredentials`` already refused any
        key that is not an ``sk_<mode>_`` key); a :class:`ConfigError` when none is set."""
        return self.settings.credentials(mode).require_secret_key()

    def check_attempt(self, attempt: Attempt) -> Secret:
        """Refuse a code whose attempt mixes modes; return the key that will exchange it."""
        key = self.secret_key(attempt.mode)
        other: Mode = "live" if attempt.mode == "test" else "test"
        mine = self.settings.credentials(attempt.mode).client_id
        theirs = self.settings.credentials(other).client_id
        if theirs and attempt.client_id == theirs and attempt.client_id != mine:
            raise ModeMismatchError(
                f"This code came from an install link for the {other}-mode client id "
                f"{attempt.client_id}, but its attempt says {attempt.mode} mode. Build a new "
                f"install link in one mode and authorize again."
            )
        return key

    def check_tokens(self, tokens: TokenSet) -> Secret:
        """Refuse a token set whose access token and livemode disagree; return the key to use."""
        found = key_mode(tokens.access_token.reveal())
        if found is not None and found != tokens.mode:
            raise ModeMismatchError(
                f"The stored tokens of {tokens.account_id} say {tokens.mode} mode but the access "
                f"token {tokens.access_token.masked} is a {found}-mode token. The store is "
                "inconsistent: delete this entry and authorize the app again."
            )
        return self.secret_key(tokens.mode)

    # -- requests ------------------------------------------------------------------------
    def _post(self, key: Secret, form: dict[str, str]) -> tuple[httpx.Response | None, str]:
        """One POST within the deadline: (response, "") or (None, why it has no answer).

        Raises the transport errors of :data:`_NOT_SENT` (nothing left this machine).
        """
        watchdog = _Watchdog(self.deadline)
        try:
            response = self._client().post(
                self.url,
                data=form,
                auth=(key.reveal(), ""),
                headers={"Accept": "application/json"},
                timeout=self.timeout,
                extensions={"trace": watchdog.trace},
            )
        except _NOT_SENT:
            if watchdog.fired:
                return None, f"no connection within the {self.deadline:g} s deadline"
            raise
        except httpx.TransportError as exc:
            if watchdog.fired:
                return None, f"no whole answer within the {self.deadline:g} s deadline"
            return None, type(exc).__name__
        finally:
            watchdog.cancel()
        return response, ""

    def exchange(self, code: AuthorizationCode, attempts: AttemptLog) -> TokenSet:
        """Trade ``code`` for a token set: checks, mark the code as sent, then one POST.

        Raises :class:`CodeAlreadyUsedError` without a request when ``attempts`` says the code
        was already sent (another cell, another run).
        """
        attempt = code.attempt
        key = self.check_attempt(attempt)
        attempts.mark_code_sent(attempt.state.reveal(), code.code)
        form = {"grant_type": "authorization_code", "code": code.code.reveal()}
        try:
            response, why = self._post(key, form)
        except httpx.TransportError as exc:
            response, why = None, type(exc).__name__
        if response is None:
            raise NetworkError(
                f"The token endpoint {self.url} did not answer the code exchange ({why}). A "
                "code is never sent twice (a second send would revoke its tokens), so open the "
                "install link again for a new code."
            )
        body = self._answer(response, attempt.mode, grant="authorization_code")
        return self._tokens(body, attempt.mode)

    def refresh(self, tokens: TokenSet) -> TokenSet:
        """Rotate ``tokens``: one POST with its refresh token. The old refresh token dies."""
        key = self.check_tokens(tokens)
        form = {"grant_type": "refresh_token", "refresh_token": tokens.refresh_token.reveal()}
        try:
            response, why = self._post(key, form)
        except _NOT_SENT as exc:
            raise NetworkError(
                f"The token endpoint {self.url} could not be reached ({type(exc).__name__}); "
                "nothing was sent and the stored tokens still work. Check the network and "
                "try again."
            ) from None
        if response is None:
            raise RefreshResponseLostError(
                f"Token rotated, response lost: the refresh of {tokens.account_id} "
                f"({tokens.mode} mode) was sent but its answer never arrived ({why}). Stripe "
                "has most likely rotated the refresh token, so the stored one no longer works: "
                "authorize the app again (open a new install link)."
            )
        try:
            body = self._answer(response, tokens.mode, grant="refresh_token")
        except TokenError as exc:
            if response.status_code == 200:  # answered, but not readable: the answer is lost
                raise RefreshResponseLostError(
                    f"Token rotated, response lost: {exc} Authorize the app again."
                ) from None
            raise
        new = self._tokens(body, tokens.mode)
        if new.key != tokens.key:
            raise TokenError(
                f"The refresh of {tokens.account_id} ({tokens.mode}) answered for "
                f"{new.account_id} ({new.mode}). Check STRIPE_API_BASE points at Stripe."
            )
        return new

    # -- answers -------------------------------------------------------------------------
    def _answer(self, response: httpx.Response, mode: Mode, *, grant: str) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError:
            body = None
        status = response.status_code
        if status == 200:
            if not isinstance(body, dict) or any(name not in body for name in _REQUIRED):
                raise TokenError(
                    f"The token endpoint {self.url} answered 200 without a token set. Check "
                    "that STRIPE_API_BASE points at Stripe (or the sandbox)."
                )
            return body
        fields = stripe_error(response.content)  # Stripe's API shape or the OAuth shape
        error = fields.get("code") or fields.get("type")
        description = clean_server_text(fields.get("message") or "", _MAX_DESCRIPTION)
        said = f" Stripe said: {description}" if description else ""
        if status == 401:
            key = self.settings.credentials(mode).secret_key
            raise ConfigError(
                f"The token endpoint refused the {mode}-mode secret key "
                f"{key.masked if key else mask(None)} (HTTP 401).{said} Check "
                f"{_env_name(mode)} in your .env: it must be the app developer's sk_{mode}_ key "
                "of the account that owns the app (Dashboard > Developers > API keys)."
            )
        if error == "invalid_grant":
            if grant == "authorization_code":
                raise CodeAlreadyUsedError(
                    "This code was already used or has expired (codes work once, for 5 "
                    f"minutes): open the install link again.{said}"
                )
            raise AuthorizeAgainError(
                "The stored refresh token was refused (revoked, expired, or already used): "
                f"authorize the app again (open a new install link).{said}"
            )
        if status == 429:
            retry_after = _retry_after(response)
            if grant == "authorization_code":
                raise TokenRateLimitError(
                    "The token endpoint is rate limiting (HTTP 429), so this code was not "
                    "exchanged. A code is never sent twice: wait a minute, then open the install "
                    f"link again to authorize again and get a new code.{said}",
                    retry_after=retry_after,
                )
            raise TokenRateLimitError(
                "The token endpoint is rate limiting (HTTP 429); the refresh was not processed "
                f"and the stored tokens still work. Wait a minute and try again.{said}",
                retry_after=retry_after,
            )
        if status >= 500:
            what = (
                "The code was sent once and is not sent again: open the install link again."
                if grant == "authorization_code"
                else "Try the refresh again in a minute; if it then says the token was rotated, "
                "authorize the app again."
            )
            raise TokenError(f"The token endpoint failed (HTTP {status}). {what}{said}")
        raise TokenError(
            f"The token endpoint refused the request (HTTP {status}, "
            f"{clean_server_text(error, 100) if error else 'no error code'})."
            f"{said} This is a bug or a configuration problem: check the settings and report it."
        )

    def _tokens(self, body: dict[str, Any], mode: Mode) -> TokenSet:
        tokens = TokenSet.from_response(body, obtained_at=self._clock())
        if tokens.mode != mode or key_mode(tokens.access_token.reveal()) not in (mode, None):
            raise ModeMismatchError(
                f"The token endpoint answered with {tokens.mode}-mode tokens for a {mode}-mode "
                f"request. Check that {_env_name(mode)} and the client ids are of one mode."
            )
        return tokens


def _retry_after(response: httpx.Response) -> float | None:
    try:
        value = float(response.headers.get("Retry-After", ""))
    except ValueError:
        return None
    return value if 0 <= value <= 600 else None
