"""One account's data in one mode: its tables, its ids, and what it counts.

Each (account, mode) pair is a separate world, as on Stripe: an id from one world is unknown in
every other. A world is built on first use from a seed (so 100,000 customers cost nothing until
someone reads them), by playing its history through :class:`~._business.Business`.
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass
from typing import Any, Final

from ._rows import (
    BalanceTransaction,
    Charge,
    CheckoutItem,
    CheckoutSession,
    Coupon,
    CreditNote,
    CreditNoteLine,
    Customer,
    Dispute,
    Event,
    Invoice,
    InvoiceItem,
    InvoiceLine,
    PaymentIntent,
    Payout,
    Price,
    Product,
    PromotionCode,
    Refund,
    SetupIntent,
    Subscription,
    SubscriptionItem,
    SubscriptionSchedule,
    Table,
    TaxRate,
)
from ._rules import EVENT_RETENTION, Mode

__all__ = [
    "CHILDREN",
    "RESOURCES",
    "Account",
    "Ids",
    "LongLists",
    "World",
    "WorldSpec",
    "api_path",
    "customer_attributes",
    "random_id",
]

#: The list endpoints (``/v1/<name>``), in the order the sandbox documents them.
RESOURCES: Final = (
    "customers",
    "products",
    "prices",
    "subscriptions",
    "invoices",
    "charges",
    "payment_intents",
    "refunds",
    "balance_transactions",
    "payouts",
    "disputes",
    "events",
    "coupons",
    "promotion_codes",
    "tax_rates",
    "invoiceitems",
    "setup_intents",
    "checkout_sessions",
    "credit_notes",
    "subscription_schedules",
)
#: Where a list endpoint is when it is not ``/v1/<name>``.
_PATHS: Final = {"checkout_sessions": "/v1/checkout/sessions"}

#: Tables of objects that live inside a parent (read through the parent's sub-list endpoint).
CHILDREN: Final = (
    "subscription_items",
    "invoice_lines",
    "checkout_line_items",
    "credit_note_lines",
)

_ALNUM: Final = string.ascii_letters + string.digits
_BYTE_TO_ALNUM: Final = bytes.maketrans(bytes(range(256)), (_ALNUM * 5)[:256].encode())
_FIRST: Final = (
    "Ada", "Alan", "Barbara", "Claude", "Donald", "Edsger", "Frances", "Grace", "Hedy", "Ivan",
    "Jean", "Ken", "Leslie", "Margaret", "Niklaus", "Ole", "Radia", "Sophie", "Tim", "Yukihiro",
)  # fmt: skip
_LAST: Final = (
    "Lovelace", "Turing", "Liskov", "Shannon", "Knuth", "Dijkstra", "Allen", "Hopper", "Lamarr",
    "Sutherland", "Sammet", "Thompson", "Lamport", "Hamilton", "Wirth", "Dahl", "Perlman",
    "Wilson", "Berners-Lee", "Matsumoto",
)  # fmt: skip
_CURRENCIES: Final = ("usd", "usd", "usd", "eur", "gbp")


def api_path(resource: str) -> str:
    """The list endpoint of ``resource``: ``/v1/customers``, ``/v1/checkout/sessions``..."""
    return _PATHS.get(resource, f"/v1/{resource}")


def random_id(rng: random.Random, prefix: str, length: int = 14) -> str:
    """A Stripe-looking id from a seeded generator: ``prefix`` + ``length`` letters/digits."""
    return prefix + "".join(rng.choices(_ALNUM, k=length))


class Ids:
    """Fast seeded ids: random bytes in bulk, mapped onto letters and digits."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._buffer = ""
        self._at = 0

    def new(self, prefix: str, length: int = 24) -> str:
        if self._at + length > len(self._buffer):
            self._buffer = self._rng.randbytes(1 << 16).translate(_BYTE_TO_ALNUM).decode()
            self._at = 0
        body = self._buffer[self._at : self._at + length]
        self._at += length
        return prefix + body


def customer_attributes(rng: random.Random, number: int) -> tuple[str, str, str, str, str]:
    """``(id, name, email, currency, invoice_prefix)`` of customer ``number``, drawn from ``rng``.

    The draw order is fixed (it decides every id and name), so the same seed always gives the
    same customers.
    """
    first, last = rng.choice(_FIRST), rng.choice(_LAST)
    customer_id = random_id(rng, "cus_")
    currency = rng.choice(_CURRENCIES)
    prefix = "".join(rng.choices(string.ascii_uppercase + string.digits, k=8))
    handle = f"{first}.{last}".lower().replace("-", "")
    return customer_id, f"{first} {last}", f"{handle}{number}@example.com", currency, prefix


@dataclass(frozen=True)
class LongLists:
    """Customers whose lists are longer than Stripe embeds (10 entries), on top of the
    seeded variety: ``subscriptions`` customers subscribe with exactly ``items`` items, and
    ``invoices`` more customers get a first invoice of exactly ``lines`` lines (a few
    subscription items and one-off invoice items); ``credit_notes`` of those invoices are
    refunded whole (a credit note with a line per invoice line). The subscriptions start
    through Checkout (a session with a line item per item). They are the newest arrivals of
    the history, so they exist with any number of customers (they are added to it)."""

    invoices: int = 0
    lines: int = 25
    subscriptions: int = 0
    items: int = 12
    #: Of the long invoices, this many are refunded whole: a credit note of ``lines`` lines.
    credit_notes: int = 0

    def check(self) -> None:
        from .._errors import SandboxError

        for name, low, high in (
            ("invoices", 0, 100_000),
            ("lines", 1, 40),
            ("subscriptions", 0, 100_000),
            ("items", 1, 15),
            ("credit_notes", 0, self.invoices),
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise SandboxError(
                    f"long_lists.{name} must be a whole number from {low} to {high}, not "
                    f"{value!r} (Stripe allows at most 20 subscription items; the sandbox's "
                    "catalogue has 15 prices per currency and interval)."
                )


@dataclass(frozen=True)
class Account:
    """An account: the app developer's own, or one that installs apps (``customers`` sized)."""

    id: str
    name: str
    email: str
    created: int
    customers: int
    country: str = "US"
    default_currency: str = "usd"
    long_lists: LongLists | None = None


@dataclass(frozen=True)
class WorldSpec:
    """What a world is built from: same spec, same data."""

    account_id: str
    account_name: str
    mode: Mode
    customers: int
    seed: int
    start: int
    #: Draw the customers from this generator state (the default account's test mode keeps the
    #: customers of earlier releases of the sandbox); None: a generator of the world's own.
    customer_rng_state: Any = None
    long_lists: LongLists | None = None


class World:
    """The tables of one account in one mode."""

    def __init__(self, spec: WorldSpec) -> None:
        self.spec = spec
        self.livemode = spec.mode == "live"
        name = f"{spec.seed}:{spec.account_id}:{spec.mode}"
        self.rng = random.Random(f"{name}:business")  # noqa: S311 - sample data, not secrets
        self.ids = Ids(random.Random(f"{name}:ids"))  # noqa: S311
        if spec.customer_rng_state is not None:
            self.customer_rng = random.Random()  # noqa: S311
            self.customer_rng.setstate(spec.customer_rng_state)
        else:
            self.customer_rng = random.Random(f"{name}:customers")  # noqa: S311
        self.customers: Table[Customer] = Table("customers")
        self.products: Table[Product] = Table("products")
        self.prices: Table[Price] = Table("prices")
        self.subscriptions: Table[Subscription] = Table("subscriptions")
        self.subscription_items: Table[SubscriptionItem] = Table("subscription_items")
        self.invoices: Table[Invoice] = Table("invoices")
        self.invoice_lines: Table[InvoiceLine] = Table("invoice_lines")
        self.invoiceitems: Table[InvoiceItem] = Table("invoiceitems")
        self.coupons: Table[Coupon] = Table("coupons")
        self.promotion_codes: Table[PromotionCode] = Table("promotion_codes")
        self.tax_rates: Table[TaxRate] = Table("tax_rates")
        self.setup_intents: Table[SetupIntent] = Table("setup_intents")
        self.checkout_sessions: Table[CheckoutSession] = Table("checkout_sessions")
        self.checkout_line_items: Table[CheckoutItem] = Table("checkout_line_items")
        self.credit_notes: Table[CreditNote] = Table("credit_notes")
        self.subscription_schedules: Table[SubscriptionSchedule] = Table("subscription_schedules")
        self.credit_note_lines: Table[CreditNoteLine] = Table("credit_note_lines")
        #: Credit notes per invoice (their numbers are ``INVOICE-CN-01`` and up).
        self.credit_note_numbers: dict[int, int] = {}
        self.payment_intents: Table[PaymentIntent] = Table("payment_intents")
        self.charges: Table[Charge] = Table("charges")
        self.refunds: Table[Refund] = Table("refunds")
        self.balance_transactions: Table[BalanceTransaction] = Table("balance_transactions")
        self.payouts: Table[Payout] = Table("payouts")
        self.disputes: Table[Dispute] = Table("disputes")
        self.events: Table[Event] = Table("events")
        self.bank_account = self.ids.new("ba_")
        #: Per-customer invoice counters (invoice numbers are ``PREFIX-0001`` and up).
        self.invoice_numbers: dict[int, int] = {}
        self.deleted_customers = 0
        #: Events before this moment are not kept (they could never be listed).
        self.keep_events_from = spec.start - EVENT_RETENTION
        #: Each customer's card, made when first rendered (customer id -> card details).
        self.cards: dict[str, tuple[str, str, int, int, str]] = {}
        #: Cached filter results of list requests: key -> (table version, positions).
        self.filter_cache: dict[tuple[Any, ...], tuple[int, list[int]]] = {}

    def table(self, resource: str) -> Table[Any]:
        table: Table[Any] = getattr(self, resource)
        return table

    def counts(self, now: int) -> dict[str, int]:
        """Objects per resource that exist: deleted customers left out, events of the last 30
        days (what ``/v1/events`` lists)."""
        counts = {resource: len(self.table(resource)) for resource in RESOURCES}
        counts["customers"] -= self.deleted_customers
        events = self.events
        counts["events"] = len(events) - events.first_created_at_or_after(now - EVENT_RETENTION)
        return counts
