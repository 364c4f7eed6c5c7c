"""A local stand-in for ``marketplace.stripe.com`` and ``api.stripe.com`` for Stripe Apps OAuth.

    from stripe_oauth_nb.sandbox import Sandbox
    with Sandbox() as sb:                       # 127.0.0.1, a free port, uvicorn in a thread
        settings = sb.settings(mode="test")     # Settings(target="sandbox") pointing here
        location = sb.approve(install_url)      # answer the consent page like a browser

``Sandbox()`` holds :data:`DEFAULT_CUSTOMERS` customers (250), the one default size of every
door that starts a sandbox. For a sandbox running in another process (``stripe-oauth-nb
sandbox``, or a fixture), the same consent-page driver is a plain function; it needs only the
install link::

    from stripe_oauth_nb.sandbox import approve
    location = approve(install_url, decision="accept", follow=True, account=None, timeout=5.0)

It GETs the consent page, POSTs its form with ``decision`` (``"accept"`` or ``"deny"``) and
returns the redirect's Location; ``follow=True`` then GETs that Location, so the code (or the
``error=access_denied``) reaches a callback server. ``account`` picks another installing account. It
raises :class:`~stripe_oauth_nb._errors.SandboxError` when the page refuses the link or the
callback cannot be reached. ``Sandbox.approve`` calls it with the same arguments.

What it serves, its data, list rules, permissions, rate limits, clock and controls are in
``docs/SANDBOX.md``. In short: the consent page (``/oauth/v2/authorize``), ``POST
/v1/oauth/token`` with Stripe's rules for codes and rotating refresh tokens, ``GET /v1/account``,
and list and retrieve for customers, products, prices, subscriptions, invoices, charges,
payment_intents, refunds, balance_transactions, payouts, disputes, events, coupons,
promotion_codes, tax_rates, invoiceitems, setup_intents, checkout sessions, credit_notes and
subscription_schedules, payment methods per customer, ``/v1/balance``, and the sub-lists behind
Stripe's embedded lists (invoice lines, subscription items, credit note lines, checkout line
items: at most 10 embedded, the rest from the sub-list), each account and mode a separate,
seeded world that ``simulate(days=N)`` moves forward (``long_lists=LongLists(...)`` adds lists
longer than Stripe embeds; ``Sandbox.ground_truth()`` reads every line and item from the rows);
Stripe's rate limits
(on by default), ``latency_ms``, and controls under ``/_sandbox/`` (``info``, ``simulate``,
``counts``, ``accounts``, ``clock``, ``faults``, ``reset``, ``apps``, ``stats``).

Test-only: when the environment variable ``STRIPE_OAUTH_NB_SANDBOX_SECRETS_FILE`` names a file,
every sandbox in the process appends each secret it mints (developer secret keys, authorization
codes, access tokens, refresh tokens) to it, one per line, unmasked (file mode 0600). The leak
test (``tests/test_leaks.py``) sets it for notebook kernels, then searches their saved notebooks
and DEBUG logs for those exact values. Never set it otherwise.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._rules import DEFAULT_CUSTOMERS

if TYPE_CHECKING:
    from .._app_record import RegisteredApp
    from ._browser import approve
    from ._faults import Fault
    from ._sandbox import ModeKeys, Sandbox
    from ._world import LongLists

#: Names loaded on first use, and the private module that holds each: importing the package (or
#: its ``_rules``, as the command line's parser does for the default size) loads no server.
_LAZY = {
    "Fault": "._faults",
    "LongLists": "._world",
    "ModeKeys": "._sandbox",
    "RegisteredApp": "._accounts",
    "Sandbox": "._sandbox",
    "approve": "._browser",
}

__all__ = [
    "DEFAULT_CUSTOMERS",
    "Fault",
    "LongLists",
    "ModeKeys",
    "RegisteredApp",
    "Sandbox",
    "approve",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
