"""Rows to Stripe's JSON: each object from its template, with ids or expanded objects in place.

:class:`Renderer` renders one request's objects in one API shape (today's, or with the fields
basil removed) at one moment (a balance transaction is ``pending`` until its ``available_on``).
Event snapshots are rendered in the event's own API version at the event's moment.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import zlib
from collections.abc import Callable, Sequence
from typing import Any, Final

from ._expand import EXPANDABLE, KIND_OF, Tree
from ._rows import (
    BalanceTransaction,
    Charge,
    CheckoutSession,
    Coupon,
    CreditNote,
    Customer,
    Dispute,
    Event,
    Invoice,
    InvoiceItem,
    PaymentIntent,
    Payout,
    Price,
    Product,
    PromotionCode,
    Refund,
    SetupIntent,
    Subscription,
    SubscriptionSchedule,
    TaxRate,
)
from ._templates import Raw, encode, raw, template
from ._versions import API_VERSION
from ._world import Account, World

__all__ = ["EMBEDDED", "SOURCE_PREFIXES", "Renderer", "account_json", "list_body"]

#: Entries of an embedded list (``invoice.lines``, ``subscription.items``) Stripe sends.
EMBEDDED: Final = 10

#: A balance transaction's ``source`` id prefix and the resource it names.
SOURCE_PREFIXES: Final = {"ch_": "charges", "re_": "refunds", "po_": "payouts", "dp_": "disputes"}
_RECURRING: Final = {
    interval: raw(
        {
            "interval": interval,
            "interval_count": 1,
            "meter": None,
            "trial_period_days": None,
            "usage_type": "licensed",
        }
    )
    for interval in ("month", "year")
}
_CANCELLATION: Final = {
    reason: raw({"comment": None, "feedback": None, "reason": reason})
    for reason in (None, "cancellation_requested", "payment_failed")
}
_OUTCOME_OK: Final = raw(
    {
        "advice_code": None,
        "network_advice_code": None,
        "network_decline_code": None,
        "network_status": "approved_by_network",
        "reason": None,
        "risk_level": "normal",
        "risk_score": 24,
        "seller_message": "Payment complete.",
        "type": "authorized",
    }
)
#: decline code -> (failure_code, message)
_DECLINES: Final = {
    "insufficient_funds": ("card_declined", "Your card has insufficient funds."),
    "generic_decline": ("card_declined", "Your card was declined."),
    "expired_card": ("expired_card", "Your card has expired."),
    "do_not_honor": ("card_declined", "Your card was declined."),
}
_OUTCOME_DECLINED: Final = {
    code: raw(
        {
            "advice_code": "try_again_later" if code == "insufficient_funds" else None,
            "network_advice_code": None,
            "network_decline_code": None,
            "network_status": "declined_by_network",
            "reason": code,
            "risk_level": "normal",
            "risk_score": 31,
            "seller_message": "The bank returned the decline code `" + code + "`.",
            "type": "issuer_declined",
        }
    )
    for code in _DECLINES
}
_BRANDS: Final = ("visa",) * 6 + ("mastercard",) * 3 + ("amex",)
_SYMBOLS: Final = {"usd": "$", "eur": "€", "gbp": "£"}
_NO_FEES: Final = Raw("[]")
_NO_INVOICE_CREATION: Final = raw(
    {
        "enabled": False,
        "invoice_data": {
            "account_tax_ids": None,
            "custom_fields": None,
            "description": None,
            "footer": None,
            "issuer": None,
            "metadata": {},
            "rendering_options": None,
        },
    }
)


def payment_method_id(customer: Customer) -> str:
    """The id of the customer's card (one per customer)."""
    return "pm_" + customer.id[4:] + "Card"


def _secret_of(intent_id: str) -> str:
    """The (made-up, fixed) client secret suffix of a PaymentIntent."""
    return hashlib.blake2b(intent_id.encode(), digest_size=12).hexdigest()


def _money(amount: int, currency: str) -> str:
    return f"{_SYMBOLS.get(currency, '')}{amount / 100:,.2f}"


def _card_of(customer: Customer, start: int) -> tuple[str, str, int, int, str]:
    """The customer's card: fixed by its id and email (one card per customer)."""
    h = zlib.crc32(customer.id.encode())
    year = dt.datetime.fromtimestamp(start, dt.UTC).year
    fingerprint = f"{h:08x}{zlib.crc32(customer.email.encode()):08x}"[:16]
    return (
        _BRANDS[h % 10],
        f"{(h // 10) % 10000:04d}",
        1 + (h >> 8) % 12,
        year + 1 + (h >> 12) % 5,
        fingerprint,
    )


def list_body(data: list[str], has_more: bool, url: str, total_count: int | None = None) -> str:
    """A list object around rendered objects (``total_count``: embedded lists that have one)."""
    more = "true" if has_more else "false"
    count = "" if total_count is None else f',"total_count":{total_count}'
    return f'{{"object":"list","data":[{",".join(data)}],"has_more":{more}{count},"url":"{url}"}}'


def account_json(account: Account) -> str:
    """The ``GET /v1/account`` object of ``account``."""
    return template("account").render(
        {
            "id": account.id,
            "business_profile": raw(
                {
                    "annual_revenue": None,
                    "estimated_worker_count": None,
                    "mcc": "5734",
                    "minority_owned_business_designation": None,
                    "name": account.name,
                    "product_description": "Analytics dashboards as a service.",
                    "support_address": None,
                    "support_email": account.email,
                    "support_phone": None,
                    "support_url": None,
                    "url": None,
                }
            ),
            "country": account.country,
            "created": account.created,
            "default_currency": account.default_currency,
            "email": account.email,
            "external_accounts": Raw(
                list_body([], False, f"/v1/accounts/{account.id}/external_accounts")
            ),
            "settings.bacs_debit_payments.display_name": account.name,
            "settings.dashboard.display_name": account.name,
            "settings.payments.statement_descriptor": account.name.upper()[:22],
            "tos_acceptance": raw({"date": account.created, "ip": None, "user_agent": None}),
        }
    )


class Renderer:
    """Renders one world's rows as one request sees them."""

    def __init__(self, world: World, *, now: int, legacy: bool, version: str = API_VERSION) -> None:
        self.w = world
        self.now = now
        self.legacy = legacy
        self.version = version
        self._snapshots: Renderer | None = None
        self._by_resource: dict[str, Callable[[Any, Tree], dict[str, Any]]] = {
            "customers": self._customer,
            "products": self._product,
            "prices": self._price,
            "subscriptions": self._subscription,
            "invoices": self._invoice,
            "charges": self._charge,
            "payment_intents": self._payment_intent,
            "refunds": self._refund,
            "balance_transactions": self._balance_transaction,
            "payouts": self._payout,
            "disputes": self._dispute,
            "events": self._event,
            "tax_rates": self._tax_rate,
            "coupons": self._coupon,
            "promotion_codes": self._promotion_code,
            "invoiceitems": self._invoiceitem,
            "setup_intents": self._setup_intent,
            "payment_methods": self._payment_method,
            "checkout_sessions": self._checkout_session,
            "credit_notes": self._credit_note,
            "subscription_schedules": self._subscription_schedule,
        }

    # --- entry points -------------------------------------------------------------------------

    def render(self, resource: str, row: Any, expand: Tree | None = None) -> str:
        """``row`` of ``resource`` as JSON text, expanded along ``expand``."""
        x = expand or {}
        if resource == "customers" and row.deleted:
            return template("deleted_customer").render({"id": row.id})
        values = self._by_resource[resource](row, x)
        text = template(KIND_OF[resource], self.legacy).render(values)
        if resource == "customers" and x.keys() & {"sources", "subscriptions", "tax_ids"}:
            text = self._with_includes(row, x, text)
        if resource == "checkout_sessions" and "line_items" in x:
            obj = json.loads(text)
            item_x = x["line_items"].get("data", {})
            obj["line_items"] = json.loads(
                self._embedded(
                    lambda p: self.checkout_item(p, item_x),
                    range(row.items_from, row.items_to),
                    f"/v1/checkout/sessions/{row.id}/line_items",
                )
            )
            text = json.dumps(obj, separators=(",", ":"))
        return text

    def at(self, resource: str, position: int, expand: Tree | None = None) -> str:
        return self.render(resource, self.w.table(resource).rows[position], expand)

    # --- helpers ------------------------------------------------------------------------------

    def _ref(self, x: Tree, field: str, resource: str, position: int) -> str | Raw | None:
        """The id at ``position`` of ``resource``, or its object when ``field`` is expanded."""
        if position < 0:
            return None
        sub = x.get(field)
        row = self.w.table(resource).rows[position]
        if sub is None:
            return str(row[0])
        return Raw(self.render(resource, row, sub))

    def _list(self, items: list[str], url: str) -> Raw:
        return Raw(list_body(items, False, url))

    # --- objects ------------------------------------------------------------------------------

    def _customer(self, row: Customer, x: Tree) -> dict[str, Any]:
        return {
            "id": row.id,
            "created": row.created,
            "currency": row.currency,
            "delinquent": row.delinquent,
            "email": row.email,
            "invoice_prefix": row.invoice_prefix,
            "livemode": self.w.livemode,
            "metadata": Raw(f'{{"sandbox_seq":"{row.seq}"}}'),
            "name": row.name,
        }

    def _with_includes(self, row: Customer, x: Tree, text: str) -> str:
        obj = json.loads(text)
        base = f"/v1/customers/{row.id}"
        if "sources" in x:
            obj["sources"] = json.loads(list_body([], False, f"{base}/sources"))
        if "tax_ids" in x:
            obj["tax_ids"] = json.loads(list_body([], False, f"{base}/tax_ids"))
        if "subscriptions" in x:
            subs = self.w.subscriptions
            position = self.w.customers.index[row.id]
            mine = [
                i
                for i in range(len(subs) - 1, -1, -1)
                if subs.rows[i].customer == position and subs.rows[i].status != "canceled"
            ]
            sub_x = x["subscriptions"].get("data", {})
            items = [self.at("subscriptions", i, sub_x) for i in mine[:10]]
            obj["subscriptions"] = json.loads(
                list_body(items, len(mine) > 10, f"{base}/subscriptions")
            )
        return json.dumps(obj, separators=(",", ":"))

    def _product(self, row: Product, x: Tree) -> dict[str, Any]:
        return {
            "id": row.id,
            "active": row.active,
            "created": row.created,
            "default_price": self._ref(x, "default_price", "prices", row.default_price),
            "description": row.description,
            "livemode": self.w.livemode,
            "name": row.name,
            "unit_label": row.unit_label,
            "updated": row.updated,
        }

    def _price(self, row: Price, x: Tree) -> dict[str, Any]:
        return {
            "id": row.id,
            "active": row.active,
            "created": row.created,
            "currency": row.currency,
            "livemode": self.w.livemode,
            "lookup_key": row.lookup_key,
            "nickname": row.nickname,
            "product": self._ref(x, "product", "products", row.product),
            "recurring": _RECURRING[row.interval] if row.interval else None,
            "type": "recurring" if row.interval else "one_time",
            "unit_amount": row.unit_amount,
            "unit_amount_decimal": str(row.unit_amount),
        }

    def _plan(self, row: Price, x: Tree) -> Raw:
        return Raw(
            template("plan").render(
                {
                    "id": row.id,
                    "active": row.active,
                    "amount": row.unit_amount,
                    "amount_decimal": str(row.unit_amount),
                    "created": row.created,
                    "currency": row.currency,
                    "interval": row.interval,
                    "livemode": self.w.livemode,
                    "nickname": row.nickname,
                    "product": self._ref(x, "product", "products", row.product),
                }
            )
        )

    def _embedded(self, render: Callable[[int], str], positions: Sequence[int], url: str) -> Raw:
        """An embedded list as Stripe sends it: the first :data:`EMBEDDED` entries, with
        ``has_more``, ``total_count`` and the ``url`` of the sub-list for the rest."""
        first = [render(p) for p in positions[:EMBEDDED]]
        return Raw(list_body(first, len(positions) > EMBEDDED, url, total_count=len(positions)))

    def subscription_item(self, position: int, sub: Subscription, x: Tree) -> str:
        """Subscription item ``position`` as it is in ``sub`` (its quantity is the sub's)."""
        item = self.w.subscription_items.rows[position]
        price = self.w.prices.rows[item.price]
        return template("subscription_item").render(
            {
                "id": item.id,
                "created": item.created,
                "current_period_end": sub.period_end,
                "current_period_start": sub.period_start,
                "plan": self._plan(price, x.get("plan", {})),
                "price": Raw(self.render("prices", price, x.get("price", {}))),
                "quantity": sub.quantities[item.slot],
                "subscription": sub.id,
            }
        )

    def _discount_id(self, sub: Subscription) -> str:
        return "di_" + sub.id[4:]

    def _subscription(self, row: Subscription, x: Tree) -> dict[str, Any]:
        item_x = x.get("items", {}).get("data", {})
        values = {
            "id": row.id,
            "billing_cycle_anchor": row.trial_end or row.created,
            "cancel_at": row.period_end if row.cancel_at_period_end else None,
            "cancel_at_period_end": row.cancel_at_period_end,
            "canceled_at": row.canceled_at,
            "cancellation_details": _CANCELLATION[row.cancel_reason],
            "created": row.created,
            "currency": row.currency,
            "customer": self._ref(x, "customer", "customers", row.customer),
            "default_tax_rates": Raw(
                f"[{self.at('tax_rates', row.tax_rate)}]" if row.tax_rate >= 0 else "[]"
            ),
            "discounts": Raw(f'["{self._discount_id(row)}"]' if row.coupon >= 0 else "[]"),
            "ended_at": row.ended_at,
            "items": self._embedded(
                lambda p: self.subscription_item(p, row, item_x),
                row.items,
                f"/v1/subscription_items?subscription={row.id}",
            ),
            "latest_invoice": self._ref(x, "latest_invoice", "invoices", row.latest_invoice),
            "livemode": self.w.livemode,
            "start_date": row.created,
            "status": row.status,
            "trial_end": row.trial_end,
            "trial_start": row.trial_start,
        }
        if self.legacy:
            values["current_period_end"] = row.period_end
            values["current_period_start"] = row.period_start
        return values

    def _invoice(self, row: Invoice, x: Tree) -> dict[str, Any]:
        w = self.w
        customer = w.customers.rows[row.customer]
        sub = w.subscriptions.rows[row.subscription]
        draft = row.status == "draft"
        url = f"https://invoice.stripe.com/i/{w.spec.account_id}/{w.spec.mode}_{row.id}"
        discount = self._discount_id(sub) if row.coupon >= 0 else None
        line_x = x.get("lines", {}).get("data", {})
        taxes = "[]"
        if row.tax_rate >= 0:
            taxes = "[" + self._taxes(row.tax, row.subtotal - row.discount, row.tax_rate) + "]"
        values = {
            "id": row.id,
            "account_country": "US",
            "account_name": w.spec.account_name,
            "amount_due": row.amount_due,
            "amount_paid": row.amount_paid,
            "amount_remaining": row.amount_due - row.amount_paid,
            "attempt_count": row.attempt_count,
            "attempted": row.attempt_count > 0,
            "auto_advance": row.status in ("draft", "open"),
            "billing_reason": row.billing_reason,
            "created": row.created,
            "currency": row.currency,
            "customer": self._ref(x, "customer", "customers", row.customer),
            "customer_email": customer.email,
            "customer_name": customer.name,
            "discounts": Raw(f'["{discount}"]' if discount else "[]"),
            "due_date": None,
            "effective_at": row.finalized_at,
            "ending_balance": None if draft else 0,
            "hosted_invoice_url": None if draft else url,
            "invoice_pdf": None if draft else url + "/pdf",
            "lines": self._embedded(
                lambda p: self.line(p, line_x),
                range(row.lines_from, row.lines_to),
                f"/v1/invoices/{row.id}/lines",
            ),
            "livemode": w.livemode,
            "next_payment_attempt": row.next_payment_attempt,
            "number": None if draft else row.number,
            "parent": Raw(
                '{"quote_details":null,"subscription_details":{"metadata":{},"subscription":'
                f'"{sub.id}"}},"type":"subscription_details"}}'
            ),
            "period_end": row.created,
            "period_start": row.billed_from,
            "status": row.status,
            "status_transitions": Raw(
                f'{{"finalized_at":{encode(row.finalized_at)},'
                f'"marked_uncollectible_at":{encode(row.uncollectible_at)},'
                f'"paid_at":{encode(row.paid_at)},"voided_at":null}}'
            ),
            "subscription": self._ref(x, "subscription", "subscriptions", row.subscription),
            "subtotal": row.subtotal,
            "subtotal_excluding_tax": row.subtotal,
            "total": row.amount_due,
            "total_discount_amounts": Raw(
                f'[{{"amount":{row.discount},"discount":"{discount}"}}]' if discount else "[]"
            ),
            "total_excluding_tax": row.subtotal - row.discount,
            "total_taxes": Raw(taxes),
            "webhooks_delivered_at": row.created,
        }
        if self.legacy:
            values["charge"] = self._ref(x, "charge", "charges", row.charge)
            values["payment_intent"] = self._ref(
                x, "payment_intent", "payment_intents", row.payment_intent
            )
            values["paid"] = row.status == "paid"
        return values

    def _taxes(self, amount: int, taxable: int, tax_rate: int) -> str:
        rate = self.w.tax_rates.rows[tax_rate].id
        return (
            f'{{"amount":{amount},"tax_behavior":"exclusive","tax_rate_details":'
            f'{{"tax_rate":"{rate}"}},"taxability_reason":"standard_rated",'
            f'"taxable_amount":{taxable},"type":"tax_rate_details"}}'
        )

    def line(self, position: int, x: Tree) -> str:
        """Invoice line ``position`` (an invoice's ``lines`` and ``/v1/invoices/{id}/lines``)."""
        w = self.w
        row = w.invoice_lines.rows[position]
        invoice = w.invoices.rows[row.invoice]
        sub = w.subscriptions.rows[invoice.subscription]
        price = w.prices.rows[row.price]
        product = w.products.rows[price.product]
        item = (
            w.subscription_items.rows[row.subscription_item] if row.subscription_item >= 0 else None
        )
        if row.invoice_item >= 0:
            ii = w.invoiceitems.rows[row.invoice_item]
            description = ii.description
            parent = Raw(
                f'{{"invoice_item_details":{{"invoice_item":"{ii.id}",'
                f'"proration":{encode(row.proration)},"proration_details":'
                f'{{"credited_items":null}},"subscription":"{sub.id}"}},'
                '"subscription_item_details":null,"type":"invoice_item_details"}'
            )
        else:
            assert item is not None
            if invoice.amount_due == 0 and row.amount == 0 and sub.trial_end:
                description = f"Trial period for {product.name}"
            else:
                interval = price.interval or "once"
                description = (
                    f"{row.quantity} × {product.name} "
                    f"(at {_money(price.unit_amount, price.currency)} / {interval})"
                )
            parent = Raw(
                '{"invoice_item_details":null,"subscription_item_details":{"invoice_item":null,'
                '"proration":false,"proration_details":{"credited_items":null},'
                f'"subscription":"{sub.id}","subscription_item":"{item.id}"}},'
                '"type":"subscription_item_details"}'
            )
        discount = self._discount_id(sub) if invoice.coupon >= 0 else None
        values = {
            "id": row.id,
            "amount": row.amount,
            "currency": price.currency,
            "description": description,
            "discount_amounts": Raw(
                f'[{{"amount":{row.discount},"discount":"{discount}"}}]' if discount else "[]"
            ),
            "discounts": Raw(f'["{discount}"]' if discount else "[]"),
            "invoice": invoice.id,
            "livemode": w.livemode,
            "parent": parent,
            "period": Raw(f'{{"end":{row.period_end},"start":{row.period_start}}}'),
            "pricing": Raw(
                f'{{"price_details":{{"price":"{price.id}","product":"{product.id}"}},'
                f'"type":"price_details","unit_amount_decimal":"{price.unit_amount}"}}'
            ),
            "quantity": row.quantity,
            "subscription": self._ref(x, "subscription", "subscriptions", invoice.subscription),
            "subtotal": row.amount,
            "taxes": Raw(
                "[" + self._taxes(row.tax, row.amount - row.discount, invoice.tax_rate) + "]"
                if invoice.tax_rate >= 0
                else "[]"
            ),
        }
        if self.legacy:
            values["amount_excluding_tax"] = row.amount
            values["price"] = Raw(self.render("prices", price, x.get("price", {})))
            values["proration"] = row.proration
            values["subscription_item"] = item.id if item is not None else None
            values["tax_amounts"] = Raw(
                f'[{{"amount":{row.tax},"inclusive":false,'
                f'"tax_rate":"{w.tax_rates.rows[invoice.tax_rate].id}",'
                f'"taxability_reason":"standard_rated","taxable_amount":'
                f"{row.amount - row.discount}}}]"
                if invoice.tax_rate >= 0
                else "[]"
            )
            values["type"] = "invoiceitem" if row.invoice_item >= 0 else "subscription"
            values["unit_amount_excluding_tax"] = str(price.unit_amount)
            if item is None:  # "left empty" (absent) when no subscription item made the line
                text = template("line_item", True).render(values)
                return text.replace(',"subscription_item":null', "", 1)
        return template("line_item", self.legacy).render(values)

    def _tax_rate(self, row: TaxRate, x: Tree) -> dict[str, Any]:
        return {
            "id": row.id,
            "country": row.country,
            "created": row.created,
            "description": row.description,
            "display_name": row.display_name,
            "jurisdiction": row.jurisdiction,
            "jurisdiction_level": "state" if row.state else "country",
            "livemode": self.w.livemode,
            "percentage": row.percentage,
            "state": row.state,
            "tax_type": row.tax_type,
        }

    def _coupon(self, row: Coupon, x: Tree) -> dict[str, Any]:
        return {
            "id": row.id,
            "amount_off": row.amount_off,
            "created": row.created,
            "currency": row.currency,
            "duration": row.duration,
            "duration_in_months": row.duration_in_months,
            "livemode": self.w.livemode,
            "name": row.name,
            "percent_off": row.percent_off,
            "times_redeemed": row.times_redeemed,
        }

    def _promotion_code(self, row: PromotionCode, x: Tree) -> dict[str, Any]:
        coupon = self.w.coupons.rows[row.coupon]
        return {
            "id": row.id,
            "code": row.code,
            "created": row.created,
            "livemode": self.w.livemode,
            "promotion": Raw(f'{{"coupon":"{coupon.id}","type":"coupon"}}'),
            "times_redeemed": row.times_redeemed,
        }

    def _setup_intent(self, row: SetupIntent, x: Tree) -> dict[str, Any]:
        customer = self.w.customers.rows[row.customer]
        done = row.status == "succeeded"
        return {
            "id": row.id,
            "client_secret": f"{row.id}_secret_{_secret_of(row.id)}",
            "created": row.created,
            "customer": self._ref(x, "customer", "customers", row.customer),
            "livemode": self.w.livemode,
            "payment_method": payment_method_id(customer) if done else None,
            "status": row.status,
        }

    def _payment_method(self, row: Customer, x: Tree) -> dict[str, Any]:
        """The customer's card (one per customer; rendered from the customer's row)."""
        brand, last4, month, year, fingerprint = self._card(row)
        return {
            "id": payment_method_id(row),
            "billing_details.email": row.email,
            "billing_details.name": row.name,
            "card.brand": brand,
            "card.display_brand": brand,
            "card.exp_month": month,
            "card.exp_year": year,
            "card.fingerprint": fingerprint,
            "card.generated_from": None,
            "card.last4": last4,
            "card.networks.available": Raw(f'["{brand}"]'),
            "card.wallet": None,
            "created": row.created,
            "customer": None if row.deleted else self._customer_ref(x, row),
            "livemode": self.w.livemode,
        }

    def _customer_ref(self, x: Tree, row: Customer) -> str | Raw:
        if "customer" not in x:
            return row.id
        return Raw(self.render("customers", row, x["customer"]))

    def balance(self) -> str:
        """``GET /v1/balance``: what the balance transactions make available and pending (in
        usd); a payout leaves the available balance when it is made."""
        available = pending = 0
        for txn in self.w.balance_transactions.rows:
            if txn.type == "payout" or txn.available_on <= self.now:
                available += txn.net
            else:
                pending += txn.net
        return template("balance").render(
            {
                "available": Raw(
                    f'[{{"amount":{available},"currency":"usd",'
                    f'"source_types":{{"card":{available}}}}}]'
                ),
                "livemode": self.w.livemode,
                "pending": Raw(
                    f'[{{"amount":{pending},"currency":"usd","source_types":{{"card":{pending}}}}}]'
                ),
            }
        )

    def _checkout_session(self, row: CheckoutSession, x: Tree) -> dict[str, Any]:
        w = self.w
        customer = w.customers.rows[row.customer]
        total = row.subtotal - row.discount + row.tax
        discounts = "[]"
        if row.coupon >= 0:
            code = (
                encode(w.promotion_codes.rows[row.promotion_code].id)
                if row.promotion_code >= 0
                else "null"
            )
            discounts = f'[{{"coupon":"{w.coupons.rows[row.coupon].id}","promotion_code":{code}}}]'
        return {
            "id": row.id,
            "amount_subtotal": row.subtotal,
            "amount_total": total,
            "created": row.created,
            "currency": row.currency,
            "customer": self._ref(x, "customer", "customers", row.customer),
            "customer_details.email": customer.email,
            "customer_details.name": customer.name,
            "discounts": Raw(discounts),
            "expires_at": row.created + 86_400,
            "invoice": self._ref(x, "invoice", "invoices", row.invoice),
            "invoice_creation": _NO_INVOICE_CREATION if row.mode == "payment" else None,
            "livemode": w.livemode,
            "mode": row.mode,
            "payment_intent": self._ref(x, "payment_intent", "payment_intents", row.payment_intent),
            "payment_status": "paid" if total > 0 else "no_payment_required",
            "status": "complete",
            "subscription": self._ref(x, "subscription", "subscriptions", row.subscription),
            "total_details": Raw(
                f'{{"amount_discount":{row.discount},"amount_shipping":0,"amount_tax":{row.tax}}}'
            ),
            "url": None,
        }

    def _subscription_schedule(self, row: SubscriptionSchedule, x: Tree) -> dict[str, Any]:
        w = self.w
        sub = w.subscriptions.rows[row.subscription]
        items = ",".join(
            f'{{"billing_thresholds":null,"discounts":[],"metadata":{{}},'
            f'"plan":"{w.prices.rows[p].id}","price":"{w.prices.rows[p].id}",'
            f'"quantity":{q},"tax_rates":[]}}'
            for p, q in zip(row.prices, row.quantities, strict=True)
        )
        discounts = "[]"
        if row.coupon >= 0:
            coupon = w.coupons.rows[row.coupon].id
            discounts = f'[{{"coupon":"{coupon}","discount":null,"promotion_code":null}}]'
        taxes = f"[{self.at('tax_rates', row.tax_rate)}]" if row.tax_rate >= 0 else "[]"
        phase = (
            f'{{"add_invoice_items":[],"application_fee_percent":null,'
            f'"billing_cycle_anchor":null,"billing_thresholds":null,"collection_method":null,'
            f'"currency":"{row.currency}","default_payment_method":null,'
            f'"default_tax_rates":{taxes},"description":null,"discounts":{discounts},'
            f'"end_date":{row.end_date},"invoice_settings":null,"items":[{items}],'
            f'"metadata":{{}},"on_behalf_of":null,"proration_behavior":"create_prorations",'
            f'"start_date":{row.start_date},"transfer_data":null,"trial_end":null}}'
        )
        active = row.status == "active"
        return {
            "id": row.id,
            "canceled_at": row.canceled_at,
            "completed_at": None,
            "created": row.created,
            "current_phase": (
                Raw(f'{{"end_date":{row.end_date},"start_date":{row.start_date}}}')
                if active
                else None
            ),
            "customer": self._ref(x, "customer", "customers", row.customer),
            "livemode": w.livemode,
            "phases": Raw(f"[{phase}]"),
            "released_at": row.released_at,
            "released_subscription": sub.id if row.status == "released" else None,
            "status": row.status,
            "subscription": (
                self._ref(x, "subscription", "subscriptions", row.subscription) if active else None
            ),
        }

    def checkout_item(self, position: int, x: Tree) -> str:
        """Line item ``position`` of a Checkout session (``line_items``)."""
        row = self.w.checkout_line_items.rows[position]
        price = self.w.prices.rows[row.price]
        return template("item").render(
            {
                "id": row.id,
                "amount_discount": row.discount,
                "amount_subtotal": row.subtotal,
                "amount_tax": row.tax,
                "amount_total": row.subtotal - row.discount + row.tax,
                "currency": price.currency,
                "description": self.w.products.rows[price.product].name,
                "price": Raw(self.render("prices", price, x.get("price", {}))),
                "quantity": row.quantity,
            }
        )

    def _credit_note(self, row: CreditNote, x: Tree) -> dict[str, Any]:
        w = self.w
        invoice = w.invoices.rows[row.invoice]
        refund = w.refunds.rows[row.refund]
        total = row.subtotal - row.discount + row.tax
        sub = w.subscriptions.rows[invoice.subscription]
        discount = (
            f'[{{"amount":{row.discount},"discount":"{self._discount_id(sub)}"}}]'
            if row.discount
            else "[]"
        )
        taxes = "[]"
        if invoice.tax_rate >= 0 and row.lines_to - row.lines_from and row.tax:
            taxes = "[" + self._taxes(row.tax, row.subtotal - row.discount, invoice.tax_rate) + "]"
        line_x = x.get("lines", {}).get("data", {})
        return {
            "id": row.id,
            "amount": total,
            "created": row.created,
            "currency": invoice.currency,
            "customer": self._ref(x, "customer", "customers", row.customer),
            "discount_amount": row.discount,
            "discount_amounts": Raw(discount),
            "effective_at": row.created,
            "invoice": self._ref(x, "invoice", "invoices", row.invoice),
            "lines": self._embedded(
                lambda p: self.credit_note_line(p, line_x),
                range(row.lines_from, row.lines_to),
                f"/v1/credit_notes/{row.id}/lines",
            ),
            "livemode": w.livemode,
            "number": row.number,
            "pdf": f"https://pay.stripe.com/credit_notes/{w.spec.account_id}/{row.id}/pdf",
            "post_payment_amount": total,
            "pre_payment_amount": 0,
            "refunds": Raw(
                f'[{{"amount_refunded":{refund.amount},"payment_record_refund":null,'
                f'"refund":"{refund.id}","type":"refund"}}]'
            ),
            "subtotal": row.subtotal,
            "subtotal_excluding_tax": row.subtotal,
            "total": total,
            "total_excluding_tax": row.subtotal - row.discount,
            "total_taxes": Raw(taxes),
        }

    def credit_note_line(self, position: int, x: Tree) -> str:
        """Line ``position`` of a credit note (its ``lines`` and its sub-list)."""
        w = self.w
        row = w.credit_note_lines.rows[position]
        note = w.credit_notes.rows[row.credit_note]
        invoice = w.invoices.rows[note.invoice]
        sub = w.subscriptions.rows[invoice.subscription]
        custom = row.invoice_line < 0
        if custom:
            description = "Partial refund"
        else:
            price = w.prices.rows[w.invoice_lines.rows[row.invoice_line].price]
            description = w.products.rows[price.product].name
        taxes = "[]"
        if not custom and invoice.tax_rate >= 0:
            taxes = "[" + self._taxes(row.tax, row.amount - row.discount, invoice.tax_rate) + "]"
        text = template("credit_note_line_item").render(
            {
                "id": row.id,
                "amount": row.amount,
                "description": description,
                "discount_amount": row.discount,
                "discount_amounts": Raw(
                    f'[{{"amount":{row.discount},"discount":"{self._discount_id(sub)}"}}]'
                    if row.discount
                    else "[]"
                ),
                "invoice_line_item": None if custom else w.invoice_lines.rows[row.invoice_line].id,
                "livemode": w.livemode,
                "quantity": row.quantity,
                "taxes": Raw(taxes),
                "type": "custom_line_item" if custom else "invoice_line_item",
                "unit_amount": row.amount if custom else None,
                "unit_amount_decimal": str(row.amount) if custom else None,
            }
        )
        # A custom line has no invoice line: the field is left out (it is not nullable).
        return text.replace(',"invoice_line_item":null', "", 1) if custom else text

    def _invoiceitem(self, row: InvoiceItem, x: Tree) -> dict[str, Any]:
        w = self.w
        price = w.prices.rows[row.price]
        sub = w.subscriptions.rows[row.subscription]
        return {
            "id": row.id,
            "amount": row.amount,
            "currency": row.currency,
            "customer": self._ref(x, "customer", "customers", row.customer),
            "date": row.created,
            "description": row.description,
            "invoice": self._ref(x, "invoice", "invoices", row.invoice),
            "livemode": w.livemode,
            "net_amount": row.amount,
            "parent": Raw(
                f'{{"subscription_details":{{"subscription":"{sub.id}"}},'
                '"type":"subscription_details"}'
            ),
            "period": Raw(f'{{"end":{row.period_end},"start":{row.period_start}}}'),
            "pricing": Raw(
                f'{{"price_details":{{"price":"{price.id}","product":"'
                f'{w.products.rows[price.product].id}"}},"type":"price_details",'
                f'"unit_amount_decimal":"{price.unit_amount}"}}'
            ),
            "proration": row.proration,
            "quantity": row.quantity,
            "quantity_decimal": str(row.quantity),
        }

    def _card(self, customer: Customer) -> tuple[str, str, int, int, str]:
        """(brand, last4, exp_month, exp_year, fingerprint) of the customer's card."""
        cards = self.w.cards
        card = cards.get(customer.id)
        if card is None:
            card = cards[customer.id] = _card_of(customer, self.w.spec.start)
        return card

    def _charge(self, row: Charge, x: Tree) -> dict[str, Any]:
        w = self.w
        customer = w.customers.rows[row.customer]
        brand, last4, month, year, fingerprint = self._card(customer)
        ok = row.status == "succeeded"
        decline = _DECLINES.get(row.decline_code or "")
        refunds_x = x.get("refunds", {}).get("data", {})
        values = {
            "id": row.id,
            "amount": row.amount,
            "amount_captured": row.amount if ok else 0,
            "amount_refunded": row.amount_refunded,
            "balance_transaction": self._ref(
                x, "balance_transaction", "balance_transactions", row.balance_transaction
            ),
            "billing_details.email": customer.email,
            "billing_details.name": customer.name,
            "calculated_statement_descriptor": "SANDBOX* ANALYTICS",
            "captured": ok,
            "created": row.created,
            "currency": row.currency,
            "customer": self._ref(x, "customer", "customers", row.customer),
            "description": row.description,
            "disputed": row.disputed,
            "failure_code": decline[0] if decline else None,
            "failure_message": decline[1] if decline else None,
            "livemode": w.livemode,
            "outcome": _OUTCOME_OK if ok else _OUTCOME_DECLINED[row.decline_code or ""],
            "paid": ok,
            "payment_intent": self._ref(x, "payment_intent", "payment_intents", row.payment_intent),
            "payment_method": payment_method_id(customer),
            "payment_method_details.card.amount_authorized": row.amount if ok else None,
            "payment_method_details.card.brand": brand,
            "payment_method_details.card.exp_month": month,
            "payment_method_details.card.exp_year": year,
            "payment_method_details.card.fingerprint": fingerprint,
            "payment_method_details.card.last4": last4,
            "payment_method_details.card.network": brand,
            "payment_method_details.card.overcapture.maximum_amount_capturable": row.amount,
            "receipt_url": f"https://pay.stripe.com/receipts/payment/{row.id}" if ok else None,
            "refunded": row.amount_refunded > 0 and row.amount_refunded >= row.amount,
            "refunds": self._list(
                [self.at("refunds", r, refunds_x) for r in reversed(row.refunds)],
                f"/v1/charges/{row.id}/refunds",
            ),
            "status": row.status,
        }
        if self.legacy:
            values["invoice"] = self._ref(x, "invoice", "invoices", row.invoice)
        return values

    def _payment_intent(self, row: PaymentIntent, x: Tree) -> dict[str, Any]:
        w = self.w
        error: Raw | None = None
        method = None
        if row.latest_charge >= 0:
            charge = w.charges.rows[row.latest_charge]
            method = payment_method_id(w.customers.rows[charge.customer])
            decline = _DECLINES.get(row.decline_code or "")
            if decline is not None and row.status != "succeeded":
                error = raw(
                    {
                        "charge": charge.id,
                        "code": decline[0],
                        "decline_code": row.decline_code,
                        "doc_url": "https://stripe.com/docs/error-codes/"
                        + decline[0].replace("_", "-"),
                        "message": decline[1],
                        "type": "card_error",
                    }
                )
        values = {
            "id": row.id,
            "amount": row.amount,
            "amount_received": row.amount if row.status == "succeeded" else 0,
            "client_secret": f"{row.id}_secret_{_secret_of(row.id)}",
            "created": row.created,
            "currency": row.currency,
            "customer": self._ref(x, "customer", "customers", row.customer),
            "description": row.description,
            "last_payment_error": error,
            "latest_charge": self._ref(x, "latest_charge", "charges", row.latest_charge),
            "livemode": w.livemode,
            "payment_method": method,
            "status": row.status,
        }
        if self.legacy:
            values["invoice"] = self._ref(x, "invoice", "invoices", row.invoice)
        return values

    def _refund(self, row: Refund, x: Tree) -> dict[str, Any]:
        return {
            "id": row.id,
            "amount": row.amount,
            "balance_transaction": self._ref(
                x, "balance_transaction", "balance_transactions", row.balance_transaction
            ),
            "charge": self._ref(x, "charge", "charges", row.charge),
            "created": row.created,
            "currency": row.currency,
            "payment_intent": self._ref(x, "payment_intent", "payment_intents", row.payment_intent),
            "reason": row.reason,
        }

    def _balance_transaction(self, row: BalanceTransaction, x: Tree) -> dict[str, Any]:
        source: str | Raw = row.source
        sub = x.get("source")
        if sub is not None:
            resource = SOURCE_PREFIXES[row.source[:3]]
            position = self.w.table(resource).index[row.source]
            wanted = {k: v for k, v in sub.items() if k in _expandable_on(resource)}
            source = Raw(self.at(resource, position, wanted))
        fees: Raw = _NO_FEES
        if row.fee:
            label = "Dispute fee" if row.type == "adjustment" else "Stripe processing fees"
            fees = Raw(
                f'[{{"amount":{row.fee},"application":null,"currency":"usd",'
                f'"description":"{label}","type":"stripe_fee"}}]'
            )
        return {
            "id": row.id,
            "amount": row.amount,
            "available_on": row.available_on,
            "created": row.created,
            "currency": row.currency,
            "description": row.description,
            "exchange_rate": row.exchange_rate,
            "fee": row.fee,
            "fee_details": fees,
            "net": row.net,
            "reporting_category": row.reporting_category,
            "source": source,
            "status": "available" if row.available_on <= self.now else "pending",
            "type": row.type,
        }

    def _payout(self, row: Payout, x: Tree) -> dict[str, Any]:
        return {
            "id": row.id,
            "amount": row.amount,
            "arrival_date": row.arrival_date,
            "balance_transaction": self._ref(
                x, "balance_transaction", "balance_transactions", row.balance_transaction
            ),
            "created": row.created,
            "destination": row.destination,
            "livemode": self.w.livemode,
            "reconciliation_status": "completed" if row.status == "paid" else "in_progress",
            "status": row.status,
        }

    def _dispute(self, row: Dispute, x: Tree) -> dict[str, Any]:
        txn_x = x.get("balance_transactions", {})
        txns = ",".join(self.at("balance_transactions", t, txn_x) for t in row.balance_transactions)
        return {
            "id": row.id,
            "amount": row.amount,
            "balance_transactions": Raw(f"[{txns}]"),
            "charge": self._ref(x, "charge", "charges", row.charge),
            "created": row.created,
            "currency": row.currency,
            "evidence_details": Raw(
                f'{{"due_by":{row.due_by},"enhanced_eligibility":{{}},"has_evidence":false,'
                '"past_due":false,"submission_count":0}'
            ),
            "livemode": self.w.livemode,
            "payment_intent": self._ref(x, "payment_intent", "payment_intents", row.payment_intent),
            "reason": row.reason,
            "status": row.status,
        }

    def _event(self, row: Event, x: Tree) -> dict[str, Any]:
        snapshot = self._snapshots
        if snapshot is None:
            snapshot = self._snapshots = Renderer(self.w, now=row.created, legacy=False)
        snapshot.now = row.created  # the object as it was then, in the events' API version
        obj = snapshot.render(row.resource, row.row)
        if row.before is None:
            data = f'{{"object":{obj}}}'
        else:
            previous = snapshot.previous_attributes(row.resource, row.before, row.row)
            data = f'{{"object":{obj},"previous_attributes":{previous}}}'
        return {
            "id": row.id,
            "api_version": API_VERSION,
            "created": row.created,
            "data": Raw(data),
            "livemode": self.w.livemode,
            "type": row.type,
        }

    def previous_attributes(self, resource: str, before: Any, after: Any) -> str:
        """The top-level fields of ``before`` that ``after`` changed, with their old values."""
        fill = self._by_resource[resource]
        old, new = fill(before, {}), fill(after, {})
        changed = sorted({name.split(".")[0] for name, value in old.items() if new[name] != value})
        if not changed and resource == "subscriptions":
            # Only an item past the first 10 changed: the embedded list is what changed.
            changed = ["items"]
        whole: dict[str, Any] | None = None
        parts = []
        for key in changed:
            if key in old:
                parts.append(f"{encode(key)}:{encode(old[key])}")
            else:  # a field inside a nested object changed: take the whole old object
                whole = whole or json.loads(self.render(resource, before))
                parts.append(f"{encode(key)}:{encode(whole[key])}")
        return "{" + ",".join(parts) + "}"


def _expandable_on(resource: str) -> dict[str, Any]:
    return EXPANDABLE[KIND_OF[resource]]
