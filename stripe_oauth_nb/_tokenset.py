"""The tokens one installing account gave this app, with their lifetimes."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from ._masking import Secret
from ._modes import Mode

__all__ = ["ACCESS_TOKEN_LIFETIME", "REFRESH_TOKEN_LIFETIME", "TokenSet", "format_remaining"]

#: Stripe's access tokens live one hour; the token endpoint sends no ``expires_in``.
ACCESS_TOKEN_LIFETIME = 3600.0
#: Refresh tokens live one year from the moment they were issued (or last rolled).
REFRESH_TOKEN_LIFETIME = 365 * 24 * 3600.0


#: Stored times must be before this (the year 5138): anything later is damage, not a date.
_LATEST_TIMESTAMP = 1e11
#: The longest text field a stored set may hold (Stripe's tokens are about 100 characters).
_MAX_FIELD = 4096


def _text(
    data: dict[str, Any], name: str, default: str | None = None, *, empty: bool = False
) -> str:
    value = data.get(name, default) if default is not None else data[name]
    if not isinstance(value, str):
        raise TypeError(f"{name} is not text")
    if (not value and not empty) or len(value) > _MAX_FIELD or not value.isprintable():
        raise ValueError(f"{name} is not a value the token endpoint gives")
    return value


@dataclass(frozen=True)
class TokenSet:
    """Access and refresh token of one (account, mode), as the token endpoint returned them."""

    access_token: Secret
    refresh_token: Secret
    account_id: str
    livemode: bool
    publishable_key: str = ""
    scope: str = "stripe_apps"
    token_type: str = "bearer"  # noqa: S105 - the OAuth token type, not a secret
    obtained_at: float = 0.0

    @property
    def mode(self) -> Mode:
        return "live" if self.livemode else "test"

    @property
    def key(self) -> tuple[str, bool]:
        """The store key: (account id, livemode)."""
        return (self.account_id, self.livemode)

    @property
    def access_expires_at(self) -> float:
        return self.obtained_at + ACCESS_TOKEN_LIFETIME

    @property
    def refresh_expires_at(self) -> float:
        return self.obtained_at + REFRESH_TOKEN_LIFETIME

    def access_expires_in(self, now: float | None = None) -> float:
        return self.access_expires_at - (time.time() if now is None else now)

    def refresh_expires_in(self, now: float | None = None) -> float:
        return self.refresh_expires_at - (time.time() if now is None else now)

    def is_due(self, now: float, margin: float, refresh_window: float) -> bool:
        """Whether these tokens should be refreshed at ``now``: the access token has less than
        ``margin`` seconds left, or the refresh token less than ``refresh_window`` of its year
        (a refresh rolls it for another year). The one freshness rule: the token manager and
        ``TokenAuth`` both ask it."""
        return self.access_expires_in(now) < margin or self.refresh_expires_in(now) < refresh_window

    @classmethod
    def from_response(cls, body: dict[str, Any], *, obtained_at: float | None = None) -> TokenSet:
        """Build from the token endpoint's JSON answer."""
        return cls(
            access_token=Secret(body["access_token"]),
            refresh_token=Secret(body["refresh_token"]),
            account_id=body["stripe_user_id"],
            livemode=bool(body["livemode"]),
            publishable_key=body.get("stripe_publishable_key", ""),
            scope=body.get("scope", "stripe_apps"),
            token_type=body.get("token_type", "bearer"),
            obtained_at=time.time() if obtained_at is None else obtained_at,
        )

    def to_json(self) -> dict[str, Any]:
        """The stored form (holds the secrets: only for the token store)."""
        return {
            "access_token": self.access_token.reveal(),
            "refresh_token": self.refresh_token.reveal(),
            "account_id": self.account_id,
            "livemode": self.livemode,
            "publishable_key": self.publishable_key,
            "scope": self.scope,
            "token_type": self.token_type,
            "obtained_at": self.obtained_at,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TokenSet:
        """Build from the stored form, checking every field's type: a ``ValueError`` (or
        ``KeyError``/``TypeError``) names the first field that is not what the store writes."""
        if not isinstance(data, dict):
            raise TypeError("a token set is not a JSON object")
        obtained_at = data["obtained_at"]
        if isinstance(obtained_at, bool) or not isinstance(obtained_at, int | float):
            raise TypeError("obtained_at is not a number")
        obtained = float(obtained_at)
        if not 0.0 <= obtained < _LATEST_TIMESTAMP:
            raise ValueError("obtained_at is not a time")
        livemode = data["livemode"]
        if not isinstance(livemode, bool):
            raise TypeError("livemode is not true or false")
        return cls(
            access_token=Secret(_text(data, "access_token")),
            refresh_token=Secret(_text(data, "refresh_token")),
            account_id=_text(data, "account_id"),
            livemode=livemode,
            publishable_key=_text(data, "publishable_key", "", empty=True),
            scope=_text(data, "scope", "stripe_apps", empty=True),
            token_type=_text(data, "token_type", "bearer", empty=True),
            obtained_at=obtained,
        )

    def __repr__(self) -> str:
        return (
            f"TokenSet(account_id={self.account_id!r}, mode={self.mode!r}, "
            f"access_token={self.access_token.masked!r}, "
            f"refresh_token={self.refresh_token.masked!r})"
        )

    __str__ = __repr__


def format_remaining(seconds: float, *, with_seconds: bool = False) -> str:
    """Time left for people: ``"364d 23h"``, ``"0h 59m"`` (``"59m 59s"`` with seconds)."""
    if seconds <= 0:
        return "expired"
    days, rest = divmod(round(seconds), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if not with_seconds:
        return f"{hours}h {minutes:02d}m"
    return f"{hours}h {minutes:02d}m {secs:02d}s" if hours else f"{minutes}m {secs:02d}s"
