"""``expand[]``: which fields of which object can be expanded, and into what.

A path such as ``data.invoice.subscription`` is checked before anything is rendered: every step
must be a field Stripe lets you expand on that object (``x-expandableFields`` in Stripe's
OpenAPI document) that exists in the requested API version's shape. Checking yields a tree
(``{"invoice": {"subscription": {}}}``) the renderer follows, and the resources whose read
permission the expansion needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Final, Literal

from ._rules import MAX_EXPAND_DEPTH
from ._templates import LEGACY_FIELDS, fixture

__all__ = [
    "EXPANDABLE",
    "KIND_OF",
    "ExpandError",
    "Field",
    "Tree",
    "expandable_fields",
    "plan_expansions",
]

Tree = dict[str, "Tree"]
How = Literal["ref", "source", "list", "embed", "array", "include", "fixed", "unserved"]

#: The object kind each list endpoint holds.
KIND_OF: Final = {
    "customers": "customer",
    "products": "product",
    "prices": "price",
    "subscriptions": "subscription",
    "invoices": "invoice",
    "charges": "charge",
    "payment_intents": "payment_intent",
    "refunds": "refund",
    "balance_transactions": "balance_transaction",
    "payouts": "payout",
    "disputes": "dispute",
    "events": "event",
    "coupons": "coupon",
    "promotion_codes": "promotion_code",
    "tax_rates": "tax_rate",
    "invoiceitems": "invoiceitem",
    "setup_intents": "setup_intent",
    "payment_methods": "payment_method",
    "checkout_sessions": "checkout.session",
    "credit_notes": "credit_note",
    "subscription_schedules": "subscription_schedule",
}


@dataclass(frozen=True)
class Field:
    """How an expandable field expands.

    ``ref``: an id of a served resource (``target``) becomes its object. ``source``: the id of a
    charge, refund, payout or dispute. ``list``/``embed``/``array``: already an object (a list
    object, an object, an array of objects) of kind ``target``; deeper paths continue inside.
    ``include``: absent unless expanded (a list of ``target`` objects). ``fixed``: already an
    object or null; nothing changes. ``unserved``: an id of an object the sandbox does not serve
    (``target`` names it), refused with a message saying so.
    """

    how: How
    target: str = ""


_F = Field("fixed")


def _ref(resource: str) -> Field:
    return Field("ref", resource)


#: Per object kind, its expandable fields (Stripe's ``x-expandableFields``, API 2023-08-16).
EXPANDABLE: Final[dict[str, dict[str, Field]]] = {
    "account": {
        name: _F
        for name in (
            "business_profile",
            "capabilities",
            "company",
            "controller",
            "external_accounts",
            "future_requirements",
            "individual",
            "requirements",
            "settings",
            "tos_acceptance",
        )
    },
    "customer": {
        "address": _F,
        "cash_balance": Field("unserved", "cash balances"),
        "default_source": _F,
        "discount": _F,
        "invoice_settings": _F,
        "shipping": _F,
        "sources": Field("include", "sources"),
        "subscriptions": Field("include", "subscriptions"),
        "tax": Field("unserved", "customer tax details"),
        "tax_ids": Field("include", "tax_ids"),
        "test_clock": _F,
    },
    "product": {
        "default_price": _ref("prices"),
        "features": _F,
        "package_dimensions": _F,
        "tax_code": _F,
    },
    "price": {
        "currency_options": _F,
        "custom_unit_amount": _F,
        "product": _ref("products"),
        "recurring": _F,
        "tiers": _F,
        "transform_quantity": _F,
    },
    "plan": {"product": _ref("products"), "tiers": _F, "transform_usage": _F},
    "subscription_item": {
        "billing_thresholds": _F,
        "price": Field("embed", "price"),
        "tax_rates": _F,
    },
    "subscription": {
        "application": _F,
        "automatic_tax": _F,
        "billing_thresholds": _F,
        "cancellation_details": _F,
        "customer": _ref("customers"),
        "default_payment_method": _F,
        "default_source": _F,
        "default_tax_rates": _F,
        "discount": _F,
        "items": Field("list", "subscription_item"),
        "latest_invoice": _ref("invoices"),
        "on_behalf_of": _F,
        "pause_collection": _F,
        "payment_settings": _F,
        "pending_invoice_item_interval": _F,
        "pending_setup_intent": _F,
        "pending_update": _F,
        "schedule": _F,
        "test_clock": _F,
        "transfer_data": _F,
        "trial_settings": _F,
    },
    "line_item": {
        "discount_amounts": _F,
        "discounts": Field("unserved", "discount objects"),
        "invoice_item": _F,
        "period": _F,
        "price": Field("embed", "price"),
        "proration_details": _F,
        "subscription": _ref("subscriptions"),
        "subscription_item": Field("unserved", "subscription items"),
        "tax_amounts": _F,
        "tax_rates": _F,
    },
    "invoice": {
        "account_tax_ids": _F,
        "application": _F,
        "automatic_tax": _F,
        "charge": _ref("charges"),
        "custom_fields": _F,
        "customer": _ref("customers"),
        "customer_address": _F,
        "customer_shipping": _F,
        "customer_tax_ids": _F,
        "default_payment_method": _F,
        "default_source": _F,
        "default_tax_rates": _F,
        "discount": _F,
        "discounts": Field("unserved", "discount objects"),
        "from_invoice": _F,
        "last_finalization_error": _F,
        "latest_revision": _F,
        "lines": Field("list", "line_item"),
        "on_behalf_of": _F,
        "payment_intent": _ref("payment_intents"),
        "payment_settings": _F,
        "quote": _F,
        "rendering_options": _F,
        "shipping_cost": _F,
        "shipping_details": _F,
        "status_transitions": _F,
        "subscription": _ref("subscriptions"),
        "subscription_details": _F,
        "test_clock": _F,
        "threshold_reason": _F,
        "total_discount_amounts": _F,
        "total_tax_amounts": _F,
        "transfer_data": _F,
    },
    "charge": {
        "application": _F,
        "application_fee": _F,
        "balance_transaction": _ref("balance_transactions"),
        "billing_details": _F,
        "customer": _ref("customers"),
        "failure_balance_transaction": _F,
        "fraud_details": _F,
        "invoice": _ref("invoices"),
        "on_behalf_of": _F,
        "outcome": _F,
        "payment_intent": _ref("payment_intents"),
        "payment_method_details": _F,
        "radar_options": _F,
        "refunds": Field("list", "refund"),
        "review": _F,
        "shipping": _F,
        "source_transfer": _F,
        "transfer": _F,
        "transfer_data": _F,
    },
    "payment_intent": {
        "amount_details": _F,
        "application": _F,
        "automatic_payment_methods": _F,
        "customer": _ref("customers"),
        "invoice": _ref("invoices"),
        "last_payment_error": _F,
        "latest_charge": _ref("charges"),
        "next_action": _F,
        "on_behalf_of": _F,
        "payment_method": Field("unserved", "payment method expansion"),
        "payment_method_options": _F,
        "processing": _F,
        "review": _F,
        "shipping": _F,
        "transfer_data": _F,
    },
    "refund": {
        "balance_transaction": _ref("balance_transactions"),
        "charge": _ref("charges"),
        "failure_balance_transaction": _F,
        "next_action": _F,
        "payment_intent": _ref("payment_intents"),
        "source_transfer_reversal": _F,
        "transfer_reversal": _F,
    },
    "balance_transaction": {"fee_details": _F, "source": Field("source")},
    "payout": {
        "balance_transaction": _ref("balance_transactions"),
        "destination": Field("unserved", "bank accounts"),
        "failure_balance_transaction": _F,
        "original_payout": _F,
        "reversed_by": _F,
    },
    "dispute": {
        "balance_transactions": Field("array", "balance_transaction"),
        "charge": _ref("charges"),
        "evidence": _F,
        "evidence_details": _F,
        "payment_intent": _ref("payment_intents"),
        "payment_method_details": _F,
    },
    "event": {"data": _F, "request": _F},
    "customer_balance_transaction": {
        "credit_note": _F,
        "customer": _ref("customers"),
        "invoice": _ref("invoices"),
    },
    "setup_intent": {
        "application": _F,
        "automatic_payment_methods": _F,
        "customer": _ref("customers"),
        "last_setup_error": _F,
        "latest_attempt": Field("unserved", "setup attempts"),
        "mandate": _F,
        "next_action": _F,
        "on_behalf_of": _F,
        "payment_method": Field("unserved", "payment method expansion"),
        "payment_method_options": _F,
        "single_use_mandate": _F,
    },
    "payment_method": {
        name: _F for name in ("billing_details", "card", "card_present", "link", "radar_options")
    }
    | {"customer": _ref("customers")},
    "balance": {},
    "checkout.session": {
        name: _F
        for name in (
            "after_expiration",
            "automatic_tax",
            "consent",
            "consent_collection",
            "currency_conversion",
            "custom_fields",
            "custom_text",
            "customer_details",
            "invoice_creation",
            "payment_link",
            "payment_method_options",
            "phone_number_collection",
            "setup_intent",
            "shipping_address_collection",
            "shipping_cost",
            "shipping_details",
            "shipping_options",
            "tax_id_collection",
            "total_details",
        )
    }
    | {
        "customer": _ref("customers"),
        "invoice": _ref("invoices"),
        "line_items": Field("include", "item"),
        "payment_intent": _ref("payment_intents"),
        "subscription": _ref("subscriptions"),
    },
    "subscription_schedule": {
        "application": _F,
        "current_phase": _F,
        "customer": _ref("customers"),
        "default_settings": _F,
        "phases": _F,
        "subscription": _ref("subscriptions"),
        "test_clock": _F,
    },
    "item": {
        "discounts": Field("unserved", "line item discounts"),
        "price": Field("embed", "price"),
        "taxes": Field("unserved", "line item taxes"),
    },
    "credit_note": {
        "customer": _ref("customers"),
        "customer_balance_transaction": _F,
        "discount_amounts": _F,
        "invoice": _ref("invoices"),
        "lines": Field("list", "credit_note_line_item"),
        "refund": _ref("refunds"),
        "shipping_cost": _F,
        "tax_amounts": _F,
    },
    "credit_note_line_item": {"discount_amounts": _F, "tax_amounts": _F, "tax_rates": _F},
    "coupon": {"applies_to": _F, "currency_options": _F},
    "promotion_code": {"customer": _F, "restrictions": _F},
    "tax_rate": {},
    "invoiceitem": {
        "customer": _ref("customers"),
        "discounts": _F,
        "invoice": _ref("invoices"),
        "period": _F,
        "price": Field("unserved", "the price of an invoice item (read pricing.price_details)"),
        "subscription": _ref("subscriptions"),
        "tax_rates": _F,
        "test_clock": _F,
    },
}

#: The resources a balance transaction's ``source`` can be.
SOURCE_KINDS: Final = ("charges", "refunds", "payouts", "disputes")


@cache
def expandable_fields(kind: str, legacy: bool) -> dict[str, Field]:
    """The fields of ``kind`` that can be expanded in one shape (those the object has)."""
    present = set(fixture(kind)) | (set(LEGACY_FIELDS.get(kind, {})) if legacy else set())
    return {
        name: field
        for name, field in EXPANDABLE[kind].items()
        if name in present or field.how == "include"
    }


class ExpandError(Exception):
    """A path that cannot be expanded; ``message`` says why."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def plan_expansions(
    kind: str, paths: list[str], *, on_list: bool, legacy: bool
) -> tuple[Tree, set[str]]:
    """The expansion tree for ``paths`` on objects of ``kind``, and the resources it reads.

    ``on_list``: the paths are given to a list endpoint, so each must start with ``data.``.
    Raises :class:`ExpandError` for a path Stripe would refuse or the sandbox cannot serve.
    """
    tree: Tree = {}
    reads: set[str] = set()
    for path in paths:
        steps = path.split(".")
        if on_list:
            if steps[0] != "data" or len(steps) < 2:
                raise ExpandError(
                    f"This property cannot be expanded ({path}). You may want to try expanding "
                    f"'data.{path}' instead."
                )
            steps = steps[1:]
        if len(steps) > MAX_EXPAND_DEPTH:
            raise ExpandError(
                f"You cannot expand more than {MAX_EXPAND_DEPTH} levels of a property. "
                f"Property: {path}"
            )
        _walk(kind, steps, path, tree, reads, legacy)
    return tree, reads


def _walk(
    kind: str, steps: list[str], path: str, tree: Tree, reads: set[str], legacy: bool
) -> None:
    kinds = [kind]
    node = tree
    at = 0
    while at < len(steps):
        step = steps[at]
        options = [expandable_fields(k, legacy).get(step) for k in kinds]
        found = [f for f in options if f is not None]
        if not step or not found:
            raise ExpandError(f"This property cannot be expanded ({path}).")
        field = found[0]
        if field.how == "unserved":
            raise ExpandError(
                f"The sandbox does not serve {field.target}, so it cannot expand '{path}' "
                "(Stripe can). Leave this path out, or read the id."
            )
        node = node.setdefault(step, {})
        at += 1
        if field.how == "ref":
            reads.add(field.target)
            kinds = [KIND_OF[field.target]]
        elif field.how == "source":
            reads.add("balance_transaction_source")
            kinds = [KIND_OF[r] for r in SOURCE_KINDS]
        elif field.how in ("embed", "array"):
            kinds = [field.target]
        elif field.how in ("list", "include"):
            if at < len(steps) and steps[at] != "data":
                raise ExpandError(f"This property cannot be expanded ({path}).")
            if at < len(steps):
                node = node.setdefault("data", {})
                at += 1
            kinds = [field.target] if field.target in EXPANDABLE else []
            if field.how == "include" and field.target in KIND_OF:
                reads.add(field.target)
                kinds = [KIND_OF[field.target]]
        elif at < len(steps):  # fixed: nothing deeper to expand here
            raise ExpandError(f"This property cannot be expanded ({path}).")
