"""Check that the access token works, and say so in words a person can act on.

:func:`validate` makes the two calls of the seed's last step: ``GET /v1/account`` (which account
installed the app) and Stripe's own check ``GET /v1/customers?limit=1`` (needs
``customer_read``). Each call is recorded, failures included, in a :class:`ValidationReport`:
account id and name, mode, which calls worked, and for a 403 the permission the manifest lacks.
Nothing in a report shows a secret.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .._errors import (
    AuthenticationError,
    PermissionDeniedError,
    StripeAPIError,
    StripeOAuthNBError,
    TokenError,
)
from .._http import deadline as total_deadline
from .._masking import mask_text
from .._settings import Mode
from ._client import ApiClient

__all__ = ["VALIDATE_DEADLINE", "CheckResult", "ValidationReport", "validate"]

#: Seconds :func:`validate` may take in all (both calls, retries and token refresh included).
VALIDATE_DEADLINE = 60.0

#: The calls validation makes: (label, path, params).
CHECKS: tuple[tuple[str, str, dict[str, str | int]], ...] = (
    ("account", "/v1/account", {}),
    ("customers", "/v1/customers", {"limit": 1}),
)


@dataclass(frozen=True)
class CheckResult:
    """One sample call and how it went."""

    name: str
    call: str
    ok: bool
    status: int | None = None
    detail: str = ""
    permission: str | None = None
    error: str | None = None

    def line(self) -> str:
        mark = "ok  " if self.ok else "FAIL"
        status = f" ({self.status})" if self.status else ""
        return f"  [{mark}] {self.call}{status}: {self.detail}"


@dataclass(frozen=True)
class ValidationReport:
    """What :func:`validate` found: read ``ok`` and show ``summary()``."""

    base_url: str
    mode: Mode | None
    account_id: str | None = None
    account_name: str | None = None
    checks: tuple[CheckResult, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(check.ok for check in self.checks)

    @property
    def missing_permissions(self) -> list[str]:
        return sorted({c.permission for c in self.checks if c.permission})

    def summary(self) -> str:
        """A few lines for a person: verdict, account, mode, each call, what to do next."""
        verdict = "The access token works." if self.ok else "Validation FAILED."
        name = f" ({self.account_name})" if self.account_name else ""
        lines = [
            verdict,
            f"  account: {self.account_id or 'unknown'}{name}",
            f"  mode:    {self.mode or 'unknown'}",
            f"  API:     {self.base_url}",
            *(check.line() for check in self.checks),
        ]
        missing = self.missing_permissions
        if missing:
            lines.append(
                "Missing permission(s): "
                + ", ".join(missing)
                + ". Add them to stripe-app.json, upload it (`stripe apps upload`; with the "
                "sandbox, register it again) and install the app again."
            )
        auth_failed = [c for c in self.checks if c.status == 401]
        if auth_failed:
            lines.append(
                "The token was refused: refresh it (`stripe-oauth-nb tokens refresh`) or "
                "install the app again."
            )
        other = [c for c in self.checks if not c.ok and c.status not in (401, 403)]
        if other and not auth_failed:
            lines.append(f"Next: {other[0].error or 'see the failed call above.'}")
        return mask_text("\n".join(lines))

    def __str__(self) -> str:
        return self.summary()


def _account_name(account: dict[str, Any]) -> str | None:
    settings = account.get("settings")
    dashboard = settings.get("dashboard") if isinstance(settings, dict) else None
    if isinstance(dashboard, dict) and dashboard.get("display_name"):
        return str(dashboard["display_name"])
    profile = account.get("business_profile")
    if isinstance(profile, dict) and profile.get("name"):
        return str(profile["name"])
    email = account.get("email")
    return str(email) if email else None


def _failed(name: str, call: str, exc: StripeOAuthNBError) -> CheckResult:
    message = mask_text(str(exc))
    if isinstance(exc, PermissionDeniedError):
        what = f"needs the '{exc.permission}' permission" if exc.permission else "forbidden"
        return CheckResult(name, call, False, 403, what, exc.permission, message)
    if isinstance(exc, AuthenticationError):
        return CheckResult(name, call, False, 401, f"token refused ({exc.code})", None, message)
    if isinstance(exc, StripeAPIError):
        return CheckResult(name, call, False, exc.status, exc.code or "error", None, message)
    if isinstance(exc, TokenError):
        return CheckResult(name, call, False, None, "no usable access token", None, message)
    return CheckResult(name, call, False, None, type(exc).__name__, None, message)


def validate(client: ApiClient, *, deadline: float = VALIDATE_DEADLINE) -> ValidationReport:
    """Make the sample calls with ``client`` and report on each (never raises for API errors).

    ``deadline``: seconds the whole validation may take; a call still running then fails (and is
    reported) as a network error, however slowly the server keeps sending.
    """
    with total_deadline(deadline):
        return _validate(client)


def _validate(client: ApiClient) -> ValidationReport:
    results: list[CheckResult] = []
    account_id: str | None = None
    account_name: str | None = None
    mode: Mode | None = client.mode
    for name, path, params in CHECKS:
        query = "&".join(f"{k}={v}" for k, v in params.items())
        call = f"GET {path}?{query}" if query else f"GET {path}"
        try:
            body = client.get(path, params or None)
        except TokenError as exc:  # no usable token at all: the other calls cannot do better
            results.append(_failed(name, call, exc))
            break
        except StripeOAuthNBError as exc:
            results.append(_failed(name, call, exc))
            continue
        if name == "account":
            account_id = str(body.get("id") or "") or None
            account_name = _account_name(body)
            if isinstance(body.get("livemode"), bool):
                mode = "live" if body["livemode"] else "test"
            detail = f"account {account_id}"
        else:
            data = body.get("data") or []
            if data and isinstance(data[0], dict) and isinstance(data[0].get("livemode"), bool):
                mode = "live" if data[0]["livemode"] else "test"
            more = " and more" if body.get("has_more") else ""
            detail = f"{len(data)} customer(s){more} readable"
        results.append(CheckResult(name, call, True, 200, detail))
    return ValidationReport(
        base_url=client.base_url,
        mode=mode,
        account_id=account_id,
        account_name=account_name,
        checks=tuple(results),
    )
