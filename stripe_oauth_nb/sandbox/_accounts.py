"""Who is in the sandbox: the developer, the installing accounts and the registered apps.

Split from the state because it is the sandbox's directory, made once from the seed and read by
every other job: the consent page checks an install link against the apps here
(:meth:`Directory.check_authorize`), the token endpoint knows the developer's keys here
(:meth:`Directory.developer_key_mode`), the worlds are built for the accounts here. Its seeded
random stream gives the account and client ids, in one fixed order (so a seed gives the same ids
in every release); secrets come from :mod:`secrets`.
"""

from __future__ import annotations

import random
import secrets
import string
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from .._app_record import RegisteredApp
from .._errors import SandboxError
from ._business import DAY
from ._failures import APIFailure, ConsentFailure, stripe_mask
from ._rules import MODES, Mode, is_redirect_uri
from ._secrets_log import record_secret
from ._world import Account, LongLists, random_id

__all__ = [
    "DEFAULT_REDIRECT_URIS",
    "DEMO_MANIFEST",
    "Authorization",
    "Developer",
    "Directory",
    "invalid_key",
    "mint_secret",
    "mint_token",
    "no_key",
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

_ALNUM: Final = string.ascii_letters + string.digits
#: The sample accounts the consent page offers besides the default one, and their share of
#: its customers.
SAMPLE_ACCOUNTS: Final = (("Northwind Traders", 2), ("Globex Retail", 5))
#: Accounts are older than the data they hold.
_ACCOUNT_AGE: Final = 400 * DAY


def mint_token(prefix: str, length: int = 32) -> str:
    """A random secret: ``prefix`` + ``length`` letters and digits (from :mod:`secrets`)."""
    return prefix + "".join(secrets.choice(_ALNUM) for _ in range(length))


def mint_secret(prefix: str, length: int = 32) -> str:
    """A :func:`mint_token` that is a credential (key, code, token): the leak test's hook sees
    it."""
    return record_secret(mint_token(prefix, length))


def no_key() -> APIFailure:
    return APIFailure(
        401,
        "You did not provide an API key. You need to provide your API key in the Authorization "
        "header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
    )


def invalid_key(key: str) -> APIFailure:
    return APIFailure(401, f"Invalid API Key provided: {stripe_mask(key)}")


@dataclass(frozen=True)
class Authorization:
    """A validated authorize request: which app, in which mode, back to which URI."""

    app: RegisteredApp
    mode: Mode
    redirect_uri: str


@dataclass
class Developer:
    account: Account
    secret_keys: dict[Mode, str]


class Directory:
    """The developer (a secret key per mode), the installing accounts (the default one with
    ``customers``, two samples with a share of them) and the apps (the demo app allowed
    ``redirect_uris``), behind the state's one lock."""

    def __init__(
        self,
        lock: threading.RLock,
        *,
        start: int,
        seed: int,
        customers: int,
        redirect_uris: tuple[str, ...],
        long_lists: LongLists | None,
    ) -> None:
        self._lock = lock
        self.start = start
        # Seeded (not secret) sample data; secrets below come from `secrets`.
        self._rng = random.Random(seed)  # noqa: S311 - deterministic sample data, not secrets
        self.developer = Developer(
            account=self._new_account("Sandbox Developer", 0),
            secret_keys={mode: mint_secret(f"sk_{mode}_") for mode in MODES},
        )
        self.key_modes: dict[str, Mode] = {k: m for m, k in self.developer.secret_keys.items()}
        self.accounts: dict[str, Account] = {}
        self.publishable_keys: dict[tuple[str, Mode], str] = {}
        #: The seeded random state an account's test-mode customers continue (the default's).
        self.customer_streams: dict[str, Any] = {}
        self.default_account_id = self.add_account(
            "Sandbox Installer Co", customers=customers, long_lists=long_lists
        )
        # The default account's test-mode customers continue the seed's own stream (the
        # customers every earlier release of the sandbox had).
        self.customer_streams[self.default_account_id] = self._rng.getstate()
        self._rng.seed(f"{seed}:after-the-default-account")  # nothing else draws from that stream
        for name, share in SAMPLE_ACCOUNTS:
            self.add_account(name, customers=customers // share)
        self._apps: dict[str, RegisteredApp] = {}
        self._clients: dict[str, tuple[RegisteredApp, Mode]] = {}
        self.demo_app = self.register_app({**DEMO_MANIFEST, "allowed_redirect_uris": redirect_uris})

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
                self.publishable_keys[(account.id, mode)] = mint_token(f"pk_{mode}_")
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

    def app(self, app_id: str) -> RegisteredApp:
        """A registered app by id (one a code or grant names: it exists)."""
        return self._apps[app_id]

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

    def developer_key_mode(self, key: str | None) -> Mode:
        """The mode of the developer's secret ``key``; 401 unless it is one of them."""
        if not key:
            raise no_key()
        mode = self.key_modes.get(key)
        if mode is None:
            raise invalid_key(key)
        return mode
