"""The sandbox's stored state of each Stripe object: one immutable row per object.

A row holds only what varies between objects; everything else comes from Stripe's example
object when the row is rendered (:mod:`._render`). References to other objects are positions
in the same world's table of that resource (``-1``: none). Rows are never changed in place: an
update stores a new row, so an event can keep the row it was about as its snapshot for free.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from typing import Any, Generic, NamedTuple, TypeVar

__all__ = [
    "BalanceTransaction",
    "Charge",
    "CheckoutItem",
    "CheckoutSession",
    "Coupon",
    "CreditNote",
    "CreditNoteLine",
    "Customer",
    "Dispute",
    "Event",
    "Invoice",
    "InvoiceItem",
    "InvoiceLine",
    "PaymentIntent",
    "Payout",
    "Price",
    "Product",
    "PromotionCode",
    "Refund",
    "Row",
    "SetupIntent",
    "Subscription",
    "SubscriptionItem",
    "SubscriptionSchedule",
    "Table",
    "TaxRate",
    "replace",
]


class Customer(NamedTuple):
    id: str
    created: int
    name: str
    email: str
    currency: str
    invoice_prefix: str
    seq: int
    delinquent: bool = False
    deleted: bool = False


class Product(NamedTuple):
    id: str
    created: int
    updated: int
    name: str
    description: str
    active: bool
    default_price: int
    unit_label: str | None


class Price(NamedTuple):
    id: str
    created: int
    product: int
    currency: str
    unit_amount: int
    interval: str | None
    active: bool
    lookup_key: str | None
    nickname: str | None


class SubscriptionItem(NamedTuple):
    """One price on a subscription; its quantity lives in the subscription's row
    (``quantities[slot]``), so an event's snapshot of the subscription keeps its quantities."""

    id: str
    created: int
    subscription: int
    price: int
    slot: int


class Subscription(NamedTuple):
    id: str
    created: int
    customer: int
    items: tuple[int, ...]
    quantities: tuple[int, ...]
    currency: str
    interval: str
    status: str
    period_start: int
    period_end: int
    latest_invoice: int
    coupon: int = -1
    promotion_code: int = -1
    tax_rate: int = -1
    trial_start: int | None = None
    trial_end: int | None = None
    cancel_at_period_end: bool = False
    canceled_at: int | None = None
    ended_at: int | None = None
    cancel_reason: str | None = None


class Invoice(NamedTuple):
    """``lines_from``..``lines_to``: its lines (positions in ``invoice_lines``, in order);
    ``amount_due`` = ``subtotal`` - ``discount`` + ``tax``, each the sum over the lines."""

    id: str
    created: int
    customer: int
    subscription: int
    currency: str
    number: str
    billing_reason: str
    status: str
    amount_due: int
    amount_paid: int
    attempt_count: int
    period_start: int
    period_end: int
    billed_from: int
    lines_from: int
    lines_to: int
    subtotal: int
    discount: int
    tax: int
    coupon: int = -1
    tax_rate: int = -1
    finalized_at: int | None = None
    paid_at: int | None = None
    uncollectible_at: int | None = None
    next_payment_attempt: int | None = None
    charge: int = -1
    payment_intent: int = -1


class InvoiceLine(NamedTuple):
    """One line of an invoice: a subscription item for a period, or an invoice item
    (``invoice_item``; a proration or a one-off). ``discount`` and ``tax`` are this line's."""

    id: str
    created: int
    invoice: int
    price: int
    quantity: int
    amount: int
    discount: int
    tax: int
    period_start: int
    period_end: int
    subscription_item: int
    invoice_item: int
    proration: bool


class InvoiceItem(NamedTuple):
    id: str
    created: int
    customer: int
    subscription: int
    subscription_item: int
    price: int
    quantity: int
    amount: int
    currency: str
    description: str
    period_start: int
    period_end: int
    proration: bool
    invoice: int


class SetupIntent(NamedTuple):
    """A customer saving their card (its payment method is the customer's card)."""

    id: str
    created: int
    customer: int
    status: str


class CheckoutSession(NamedTuple):
    """A completed Checkout: a subscription's start (its items are the first invoice's
    lines) or a one-off purchase. ``items_from``..``items_to``: its line items."""

    id: str
    created: int
    customer: int
    mode: str
    subscription: int
    invoice: int
    payment_intent: int
    currency: str
    items_from: int
    items_to: int
    subtotal: int
    discount: int
    tax: int
    coupon: int
    promotion_code: int


class CheckoutItem(NamedTuple):
    id: str
    created: int
    session: int
    price: int
    quantity: int
    subtotal: int
    discount: int
    tax: int


class CreditNote(NamedTuple):
    """A credit note for a refund of an invoice's payment: every line of the invoice for a
    whole refund, one custom line for a partial one."""

    id: str
    created: int
    customer: int
    invoice: int
    refund: int
    number: str
    subtotal: int
    discount: int
    tax: int
    lines_from: int
    lines_to: int


class CreditNoteLine(NamedTuple):
    """``invoice_line``: the invoice line it credits (-1: a custom line)."""

    id: str
    created: int
    credit_note: int
    invoice_line: int
    quantity: int
    amount: int
    discount: int
    tax: int


class SubscriptionSchedule(NamedTuple):
    """A schedule that started a subscription with one phase (its first period) and releases
    it at the phase's end (``status``: active, then released; canceled with the
    subscription)."""

    id: str
    created: int
    customer: int
    subscription: int
    prices: tuple[int, ...]
    quantities: tuple[int, ...]
    currency: str
    coupon: int
    tax_rate: int
    start_date: int
    end_date: int
    status: str = "active"
    released_at: int | None = None
    canceled_at: int | None = None


class Coupon(NamedTuple):
    id: str
    created: int
    name: str
    percent_off: float | None
    amount_off: int | None
    currency: str | None
    duration: str
    duration_in_months: int | None
    times_redeemed: int = 0


class PromotionCode(NamedTuple):
    id: str
    created: int
    code: str
    coupon: int
    times_redeemed: int = 0


class TaxRate(NamedTuple):
    id: str
    created: int
    display_name: str
    description: str
    percentage: float
    country: str
    state: str | None
    jurisdiction: str
    tax_type: str


class PaymentIntent(NamedTuple):
    id: str
    created: int
    customer: int
    invoice: int
    amount: int
    currency: str
    status: str
    latest_charge: int
    description: str | None
    decline_code: str | None = None


class Charge(NamedTuple):
    id: str
    created: int
    customer: int
    payment_intent: int
    invoice: int
    amount: int
    currency: str
    status: str
    balance_transaction: int
    description: str | None
    decline_code: str | None = None
    amount_refunded: int = 0
    refunds: tuple[int, ...] = ()
    disputed: bool = False


class Refund(NamedTuple):
    id: str
    created: int
    charge: int
    payment_intent: int
    amount: int
    currency: str
    balance_transaction: int
    reason: str


class BalanceTransaction(NamedTuple):
    id: str
    created: int
    amount: int
    currency: str
    fee: int
    net: int
    type: str
    source: str
    available_on: int
    description: str | None
    exchange_rate: float | None
    reporting_category: str


class Payout(NamedTuple):
    id: str
    created: int
    amount: int
    arrival_date: int
    status: str
    balance_transaction: int
    first_txn: int
    end_txn: int
    destination: str


class Dispute(NamedTuple):
    id: str
    created: int
    charge: int
    payment_intent: int
    amount: int
    currency: str
    status: str
    reason: str
    balance_transactions: tuple[int, ...]
    due_by: int


class Event(NamedTuple):
    """``row`` is the object after the change (its resource's row); ``before`` the one before
    an update (``previous_attributes`` is their difference), else None."""

    id: str
    created: int
    type: str
    resource: str
    row: Any
    before: Any = None


Row = (
    Customer
    | Product
    | Price
    | Subscription
    | SubscriptionItem
    | Invoice
    | InvoiceLine
    | InvoiceItem
    | Coupon
    | PromotionCode
    | TaxRate
    | SetupIntent
    | CheckoutSession
    | CheckoutItem
    | CreditNote
    | CreditNoteLine
    | SubscriptionSchedule
    | PaymentIntent
    | Charge
    | Refund
    | BalanceTransaction
    | Payout
    | Dispute
    | Event
)
R = TypeVar("R", bound=tuple[Any, ...])
_FIELD_INDEX: dict[type, dict[str, int]] = {}


def replace(row: R, **changes: Any) -> R:
    """``row`` with ``changes`` (NamedTuple's ``_replace``, about three times faster)."""
    kind = type(row)
    index = _FIELD_INDEX.get(kind)
    if index is None:
        fields: tuple[str, ...] = getattr(row, "_fields")  # noqa: B009 - any NamedTuple
        index = _FIELD_INDEX[kind] = {name: i for i, name in enumerate(fields)}
    values = list(row)
    for name, value in changes.items():
        values[index[name]] = value
    return tuple.__new__(kind, values)


class Table(Generic[R]):
    """One resource's rows in creation order (``created`` never decreases along positions)."""

    def __init__(self, resource: str) -> None:
        self.resource = resource
        self.rows: list[R] = []
        self.index: dict[str, int] = {}
        self.created: list[int] = []
        #: Bumped by every change, so cached filter results know when they are stale.
        self.version = 0

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[R]:
        return iter(self.rows)

    def add(self, row: R) -> int:
        """Append ``row`` (its ``created`` no earlier than the last one's); its position."""
        position = len(self.rows)
        self.rows.append(row)
        self.index[row[0]] = position
        self.created.append(row[1])
        self.version += 1
        return position

    def update(self, position: int, row: R) -> R:
        """Store ``row`` at ``position``; return the row it replaces."""
        before = self.rows[position]
        self.rows[position] = row
        self.version += 1
        return before

    def find(self, object_id: str) -> int | None:
        return self.index.get(object_id)

    def first_created_at_or_after(self, timestamp: int) -> int:
        """The first position whose ``created`` is ``timestamp`` or later."""
        return bisect.bisect_left(self.created, timestamp)
