"""Object templates: Stripe's example objects, made plausible, compiled for fast rendering.

``stripe/fixtures.json`` (beside this module, MIT, Stripe's ``fixtures3.json`` cut to the
objects the sandbox serves) decides which fields each object has and in which order. Its
example values are often placeholders (a subscription both active and canceled, a paused
collection, a transfer to ``obj_123``); :data:`_STATIC` replaces them with what an ordinary
account's object holds. :data:`SLOTS` are the fields each object fills in per row.

A compiled :class:`Template` is the object's JSON text with holes: rendering an object is one
``%`` format of encoded values, so a page of 100 charges costs well under a millisecond.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping, Sequence
from functools import cache
from importlib import resources
from json.encoder import encode_basestring_ascii
from typing import Any, Final

__all__ = ["FILLED", "LEGACY_FIELDS", "SLOTS", "Raw", "Template", "encode", "fixture", "template"]


class Raw(str):
    """JSON text to put into an object as it is (an expanded object, a list, a constant)."""

    __slots__ = ()


def raw(value: Any) -> Raw:
    """``value`` encoded once, for a constant used in many objects."""
    return Raw(json.dumps(value, separators=(",", ":")))


def encode(value: Any) -> str:
    """``value`` as JSON text (exact type checks: the common cases first, fast)."""
    kind = type(value)
    if kind is str:
        return encode_basestring_ascii(value)
    if kind is Raw:
        return value  # type: ignore[no-any-return]
    if kind is int:
        return str(value)
    if value is None:
        return "null"
    if kind is bool:
        return "true" if value else "false"
    return json.dumps(value, separators=(",", ":"))


_HOLE: Final = re.compile(r'"\\u0001([A-Za-z0-9_.]+)\\u0002"')


class Template:
    """JSON text of ``base`` with a hole at each of ``slots`` (dotted paths into ``base``)."""

    def __init__(self, base: Mapping[str, Any], slots: Sequence[str]) -> None:
        marked = copy.deepcopy(dict(base))
        for path in slots:
            *parents, leaf = path.split(".")
            node = marked
            for key in parents:
                node = node[key]
            node[leaf] = f"\x01{path}\x02"
        text = json.dumps(marked, separators=(",", ":"))
        pieces = _HOLE.split(text)
        self.names: tuple[str, ...] = tuple(pieces[1::2])
        if sorted(self.names) != sorted(slots):
            raise ValueError(f"template holes {self.names} do not match slots {slots}")
        self._format = "%s".join(piece.replace("%", "%%") for piece in pieces[0::2])

    def render(self, values: Mapping[str, Any]) -> str:
        return self._format % tuple(map(encode, map(values.__getitem__, self.names)))


@cache
def _fixtures() -> dict[str, dict[str, Any]]:
    text = resources.files(__package__).joinpath("stripe", "fixtures.json").read_text("utf-8")
    loaded: dict[str, dict[str, Any]] = json.loads(text)["resources"]
    return loaded


def fixture(kind: str) -> dict[str, Any]:
    """A deep copy of Stripe's example object of ``kind`` (``"charge"``, ``"invoice"``...)."""
    return copy.deepcopy(_fixtures()[kind])


_NO_REQUIREMENTS: Final[dict[str, Any]] = {
    "alternatives": [],
    "current_deadline": None,
    "currently_due": [],
    "disabled_reason": None,
    "errors": [],
    "eventually_due": [],
    "past_due": [],
    "pending_verification": [],
}

#: Example values replaced by those of an ordinary object (top-level fields, whole values).
_STATIC: Final[dict[str, dict[str, Any]]] = {
    "account": {
        "business_type": "company",
        "charges_enabled": True,
        "details_submitted": True,
        "payouts_enabled": True,
        "requirements": _NO_REQUIREMENTS,
        "future_requirements": _NO_REQUIREMENTS,
        "type": "standard",
    },
    "customer": {
        "address": None,
        "discount": None,
        "invoice_settings": {
            "custom_fields": None,
            "default_payment_method": None,
            "footer": None,
            "rendering_options": None,
        },
        "shipping": None,
    },
    "product": {"package_dimensions": None, "type": "service"},
    "price": {"custom_unit_amount": None, "transform_quantity": None},
    "plan": {"transform_usage": None},
    "subscription": {
        "automatic_tax": {"disabled_reason": None, "enabled": False, "liability": None},
        "billing_cycle_anchor_config": None,
        "billing_mode": {"flexible": None, "type": "classic"},
        "billing_schedules": [],
        "billing_thresholds": None,
        "invoice_settings": {
            "account_tax_ids": None,
            "custom_fields": None,
            "description": None,
            "footer": None,
            "issuer": {"type": "self"},
        },
        "managed_payments": {"enabled": False},
        "next_pending_invoice_item_invoice": None,
        "pause_collection": None,
        "payment_settings": {
            "payment_method_options": None,
            "payment_method_types": None,
            "save_default_payment_method": "off",
        },
        "pending_invoice_item_interval": None,
        "pending_update": None,
        "transfer_data": None,
    },
    "invoice": {
        "amount_overpaid": 0,
        "automatic_tax": {
            "disabled_reason": None,
            "enabled": False,
            "liability": None,
            "provider": None,
            "status": None,
        },
        "customer_address": None,
        "customer_shipping": None,
        "from_invoice": None,
        "last_finalization_error": None,
        "payment_settings": {
            "default_mandate": None,
            "payment_method_options": None,
            "payment_method_types": None,
        },
        "rendering": {
            "amount_tax_display": None,
            "pdf": {"page_size": "auto"},
            "template": None,
            "template_version": None,
        },
        "shipping_cost": None,
        "shipping_details": None,
        "total_pretax_credit_amounts": [],
    },
    "line_item": {"pretax_credit_amounts": [], "quantity_decimal": None},
    "subscription_item": {"billing_thresholds": None, "metadata": {}},
    "tax_rate": {"effective_percentage": None, "flat_amount": None, "rate_type": "percentage"},
    "coupon": {"max_redemptions": None, "redeem_by": None, "valid": True},
    "promotion_code": {
        "active": True,
        "customer": None,
        "customer_account": None,
        "expires_at": None,
        "restrictions": {
            "first_time_transaction": False,
            "minimum_amount": None,
            "minimum_amount_currency": None,
        },
    },
    "invoiceitem": {"customer_account": None, "discounts": [], "test_clock": None},
    "setup_intent": {
        "automatic_payment_methods": None,
        "last_setup_error": None,
        "next_action": None,
        "payment_method_configuration_details": None,
        "payment_method_options": {
            "card": {
                "mandate_options": None,
                "network": None,
                "request_three_d_secure": "automatic",
            }
        },
    },
    "payment_method": {
        "billing_details": {
            "address": {
                "city": None,
                "country": None,
                "line1": None,
                "line2": None,
                "postal_code": None,
                "state": None,
            },
            "email": None,
            "name": None,
            "phone": None,
            "tax_id": None,
        },
        "metadata": {},
    },
    "balance": {},
    "checkout.session": {
        "adaptive_pricing": {"enabled": False},
        "after_expiration": None,
        "automatic_tax": {"enabled": False, "liability": None, "provider": None, "status": None},
        "collected_information": None,
        "consent": None,
        "consent_collection": None,
        "currency_conversion": None,
        "custom_text": {
            "after_submit": None,
            "shipping_address": None,
            "submit": None,
            "terms_of_service_acceptance": None,
        },
        "managed_payments": {"enabled": False},
        "payment_method_configuration_details": None,
        "permissions": None,
        "saved_payment_method_options": None,
        "shipping_address_collection": None,
        "shipping_cost": None,
        "ui_mode": "hosted",
        "wallet_options": None,
    },
    "item": {"adjustable_quantity": None, "metadata": {}},
    "subscription_schedule": {
        "billing_mode": {"flexible": None, "type": "classic"},
        "default_settings": {
            "application_fee_percent": None,
            "automatic_tax": {"disabled_reason": None, "enabled": False, "liability": None},
            "billing_cycle_anchor": "automatic",
            "billing_thresholds": None,
            "collection_method": "charge_automatically",
            "default_payment_method": None,
            "description": None,
            "invoice_settings": {
                "account_tax_ids": None,
                "days_until_due": None,
                "issuer": {"type": "self"},
            },
            "on_behalf_of": None,
            "transfer_data": None,
        },
    },
    "credit_note": {
        "out_of_band_amount": None,
        "pretax_credit_amounts": [],
        "reason": "product_unsatisfactory",
        "shipping_cost": None,
        "type": "post_payment",
        "voided_at": None,
    },
    "credit_note_line_item": {"metadata": {}, "pretax_credit_amounts": [], "tax_rates": []},
    "charge": {
        "shipping": None,
        "source": None,
        "transfer_data": None,
    },
    "payment_intent": {
        "automatic_payment_methods": None,
        "canceled_at": None,
        "managed_payments": {"enabled": False},
        "next_action": None,
        "payment_method_configuration_details": None,
        "payment_method_options": {
            "card": {
                "installments": None,
                "mandate_options": None,
                "network": None,
                "request_three_d_secure": "automatic",
            }
        },
        "processing": None,
        "shipping": None,
        "transfer_data": None,
    },
    "refund": {
        "destination_details": {
            "card": {
                "reference": None,
                "reference_status": "pending",
                "reference_type": "acquirer_reference_number",
                "type": "refund",
            },
            "type": "card",
        }
    },
    "balance_transaction": {},
    "payout": {"trace_id": {"status": "pending", "value": None}},
    "dispute": {
        "enhanced_eligibility_types": [],
        "is_charge_refundable": False,
        "payment_method_details": {
            "card": {"brand": "visa", "case_type": "chargeback", "network_reason_code": "10.4"},
            "type": "card",
        },
    },
    "event": {},
    "deleted_customer": {},
}

#: The fields each object fills in per row (dotted: inside a nested object).
SLOTS: Final[dict[str, tuple[str, ...]]] = {
    "account": (
        "id",
        "business_profile",
        "country",
        "created",
        "default_currency",
        "email",
        "external_accounts",
        "settings.bacs_debit_payments.display_name",
        "settings.dashboard.display_name",
        "settings.payments.statement_descriptor",
        "tos_acceptance",
    ),
    "customer": (
        "id",
        "created",
        "currency",
        "delinquent",
        "email",
        "invoice_prefix",
        "livemode",
        "metadata",
        "name",
    ),
    "deleted_customer": ("id",),
    "product": (
        "id",
        "active",
        "created",
        "default_price",
        "description",
        "livemode",
        "name",
        "unit_label",
        "updated",
    ),
    "price": (
        "id",
        "active",
        "created",
        "currency",
        "livemode",
        "lookup_key",
        "nickname",
        "product",
        "recurring",
        "type",
        "unit_amount",
        "unit_amount_decimal",
    ),
    "plan": (
        "id",
        "active",
        "amount",
        "amount_decimal",
        "created",
        "currency",
        "interval",
        "livemode",
        "nickname",
        "product",
    ),
    "subscription_item": (
        "id",
        "created",
        "current_period_end",
        "current_period_start",
        "plan",
        "price",
        "quantity",
        "subscription",
    ),
    "subscription": (
        "id",
        "billing_cycle_anchor",
        "cancel_at",
        "cancel_at_period_end",
        "canceled_at",
        "cancellation_details",
        "created",
        "currency",
        "customer",
        "default_tax_rates",
        "discounts",
        "ended_at",
        "items",
        "latest_invoice",
        "livemode",
        "start_date",
        "status",
        "trial_end",
        "trial_start",
    ),
    "invoice": (
        "id",
        "account_country",
        "account_name",
        "amount_due",
        "amount_paid",
        "amount_remaining",
        "attempt_count",
        "attempted",
        "auto_advance",
        "billing_reason",
        "created",
        "currency",
        "customer",
        "customer_email",
        "customer_name",
        "discounts",
        "due_date",
        "effective_at",
        "ending_balance",
        "hosted_invoice_url",
        "invoice_pdf",
        "lines",
        "livemode",
        "next_payment_attempt",
        "number",
        "parent",
        "period_end",
        "period_start",
        "status",
        "status_transitions",
        "subscription",
        "subtotal",
        "subtotal_excluding_tax",
        "total",
        "total_discount_amounts",
        "total_excluding_tax",
        "total_taxes",
        "webhooks_delivered_at",
    ),
    "line_item": (
        "id",
        "amount",
        "currency",
        "description",
        "discount_amounts",
        "discounts",
        "invoice",
        "livemode",
        "parent",
        "period",
        "pricing",
        "quantity",
        "subscription",
        "subtotal",
        "taxes",
    ),
    "tax_rate": (
        "id",
        "country",
        "created",
        "description",
        "display_name",
        "jurisdiction",
        "jurisdiction_level",
        "livemode",
        "percentage",
        "state",
        "tax_type",
    ),
    "coupon": (
        "id",
        "amount_off",
        "created",
        "currency",
        "duration",
        "duration_in_months",
        "livemode",
        "name",
        "percent_off",
        "times_redeemed",
    ),
    "promotion_code": ("id", "code", "created", "livemode", "promotion", "times_redeemed"),
    "invoiceitem": (
        "id",
        "amount",
        "currency",
        "customer",
        "date",
        "description",
        "invoice",
        "livemode",
        "net_amount",
        "parent",
        "period",
        "pricing",
        "proration",
        "quantity",
        "quantity_decimal",
    ),
    "setup_intent": (
        "id",
        "client_secret",
        "created",
        "customer",
        "livemode",
        "payment_method",
        "status",
    ),
    "payment_method": (
        "id",
        "billing_details.email",
        "billing_details.name",
        "card.brand",
        "card.display_brand",
        "card.exp_month",
        "card.exp_year",
        "card.fingerprint",
        "card.generated_from",
        "card.last4",
        "card.networks.available",
        "card.wallet",
        "created",
        "customer",
        "livemode",
    ),
    "balance": ("available", "livemode", "pending"),
    "checkout.session": (
        "id",
        "amount_subtotal",
        "amount_total",
        "created",
        "currency",
        "customer",
        "customer_details.email",
        "customer_details.name",
        "discounts",
        "expires_at",
        "invoice",
        "invoice_creation",
        "livemode",
        "mode",
        "payment_intent",
        "payment_status",
        "status",
        "subscription",
        "total_details",
        "url",
    ),
    "subscription_schedule": (
        "id",
        "canceled_at",
        "completed_at",
        "created",
        "current_phase",
        "customer",
        "livemode",
        "phases",
        "released_at",
        "released_subscription",
        "status",
        "subscription",
    ),
    "item": (
        "id",
        "amount_discount",
        "amount_subtotal",
        "amount_tax",
        "amount_total",
        "currency",
        "description",
        "price",
        "quantity",
    ),
    "credit_note": (
        "id",
        "amount",
        "created",
        "currency",
        "customer",
        "discount_amount",
        "discount_amounts",
        "effective_at",
        "invoice",
        "lines",
        "livemode",
        "number",
        "pdf",
        "post_payment_amount",
        "pre_payment_amount",
        "refunds",
        "subtotal",
        "subtotal_excluding_tax",
        "total",
        "total_excluding_tax",
        "total_taxes",
    ),
    "credit_note_line_item": (
        "id",
        "amount",
        "description",
        "discount_amount",
        "discount_amounts",
        "invoice_line_item",
        "livemode",
        "quantity",
        "taxes",
        "type",
        "unit_amount",
        "unit_amount_decimal",
    ),
    "charge": (
        "id",
        "amount",
        "amount_captured",
        "amount_refunded",
        "balance_transaction",
        "billing_details.email",
        "billing_details.name",
        "calculated_statement_descriptor",
        "captured",
        "created",
        "currency",
        "customer",
        "description",
        "disputed",
        "failure_code",
        "failure_message",
        "livemode",
        "outcome",
        "paid",
        "payment_intent",
        "payment_method",
        "payment_method_details.card.amount_authorized",
        "payment_method_details.card.brand",
        "payment_method_details.card.exp_month",
        "payment_method_details.card.exp_year",
        "payment_method_details.card.fingerprint",
        "payment_method_details.card.last4",
        "payment_method_details.card.network",
        "payment_method_details.card.overcapture.maximum_amount_capturable",
        "receipt_url",
        "refunded",
        "refunds",
        "status",
    ),
    "payment_intent": (
        "id",
        "amount",
        "amount_received",
        "client_secret",
        "created",
        "currency",
        "customer",
        "description",
        "last_payment_error",
        "latest_charge",
        "livemode",
        "payment_method",
        "status",
    ),
    "refund": (
        "id",
        "amount",
        "balance_transaction",
        "charge",
        "created",
        "currency",
        "payment_intent",
        "reason",
    ),
    "balance_transaction": (
        "id",
        "amount",
        "available_on",
        "created",
        "currency",
        "description",
        "exchange_rate",
        "fee",
        "fee_details",
        "net",
        "reporting_category",
        "source",
        "status",
        "type",
    ),
    "payout": (
        "id",
        "amount",
        "arrival_date",
        "balance_transaction",
        "created",
        "destination",
        "livemode",
        "reconciliation_status",
        "status",
    ),
    "dispute": (
        "id",
        "amount",
        "balance_transactions",
        "charge",
        "created",
        "currency",
        "evidence_details",
        "livemode",
        "payment_intent",
        "reason",
        "status",
    ),
    "event": ("id", "api_version", "created", "data", "livemode", "type"),
}

#: Marks a field the renderer fills in (see :data:`LEGACY_FIELDS`).
FILLED: Final = "\x00filled"

#: Fields that API versions before basil (2025-03-31) still have: a constant, or
#: :data:`FILLED` for a value the renderer fills in when asked for that shape.
LEGACY_FIELDS: Final[dict[str, dict[str, Any]]] = {
    "product": {"features": []},
    "subscription": {
        "current_period_end": FILLED,
        "current_period_start": FILLED,
        "discount": None,
    },
    "invoice": {
        "charge": FILLED,
        "discount": None,
        "paid": FILLED,
        "paid_out_of_band": False,
        "payment_intent": FILLED,
        "total_tax_amounts": [],
    },
    "line_item": {
        "amount_excluding_tax": FILLED,
        "price": FILLED,
        "proration": FILLED,
        "proration_details": {"credited_items": None},
        "subscription_item": FILLED,
        "tax_amounts": FILLED,
        "tax_rates": [],
        "type": FILLED,
        "unit_amount_excluding_tax": FILLED,
    },
    "charge": {"invoice": FILLED},
    "payment_intent": {"invoice": FILLED},
}


def _base(kind: str, legacy: bool) -> tuple[dict[str, Any], tuple[str, ...]]:
    base = fixture(kind)
    base.update(copy.deepcopy(_STATIC[kind]))
    slots = SLOTS[kind]
    if legacy:
        extra = LEGACY_FIELDS.get(kind, {})
        base.update({k: None if v is FILLED else copy.deepcopy(v) for k, v in extra.items()})
        slots = (*slots, *(k for k, v in extra.items() if v is FILLED))
    return base, slots


@cache
def template(kind: str, legacy: bool = False) -> Template:
    """The compiled template of ``kind`` in today's shape, or with the pre-basil fields."""
    base, slots = _base(kind, legacy)
    return Template(base, slots)
