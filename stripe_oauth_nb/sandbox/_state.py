"""The sandbox's world and Stripe's rules, without HTTP.

Holds the developer account (a secret key per mode), registered apps, installing accounts and
their worlds (one per account and mode, built on first use), authorization codes, grants and
tokens, the sandbox clock, injected faults, rate limits and request statistics. Every public
method takes the one lock, so the HTTP handlers (in the server thread) and in-process calls (any
thread) see consistent state; a refresh token can therefore be rotated exactly once, however many
threads race for it.

Rule outcomes a client must see are raised as :class:`OAuthFailure` (the token endpoint's
``{"error": ..., "error_description": ...}`` with 400) or :class:`APIFailure` (Stripe's
``{"error": {...}}`` shape with its status); bad control input raises
:class:`~stripe_oauth_nb._errors.SandboxError`.
"""

from __future__ import annotations

import math
import random
import secrets
import string
import threading
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Final, Literal

from .._app_record import RegisteredApp
from .._errors import SandboxError
from ._business import DAY, Business
from ._failures import APIFailure, ConsentFailure, OAuthFailure, stripe_mask
from ._limits import RateLimiter, Refusal
from ._permissions import grants, required_permission
from ._rules import (
    ACCESS_TOKEN_LIFETIME,
    CODE_LIFETIME,
    DEFAULT_CUSTOMERS,
    MODES,
    REFRESH_TOKEN_LIFETIME,
    Mode,
    is_redirect_uri,
)
from ._secrets_log import record_secret
from ._sublists import SUBLISTS
from ._world import RESOURCES, Account, LongLists, World, WorldSpec, random_id

__all__ = [
    "DEFAULT_REDIRECT_URIS",
    "FAULT_ENDPOINTS",
    "Authorization",
    "Fault",
    "Principal",
    "RegisteredApp",
    "SandboxState",
]

DEFAULT_REDIRECT_URIS: Final = ("http://127.0.0.1:8765/callback", "http://localhost:8765/callback")
DEMO_MANIFEST: Final[dict[str, Any]] = {
    "id": "com.example.sandbox-demo",
    "version": "0.0.1",
    "name": "Sandbox Demo App",
    "icon": "./icon.png",
    # An analytics app: it reads every resource the sandbox serves.
    "permissions": [
        {"permission": "customer_read", "purpose": "List your customers in the notebook."},
        {"permission": "user_email_read", "purpose": "Show who installed the app."},
        {"permission": "product_read", "purpose": "Name the products in reports."},
        {"permission": "plan_read", "purpose": "Price recurring revenue."},
        {"permission": "subscription_read", "purpose": "Compute recurring revenue."},
        {"permission": "invoice_read", "purpose": "Report billing and failed payments."},
        {"permission": "charge_read", "purpose": "Report payments and refunds."},
        {"permission": "payment_intent_read", "purpose": "Follow payments to their outcome."},
        {"permission": "balance_read", "purpose": "Reconcile fees and payouts."},
        {"permission": "payout_read", "purpose": "Reconcile payouts."},
        {"permission": "dispute_read", "purpose": "Report disputes."},
        {"permission": "event_read", "purpose": "Keep the tables up to date."},
        {"permission": "coupon_read", "purpose": "Report discounts."},
        {"permission": "promotion_code_read", "purpose": "Report which codes customers used."},
        {"permission": "tax_rate_read", "purpose": "Report tax collected."},
        {"permission": "setup_intent_read", "purpose": "Follow saved cards."},
        {"permission": "payment_method_read", "purpose": "Report payment methods."},
        {"permission": "credit_note_read", "purpose": "Report refunds of invoices."},
        {"permission": "checkout_session_read", "purpose": "Report how customers signed up."},
    ],
    "ui_extension": {"views": []},
    "distribution_type": "public",
    "stripe_api_access_type": "oauth",
}

#: ``token``, ``account``, ``authorize``, a resource (``customers``, ``charges``...) or ``*``.
FaultEndpoint = str
FaultKind = Literal["delay", "error", "rate_limit", "drop"]
#: Endpoints a ``"*"`` fault applies to (the API; not the consent page).
_EXTRA_ENDPOINTS: Final = (*(spec.name for spec in SUBLISTS), "balance")
_STAR_ENDPOINTS: Final = frozenset({"token", "account", *RESOURCES, *_EXTRA_ENDPOINTS})
FAULT_ENDPOINTS: Final = ("token", "account", *RESOURCES, *_EXTRA_ENDPOINTS, "authorize", "*")
FAULT_KINDS: Final = ("delay", "error", "rate_limit", "drop")
GRANT_TYPES: Final = ("authorization_code", "refresh_token")

_ALNUM: Final = string.ascii_letters + string.digits
#: The sample accounts the consent page offers besides the default one, and their share of
#: its customers.
SAMPLE_ACCOUNTS: Final = (("Northwind Traders", 2), ("Globex Retail", 5))
#: Accounts are older than the data they hold.
_ACCOUNT_AGE: Final = 400 * DAY


def _token(prefix: str, length: int = 32) -> str:
    """A random secret: ``prefix`` + ``length`` letters and digits (from :mod:`secrets`)."""
    return prefix + "".join(secrets.choice(_ALNUM) for _ in range(length))


def _secret(prefix: str, length: int = 32) -> str:
    """A :func:`_token` that is a credential (key, code, token): the leak test's hook sees it."""
    return record_secret(_token(prefix, length))


@dataclass(frozen=True)
class Authorization:
    """A validated authorize request: which app, in which mode, back to which URI."""

    app: RegisteredApp
    mode: Mode
    redirect_uri: str


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


@dataclass(frozen=True)
class Fault:
    """A misbehaviour for the next ``times`` requests to ``endpoint``."""

    endpoint: FaultEndpoint
    kind: FaultKind
    times: int = 1
    status: int = 500
    seconds: float = 0.0
    retry_after: int = 1

    def to_json(self) -> dict[str, Any]:
        return {
            "endpoint": self.endpoint,
            "kind": self.kind,
            "times": self.times,
            "status": self.status,
            "seconds": self.seconds,
            "retry_after": self.retry_after,
        }


@dataclass
class _Developer:
    account: Account
    secret_keys: dict[Mode, str]


class SandboxState:
    """Everything the sandbox knows, behind one lock.

    ``start``: the moment the seeded history ends (Unix seconds). Given, the clock is frozen
    there (only :meth:`advance_clock` and :meth:`simulate` move it), so the same seed and start
    give the same data and the same timestamps; None: the current time, and a running clock.
    """

    def __init__(
        self,
        *,
        customers: int = DEFAULT_CUSTOMERS,
        seed: int = 0,
        redirect_uris: tuple[str, ...] = DEFAULT_REDIRECT_URIS,
        start: float | None = None,
        rate_limit: bool = True,
        latency: float = 0.0,
        long_lists: LongLists | None = None,
    ) -> None:
        if not isinstance(customers, int) or customers < 0:
            raise SandboxError(f"customers must be a whole number, 0 or more, not {customers!r}.")
        if not isinstance(latency, int | float) or not 0 <= latency <= 60:
            raise SandboxError(f"latency must be 0 to 60 seconds, not {latency!r}.")
        if start is not None and not (isinstance(start, int | float) and math.isfinite(start)):
            raise SandboxError(f"start must be a Unix time in seconds, not {start!r}.")
        self._lock = threading.RLock()
        self._frozen = start is not None
        self.start = int(start if start is not None else time.time())
        self.seed = seed
        self.latency = float(latency)
        self.limiter = RateLimiter(enabled=rate_limit)
        # Seeded (not secret) sample data; secrets below come from `secrets`.
        self._rng = random.Random(seed)  # noqa: S311 - deterministic sample data, not secrets
        self.developer = _Developer(
            account=self._new_account("Sandbox Developer", 0),
            secret_keys={mode: _secret(f"sk_{mode}_") for mode in MODES},
        )
        self._key_modes: dict[str, Mode] = {k: m for m, k in self.developer.secret_keys.items()}
        self.accounts: dict[str, Account] = {}
        self.publishable_keys: dict[tuple[str, Mode], str] = {}
        self._customer_streams: dict[str, Any] = {}
        self._worlds: dict[tuple[str, Mode], tuple[World, Business]] = {}
        self._building: dict[tuple[str, Mode], threading.Event] = {}
        self.default_account_id = self.add_account(
            "Sandbox Installer Co", customers=customers, long_lists=long_lists
        )
        # The default account's test-mode customers continue the seed's own stream (the
        # customers every earlier release of the sandbox had).
        self._customer_streams[self.default_account_id] = self._rng.getstate()
        self._rng.seed(f"{seed}:after-the-default-account")  # nothing else draws from that stream
        for name, share in SAMPLE_ACCOUNTS:
            self.add_account(name, customers=customers // share)
        self._apps: dict[str, RegisteredApp] = {}
        self._clients: dict[str, tuple[RegisteredApp, Mode]] = {}
        self.demo_app = self.register_app({**DEMO_MANIFEST, "allowed_redirect_uris": redirect_uris})
        self._init_volatile()

    @property
    def lock(self) -> threading.RLock:
        """The one lock (re-entrant): hold it while reading a world's rows."""
        return self._lock

    def _init_volatile(self) -> None:
        self._clock_offset = 0.0
        self._business_until = self.start
        self._worlds.clear()
        self._codes: dict[str, _Code] = {}
        self._grants: dict[str, _Grant] = {}
        self._access: dict[str, _Access] = {}
        self._refresh: dict[str, _Refresh] = {}
        self._faults: list[Fault] = []
        self._requests: Counter[str] = Counter()
        self._grant_requests: Counter[str] = Counter()
        self._issued: Counter[str] = Counter()
        self.limiter.reset()

    # --- setup -------------------------------------------------------------------------------

    def _new_account(
        self, name: str, customers: int, long_lists: LongLists | None = None
    ) -> Account:
        account_id = random_id(self._rng, "acct_", 16)
        slug = "".join(ch for ch in name.lower() if ch.isalnum()) or "account"
        return Account(
            id=account_id,
            name=name,
            email=f"owner@{slug}.example.com",
            created=self.start - _ACCOUNT_AGE,
            customers=customers,
            long_lists=long_lists,
        )

    def add_account(
        self, name: str, *, customers: int = 0, long_lists: LongLists | None = None
    ) -> str:
        """Create an installing account (its data is made when first read); its ``acct_`` id.
        ``long_lists``: customers with more subscription items or invoice lines than Stripe
        embeds, on top of ``customers``."""
        if not isinstance(name, str) or not name.strip():
            raise SandboxError("An account needs a non-empty name.")
        if not isinstance(customers, int) or customers < 0:
            raise SandboxError(f"customers must be a whole number, 0 or more, not {customers!r}.")
        if long_lists is not None:
            if not isinstance(long_lists, LongLists):
                raise SandboxError("long_lists must be a LongLists(invoices=, lines=, ...).")
            long_lists.check()
        with self._lock:
            account = self._new_account(name.strip(), customers, long_lists)
            self.accounts[account.id] = account
            for mode in MODES:
                self.publishable_keys[(account.id, mode)] = _token(f"pk_{mode}_")
            return account.id

    def installing_accounts(self) -> list[tuple[str, str]]:
        """``(id, name)`` of every installing account, the default first."""
        with self._lock:
            ids = sorted(self.accounts, key=lambda a: a != self.default_account_id)
            return [(a, self.accounts[a].name) for a in ids]

    def account(self, account_id: str | None) -> Account:
        """An installing account, or the developer's own; the default when None."""
        with self._lock:
            found = self.accounts.get(account_id or self.default_account_id)
            if found is None and account_id == self.developer.account.id:
                found = self.developer.account
            if found is None:
                raise SandboxError(
                    f"No account {account_id!r} in this sandbox; its accounts are "
                    f"{sorted(self.accounts)} (and the developer's {self.developer.account.id})."
                )
            return found

    # --- worlds ------------------------------------------------------------------------------

    def world(self, account: Account, mode: Mode) -> World:
        """The data of ``account`` in ``mode``, built on first use and played up to date.

        The build (a second or more for many customers) runs outside the lock, so the consent
        page and the token endpoint keep answering meanwhile; concurrent callers wait for the
        one build. Do not call it while holding :attr:`lock`.
        """
        key = (account.id, mode)
        while True:
            with self._lock:
                entry = self._worlds.get(key)
                if entry is not None:
                    world, business = entry
                    if business.until < self._business_until:
                        business.run_until(self._business_until)
                    return world
                pending = self._building.get(key)
                owner = pending is None
                if pending is None:
                    pending = self._building[key] = threading.Event()
                spec = WorldSpec(
                    account_id=account.id,
                    account_name=account.name,
                    mode=mode,
                    customers=account.customers,
                    seed=self.seed,
                    start=self.start,
                    customer_rng_state=(
                        self._customer_streams.get(account.id) if mode == "test" else None
                    ),
                    long_lists=account.long_lists,
                )
            if not owner:
                pending.wait()
                continue
            try:
                world = World(spec)
                business = Business(world)
                business.build()
                with self._lock:
                    self._worlds.setdefault(key, (world, business))
            finally:
                with self._lock:
                    self._building.pop(key, None)
                pending.set()

    def prepare(self) -> None:
        """Build the default account's test-mode data now (the first request then is fast)."""
        self.world(self.account(None), "test")

    def simulate(self, days: int) -> dict[str, Any]:
        """Move the clock ``days`` forward and play the business up to then, in every world
        (worlds not read yet catch up when first read, with the same result)."""
        if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 366:
            raise SandboxError(f"days must be a whole number from 1 to 366, not {days!r}.")
        with self._lock:
            self._clock_offset += days * DAY
            self._business_until = int(self.now())
            for _world, business in self._worlds.values():
                business.run_until(self._business_until)
            return {"now": self.now(), "days": days}

    def counts(self, account_id: str | None = None, mode: Mode = "test") -> dict[str, int]:
        """Objects per resource in one world (see :meth:`World.counts`)."""
        if mode not in MODES:
            raise SandboxError(f"mode must be 'test' or 'live', not {mode!r}.")
        world = self.world(self.account(account_id), mode)
        with self._lock:
            return world.counts(int(self.now()))

    def register_app(self, manifest: Mapping[str, Any]) -> RegisteredApp:
        """Register (or re-register, keeping its client ids) an app from a manifest dict."""
        name = manifest.get("name")
        if not isinstance(name, str) or not name.strip():
            raise SandboxError("The manifest needs a non-empty 'name'.")
        uris = manifest.get("allowed_redirect_uris")
        if not isinstance(uris, list | tuple) or not uris:
            raise SandboxError(
                "The manifest needs 'allowed_redirect_uris' (at least one) for OAuth: add your "
                "callback URL, e.g. http://127.0.0.1:8765/callback."
            )
        for uri in uris:
            if not is_redirect_uri(uri):
                raise SandboxError(
                    f"allowed_redirect_uris entry {uri!r} must be an http(s) URL with a path "
                    "(https://example.com/callback, not https://example.com)."
                )
        raw_permissions = manifest.get("permissions", [])
        if not isinstance(raw_permissions, list):
            raise SandboxError("The manifest's 'permissions' must be a list.")
        purposes: dict[str, str] = {}
        for item in raw_permissions:
            if not isinstance(item, Mapping) or not isinstance(item.get("permission"), str):
                raise SandboxError(
                    "Each manifest permission must be {'permission': NAME, 'purpose': TEXT}."
                )
            purposes[item["permission"]] = str(item.get("purpose", ""))
        access_type = manifest.get("stripe_api_access_type", "oauth")
        if access_type != "oauth":
            raise SandboxError(
                f"stripe_api_access_type is {access_type!r}; OAuth install links need 'oauth'."
            )
        app_id = manifest.get("id")
        with self._lock:
            if not isinstance(app_id, str) or not app_id:
                app_id = f"sandbox.app{len(self._apps) + 1}"
            previous = self._apps.get(app_id)
            client_ids: dict[Mode, str] = (
                dict(previous.client_ids)
                if previous
                else {mode: random_id(self._rng, "ca_", 32) for mode in MODES}
            )
            app = RegisteredApp(
                id=app_id,
                name=name,
                client_ids=client_ids,
                redirect_uris=tuple(uris),
                permissions=tuple(purposes),
                purposes=purposes,
            )
            self._apps[app_id] = app
            for mode in MODES:
                self._clients[client_ids[mode]] = (app, mode)
            return app

    def apps(self) -> list[RegisteredApp]:
        with self._lock:
            return list(self._apps.values())

    # --- clock -------------------------------------------------------------------------------

    def now(self) -> float:
        """The sandbox clock: the start (frozen) or wall time, plus every move forward."""
        base = self.start if self._frozen else time.time()
        return base + self._clock_offset

    def advance_clock(self, seconds: float) -> float:
        """Move the sandbox clock forward; return the new time."""
        if not isinstance(seconds, int | float) or not math.isfinite(seconds) or seconds < 0:
            raise SandboxError(
                f"Clock can only move forward by a finite number of seconds, not {seconds!r}."
            )
        with self._lock:
            self._clock_offset += float(seconds)
            return self.now()

    # --- consent -----------------------------------------------------------------------------

    def check_authorize(self, client_id: str | None, redirect_uri: str | None) -> Authorization:
        """Validate an authorize request, as on the GET and again on the POST."""
        if not client_id:
            raise ConsentFailure("The install link has no client_id.")
        with self._lock:
            found = self._clients.get(client_id)
        if found is None:
            raise ConsentFailure(
                f"No app has the client id {client_id!r}. Check the install link: test and live "
                "links have different client ids."
            )
        app, mode = found
        uri = redirect_uri if redirect_uri else app.redirect_uris[0]
        if uri not in app.redirect_uris:
            raise ConsentFailure(
                f"The redirect_uri {uri!r} is not one of the app's allowed_redirect_uris; it must "
                "match one of them exactly (scheme, host, port and path)."
            )
        if mode == "live" and not uri.startswith("https://"):
            raise ConsentFailure(
                f"Live-mode install links need an https:// redirect_uri; {uri!r} is not."
            )
        return Authorization(app=app, mode=mode, redirect_uri=uri)

    def issue_code(self, authorization: Authorization, account_id: str | None = None) -> str:
        """The user pressed Accept: a single-use ``ac_`` code for ``account_id``."""
        with self._lock:
            account_id = account_id or self.default_account_id
            if account_id not in self.accounts:
                raise ConsentFailure(f"Unknown installing account {account_id!r}.")
            code = _secret("ac_")
            self._codes[code] = _Code(
                app_id=authorization.app.id,
                mode=authorization.mode,
                account_id=account_id,
                redirect_uri=authorization.redirect_uri,
                created_at=self.now(),
            )
            return code

    # --- token endpoint ----------------------------------------------------------------------

    def developer_key_mode(self, key: str | None) -> Mode:
        """The mode of the developer's secret ``key``; 401 unless it is one of them."""
        if not key:
            raise _no_key()
        mode = self._key_modes.get(key)
        if mode is None:
            raise _invalid_key(key)
        return mode

    def exchange_code(self, key: str | None, code: str) -> dict[str, Any]:
        """``grant_type=authorization_code``: Stripe's rules, then a fresh token pair."""
        with self._lock:
            key_mode = self.developer_key_mode(key)
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
            if self.now() >= record.created_at + CODE_LIFETIME:
                raise OAuthFailure(
                    "invalid_grant",
                    f"Authorization code expired: {stripe_mask(code)}. Codes are valid for 5 "
                    "minutes; authorize the app again.",
                )
            app = self._apps[record.app_id]
            grant = _Grant(
                id=_token("grant_", 16),
                app_id=app.id,
                mode=record.mode,
                account_id=record.account_id,
                permissions=frozenset(app.permissions),
            )
            self._grants[grant.id] = grant
            record.grant_id = grant.id
            self._issued["authorization_code"] += 1
            return self._issue_pair(grant)

    def refresh(self, key: str | None, refresh_token: str) -> dict[str, Any]:
        """``grant_type=refresh_token``: rotate (the old token dies at once, no grace)."""
        with self._lock:
            key_mode = self.developer_key_mode(key)
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
            if self.now() >= record.expires_at:
                raise OAuthFailure(
                    "invalid_grant",
                    f"Refresh token expired: {stripe_mask(refresh_token)}. "
                    "Authorize the app again.",
                )
            record.rotated = True
            self._issued["refresh_token"] += 1
            return self._issue_pair(grant)

    def mint_tokens(
        self, mode: Mode = "test", app: RegisteredApp | None = None, account_id: str | None = None
    ) -> dict[str, Any]:
        """Shortcut for tests and benchmarks: the token response an install would produce."""
        app = app or self.demo_app
        code = self.issue_code(
            Authorization(app=app, mode=mode, redirect_uri=app.redirect_uris[0]), account_id
        )
        return self.exchange_code(self.developer.secret_keys[mode], code)

    def _issue_pair(self, grant: _Grant) -> dict[str, Any]:
        now = self.now()
        access = _secret(f"rk_{grant.mode}_", 48)
        refresh = _secret("rt_", 48)
        self._access[access] = _Access(grant.id, now + ACCESS_TOKEN_LIFETIME)
        self._refresh[refresh] = _Refresh(grant.id, now + REFRESH_TOKEN_LIFETIME)
        return {
            "access_token": access,
            "livemode": grant.mode == "live",
            "refresh_token": refresh,
            "scope": "stripe_apps",
            "stripe_publishable_key": self.publishable_keys[(grant.account_id, grant.mode)],
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

    # --- API ---------------------------------------------------------------------------------

    def authenticate(self, key: str | None) -> Principal:
        """Resolve an API key (developer secret key or access token) or raise a 401."""
        if not key:
            raise _no_key()
        with self._lock:
            mode = self._key_modes.get(key)
            if mode is not None:
                return Principal(key, self.developer.account, mode, None)
            access = self._access.get(key)
            if access is None:
                raise _invalid_key(key)
            grant = self._grants[access.grant_id]
            if grant.revoked:
                raise _invalid_key(key)
            if self.now() >= access.expires_at:
                raise APIFailure(
                    401, f"Expired API Key provided: {stripe_mask(key)}", code="api_key_expired"
                )
            allowed = grants(grant.permissions)
            return Principal(key, self.accounts[grant.account_id], grant.mode, allowed)

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

    def admit(self, principal: Principal, endpoint: str) -> Refusal | None:
        """Count an API request against its account's rate limits (see ``_limits``)."""
        return self.limiter.admit(principal.account.id, principal.mode, endpoint)

    def admit_developer(self, mode: Mode, endpoint: str) -> Refusal | None:
        """Count a token-endpoint request against the developer's account."""
        return self.limiter.admit(self.developer.account.id, mode, endpoint)

    # --- faults and stats --------------------------------------------------------------------

    def add_fault(self, fault: Fault) -> None:
        """Queue a fault; checked in order, each used for ``times`` requests."""
        if fault.endpoint not in FAULT_ENDPOINTS:
            raise SandboxError(
                f"Unknown fault endpoint {fault.endpoint!r}: use one of {FAULT_ENDPOINTS}."
            )
        if fault.kind not in FAULT_KINDS:
            raise SandboxError(f"Unknown fault kind {fault.kind!r}: use one of {FAULT_KINDS}.")
        if not isinstance(fault.times, int) or fault.times < 1:
            raise SandboxError("A fault needs times >= 1.")
        if fault.kind == "error" and not (
            isinstance(fault.status, int) and 500 <= fault.status <= 599
        ):
            raise SandboxError(f"An error fault needs a 5xx status, not {fault.status!r}.")
        if not (isinstance(fault.seconds, int | float) and 0 <= fault.seconds <= 60):
            raise SandboxError("A delay must be between 0 and 60 seconds.")
        if not (isinstance(fault.retry_after, int) and 0 <= fault.retry_after <= 3600):
            raise SandboxError("retry_after must be a whole number of seconds, 0 to 3600.")
        with self._lock:
            self._faults.append(fault)

    def faults(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def begin_request(self, endpoint: str) -> Fault | None:
        """Count a request to ``endpoint`` and take the first fault that applies to it."""
        with self._lock:
            self._requests[endpoint] += 1
            for i, fault in enumerate(self._faults):
                if fault.endpoint == endpoint or (
                    fault.endpoint == "*" and endpoint in _STAR_ENDPOINTS
                ):
                    if fault.times > 1:
                        self._faults[i] = replace(fault, times=fault.times - 1)
                    else:
                        del self._faults[i]
                    return fault
            return None

    def count_grant(self, grant_type: str) -> None:
        with self._lock:
            self._grant_requests[grant_type if grant_type in GRANT_TYPES else "other"] += 1

    def stats(self) -> dict[str, Any]:
        """Requests by endpoint, token requests by grant type, and tokens actually issued."""
        with self._lock:
            return {
                "requests": dict(self._requests),
                "grants": {g: 0 for g in GRANT_TYPES} | dict(self._grant_requests),
                "issued": {g: 0 for g in GRANT_TYPES} | dict(self._issued),
            }

    def reset(self) -> None:
        """Forget codes, tokens, faults, stats, clock moves, simulated days and rate-limit
        counts; keep keys, apps and accounts (their data is made afresh from the seed)."""
        with self._lock:
            self._init_volatile()


def _no_key() -> APIFailure:
    return APIFailure(
        401,
        "You did not provide an API key. You need to provide your API key in the Authorization "
        "header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
    )


def _invalid_key(key: str) -> APIFailure:
    return APIFailure(401, f"Invalid API Key provided: {stripe_mask(key)}")


def _mode_mismatch(what: str, mode: Mode, key_mode: Mode) -> str:
    return (
        f"This {what} was issued in {mode} mode, but the request used a {key_mode}-mode secret "
        f"key. Use your sk_{mode}_ key for {mode}-mode codes and tokens."
    )
