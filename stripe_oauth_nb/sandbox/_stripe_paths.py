"""Stripe's own endpoints, to tell "the sandbox does not serve this" from "no such URL".

Real Stripe answers ``POST /v1/customers`` or ``GET /v1/coupons``; the sandbox does not. Those get
a 404 that says so, while a typo (``/v1/custmers``) gets Stripe's "Unrecognized request URL".
The lists are Stripe's top-level API resources (docs.stripe.com/api), v1 and v2.
"""

from __future__ import annotations

from typing import Final

__all__ = ["is_stripe_endpoint"]

_V1: Final = frozenset(
    (
        "account",
        "account_links",
        "account_sessions",
        "accounts",
        "apple_pay",
        "application_fees",
        "apps",
        "balance",
        "balance_settings",
        "balance_transactions",
        "billing",
        "billing_portal",
        "charges",
        "checkout",
        "climate",
        "confirmation_tokens",
        "country_specs",
        "coupons",
        "credit_notes",
        "customer_sessions",
        "customers",
        "disputes",
        "entitlements",
        "ephemeral_keys",
        "events",
        "exchange_rates",
        "file_links",
        "files",
        "financial_connections",
        "forwarding",
        "identity",
        "invoice_payments",
        "invoice_rendering_templates",
        "invoiceitems",
        "invoices",
        "issuing",
        "mandates",
        "payment_attempt_records",
        "payment_intents",
        "payment_links",
        "payment_method_configurations",
        "payment_method_domains",
        "payment_methods",
        "payment_records",
        "payouts",
        "plans",
        "prices",
        "products",
        "promotion_codes",
        "quotes",
        "radar",
        "refunds",
        "reporting",
        "reviews",
        "setup_attempts",
        "setup_intents",
        "shipping_rates",
        "sigma",
        "sources",
        "subscription_items",
        "subscription_schedules",
        "subscriptions",
        "tax",
        "tax_codes",
        "tax_ids",
        "tax_rates",
        "terminal",
        "test_helpers",
        "tokens",
        "topups",
        "transfers",
        "treasury",
        "webhook_endpoints",
    )
)
_V2: Final = frozenset(
    ("billing", "core", "money_management", "payments", "reporting", "tax", "test_helpers")
)


def is_stripe_endpoint(path: str) -> bool:
    """``path`` lies under one of Stripe's resources (not a typo, not a trailing slash)."""
    parts = path.split("/")
    if len(parts) < 3 or parts[0] != "" or "" in parts[1:]:
        return False
    if parts[1] == "v1":
        return parts[2] in _V1
    return parts[1] == "v2" and len(parts) >= 4 and parts[2] in _V2
