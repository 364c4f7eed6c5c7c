"""Codes, grants and tokens: Stripe's rules for the OAuth token endpoint and the API's keys.

Split from the state because these are the rules a client is tested against, and the only part
that holds secrets: a single-use code (5 minutes), a grant per code, access tokens (1 hour) and
rotating refresh tokens (1 year, dead at once when used, every token of a code revoked when the
code is replayed). :meth:`Grants.authenticate` says who an API key speaks for. It reads the
directory (apps, accounts, the developer's keys) and the clock, and counts what it issues.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from .._app_record import RegisteredApp
from ._accounts import (
    Authorization,
    Directory,
    invalid_key,
    mint_secret,
    mint_token,
    no_key,
)
from ._clock import SandboxClock
from ._failures import APIFailure, ConsentFailure, OAuthFailure, stripe_mask
from ._faults import Traffic
from ._permissions import grants, required_permission
from ._rules import ACCESS_TOKEN_LIFETIME, CODE_LIFETIME, REFRESH_TOKEN_LIFETIME, Mode
from ._world import Account

__all__ = ["Grants", "Principal"]


@dataclass(frozen=True)
class Principal:
    """Who an API key or access token speaks for. ``permissions``: everything the install's
    permissions allow (implied ones included); None means all (a secret key)."""

    key: str
    account: Account
    mode: Mode
    permissions: frozenset[str] | None

    @property
    def livemode(self) -> bool:
        return self.mode == "live"


@dataclass
class _Code:
    app_id: str
    mode: Mode
    account_id: str
    redirect_uri: str
    created_at: float
    grant_id: str | None = None


@dataclass
class _Grant:
    id: str
    app_id: str
    mode: Mode
    account_id: str
    permissions: frozenset[str]
    revoked: bool = False


@dataclass
class _Access:
    grant_id: str
    expires_at: float


@dataclass
class _Refresh:
    grant_id: str
    expires_at: float
    rotated: bool = False


class Grants:
    """Every code, grant and token the sandbox issued, behind the state's one lock."""

    def __init__(
        self,
        lock: threading.RLock,
        clock: SandboxClock,
        directory: Directory,
        traffic: Traffic,
    ) -> None:
        self._lock = lock
        self._clock = clock
        self._directory = directory
        self._traffic = traffic
        self.reset()

    def reset(self) -> None:
        """Forget every code, grant and token (called under the lock)."""
        self._codes: dict[str, _Code] = {}
        self._grants: dict[str, _Grant] = {}
        self._access: dict[str, _Access] = {}
        self._refresh: dict[str, _Refresh] = {}

    def issue_code(self, authorization: Authorization, account_id: str | None = None) -> str:
        """The user pressed Accept: a single-use ``ac_`` code for ``account_id``."""
        with self._lock:
            account_id = account_id or self._directory.default_account_id
            if account_id not in self._directory.accounts:
                raise ConsentFailure(f"Unknown installing account {account_id!r}.")
            code = mint_secret("ac_")
            self._codes[code] = _Code(
                app_id=authorization.app.id,
                mode=authorization.mode,
                account_id=account_id,
                redirect_uri=authorization.redirect_uri,
                created_at=self._clock.now(),
            )
            return code

    def exchange_code(self, key: str | None, code: str) -> dict[str, Any]:
        """``grant_type=authorization_code``: Stripe's rules, then a fresh token pair."""
        with self._lock:
            key_mode = self._directory.developer_key_mode(key)
            record = self._codes.get(code)
            if record is None:
                raise OAuthFailure(
                    "invalid_grant", f"Authorization code does not exist: {stripe_mask(code)}"
                )
            if record.mode != key_mode:
                raise OAuthFailure(
                    "invalid_grant", _mode_mismatch("authorization code", record.mode, key_mode)
                )
            if record.grant_id is not None:
                self._revoke(record.grant_id)
                raise OAuthFailure(
                    "invalid_grant",
                    f"Authorization code has already been used: {stripe_mask(code)}. Every token "
                    "issued from it has been revoked; authorize the app again.",
                )
            if self._clock.now() >= record.created_at + CODE_LIFETIME:
                raise OAuthFailure(
                    "invalid_grant",
                    f"Authorization code expired: {stripe_mask(code)}. Codes are valid for 5 "
                    "minutes; authorize the app again.",
                )
            app = self._directory.app(record.app_id)
            grant = _Grant(
                id=mint_token("grant_", 16),
                app_id=app.id,
                mode=record.mode,
                account_id=record.account_id,
                permissions=frozenset(app.permissions),
            )
            self._grants[grant.id] = grant
            record.grant_id = grant.id
            self._traffic.count_issued("authorization_code")
            return self._issue_pair(grant)

    def refresh(self, key: str | None, refresh_token: str) -> dict[str, Any]:
        """``grant_type=refresh_token``: rotate (the old token dies at once, no grace)."""
        with self._lock:
            key_mode = self._directory.developer_key_mode(key)
            record = self._refresh.get(refresh_token)
            unknown = OAuthFailure(
                "invalid_grant", f"Invalid refresh token: {stripe_mask(refresh_token)}"
            )
            if record is None:
                raise unknown
            grant = self._grants[record.grant_id]
            if grant.mode != key_mode:
                raise OAuthFailure(
                    "invalid_grant", _mode_mismatch("refresh token", grant.mode, key_mode)
                )
            if grant.revoked:
                raise unknown
            if record.rotated:
                raise OAuthFailure(
                    "invalid_grant",
                    f"Refresh token has already been used: {stripe_mask(refresh_token)}. Refresh "
                    "tokens rotate on every use; use the newest one or authorize the app again.",
                )
            if self._clock.now() >= record.expires_at:
                raise OAuthFailure(
                    "invalid_grant",
                    f"Refresh token expired: {stripe_mask(refresh_token)}. "
                    "Authorize the app again.",
                )
            record.rotated = True
            self._traffic.count_issued("refresh_token")
            return self._issue_pair(grant)

    def mint_tokens(
        self, mode: Mode = "test", app: RegisteredApp | None = None, account_id: str | None = None
    ) -> dict[str, Any]:
        """Shortcut for tests and benchmarks: the token response an install would produce."""
        app = app or self._directory.demo_app
        code = self.issue_code(
            Authorization(app=app, mode=mode, redirect_uri=app.redirect_uris[0]), account_id
        )
        return self.exchange_code(self._directory.developer.secret_keys[mode], code)

    def _issue_pair(self, grant: _Grant) -> dict[str, Any]:
        now = self._clock.now()
        access = mint_secret(f"rk_{grant.mode}_", 48)
        refresh = mint_secret("rt_", 48)
        self._access[access] = _Access(grant.id, now + ACCESS_TOKEN_LIFETIME)
        self._refresh[refresh] = _Refresh(grant.id, now + REFRESH_TOKEN_LIFETIME)
        return {
            "access_token": access,
            "livemode": grant.mode == "live",
            "refresh_token": refresh,
            "scope": "stripe_apps",
            "stripe_publishable_key": self._directory.publishable_keys[
                (grant.account_id, grant.mode)
            ],
            "stripe_user_id": grant.account_id,
            "token_type": "bearer",
        }

    def _revoke(self, grant_id: str) -> None:
        self._grants[grant_id].revoked = True

    def uninstall(self, account_id: str, mode: Mode) -> int:
        """The account uninstalled the app(s) in ``mode``: every token it gave is revoked (its
        access tokens answer 401, its refresh tokens ``invalid_grant``); how many grants."""
        with self._lock:
            found = [
                g for g in self._grants.values() if g.account_id == account_id and g.mode == mode
            ]
            for grant in found:
                grant.revoked = True
            return len(found)

    def authenticate(self, key: str | None) -> Principal:
        """Resolve an API key (developer secret key or access token) or raise a 401."""
        if not key:
            raise no_key()
        with self._lock:
            mode = self._directory.key_modes.get(key)
            if mode is not None:
                return Principal(key, self._directory.developer.account, mode, None)
            access = self._access.get(key)
            if access is None:
                raise invalid_key(key)
            grant = self._grants[access.grant_id]
            if grant.revoked:
                raise invalid_key(key)
            if self._clock.now() >= access.expires_at:
                raise APIFailure(
                    401, f"Expired API Key provided: {stripe_mask(key)}", code="api_key_expired"
                )
            allowed = grants(grant.permissions)
            return Principal(key, self._directory.accounts[grant.account_id], grant.mode, allowed)

    @staticmethod
    def require(principal: Principal, resource: str) -> None:
        """403 unless the principal's install may read ``resource`` (see ``_permissions``)."""
        permission = required_permission(resource)
        if principal.permissions is None or permission in principal.permissions:
            return
        raise APIFailure(
            403,
            f"The provided key '{stripe_mask(principal.key)}' does not have the required "
            f"permissions for this endpoint on account '{principal.account.id}'. Having the "
            f"'{permission}' permission would allow this request to continue.",
        )


def _mode_mismatch(what: str, mode: Mode, key_mode: Mode) -> str:
    return (
        f"This {what} was issued in {mode} mode, but the request used a {key_mode}-mode secret "
        f"key. Use your sk_{mode}_ key for {mode}-mode codes and tokens."
    )
