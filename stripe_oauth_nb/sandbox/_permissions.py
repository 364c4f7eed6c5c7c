"""Which Stripe Apps permission each resource needs, checked against what an install granted.

The names come from the project's permission catalogue (``manifest/permissions.json``), read as
data: a ``*_write`` permission grants the ``*_read`` of the same object, and a group whose
description says "implies a_read, b_read" grants those too (a Transfer permission implies
payout reads, for example). Stripe documents one more grant in words only: Plan permissions
cover Prices and, implicitly, Products.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from functools import cache
from importlib import resources
from typing import Final

__all__ = ["REQUIRED", "grants", "required_permission"]

#: The read permission each resource needs (``balance_transaction_source``: expanding the
#: source of a balance transaction).
REQUIRED: Final = {
    "customers": "customer_read",
    "products": "product_read",
    "prices": "plan_read",
    "subscriptions": "subscription_read",
    "invoices": "invoice_read",
    "charges": "charge_read",
    "payment_intents": "payment_intent_read",
    "refunds": "charge_read",
    "balance_transactions": "balance_read",
    "payouts": "payout_read",
    "disputes": "dispute_read",
    "events": "event_read",
    "coupons": "coupon_read",
    "promotion_codes": "promotion_code_read",
    "tax_rates": "tax_rate_read",
    "invoiceitems": "invoice_read",
    "setup_intents": "setup_intent_read",
    "payment_methods": "payment_method_read",
    "balance": "balance_read",
    "checkout_sessions": "checkout_session_read",
    "credit_notes": "credit_note_read",
    "subscription_schedules": "subscription_read",
    "balance_transaction_source": "balance_transaction_source_read",
}
#: Grants the catalogue states only in prose.
_ALSO: Final = {"plan_read": ("product_read",), "plan_write": ("product_read",)}
_NAME: Final = re.compile(r"\b[a-z][a-z_]*_(?:read|write)\b")


@cache
def _implications() -> dict[str, frozenset[str]]:
    """Permission name -> every name it grants (itself included), from the catalogue."""
    # The file only: importing the manifest package would load the client's checks.
    catalogue = resources.files("stripe_oauth_nb").joinpath("manifest", "permissions.json")
    text = catalogue.read_text("utf-8")
    implied: dict[str, set[str]] = {}
    for group in json.loads(text)["groups"]:
        names = [p["name"] for p in group["permissions"]]
        reads = [p["name"] for p in group["permissions"] if p["access"] == "read"]
        mentioned = _NAME.findall(group["description"])
        for permission in group["permissions"]:
            name = permission["name"]
            grant = implied.setdefault(name, {name})
            grant.update(mentioned)
            if permission["access"] == "write":
                grant.update(reads)
            grant.update(_ALSO.get(name, ()))
        for name in names:
            implied[name].update(_ALSO.get(name, ()))
    return {name: frozenset(grant) for name, grant in implied.items()}


def grants(permissions: Iterable[str]) -> frozenset[str]:
    """Everything a set of granted permissions allows (unknown names grant only themselves)."""
    table = _implications()
    allowed: set[str] = set()
    for name in permissions:
        allowed |= table.get(name, frozenset({name}))
    return frozenset(allowed)


def required_permission(resource: str) -> str:
    return REQUIRED[resource]
