"""A small subscription business, played day by day: where every object in a world comes from.

One engine makes both the seeded history (the ``customers`` of a world arrive over the
:data:`HISTORY_DAYS` before the sandbox's start) and every simulated day after it, so the two
look alike. The engine is a queue of timed actions; each action changes rows in time order and
records Stripe's events for the changes (the row after the change is the event's snapshot).

What happens:

- A product catalogue (four plans and a one-off workshop, prices in usd/eur/gbp, monthly and
  yearly, one archived price) exists before the first customer.
- A customer arrives (``customer.created``); most subscribe at once: a draft invoice is
  finalized and paid by a PaymentIntent and its charge, whose balance transaction carries
  Stripe's fee (2.9% + 30 cents, in usd after a fixed exchange rate).
- A subscription renews at each period end (monthly or yearly). A renewal payment can fail: the
  subscription goes ``past_due``, the customer ``delinquent``, and two retries follow (3 and 5
  days later); after the last failed retry the invoice is marked uncollectible and the
  subscription is canceled. Some customers ask to cancel; their subscription ends at period end.
- Some customers buy the one-off workshop (a PaymentIntent and charge, no invoice).
- A few percent of successful charges are refunded (fully or partly, never more than the
  charge) and a few disputed (the dispute is later won or lost, with its balance transactions).
- Every seven days a payout takes the balance that has become available.
- After the start only: new customers arrive and a few customers are deleted (their open
  subscriptions are canceled first, as on Stripe).

Everything is drawn from the world's seeded generator, so the same seed and the same simulated
days give the same objects.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import heapq
import itertools
import math
import random
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Final, NamedTuple, TypeVar

from ._billing import line_discounts, line_tax
from ._catalogue import (
    ADD_ONS,
    COUPONS,
    CURRENCIES,
    ONE_OFFS,
    PER_SEAT,
    PLAN_CUMULATIVE,
    PLAN_INDEXES,
    PLANS,
    PROMOTION_CODES,
    TAX_RATES,
)
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
    replace,
)
from ._world import World, customer_attributes

__all__ = ["DAY", "HISTORY_DAYS", "Business", "day_start"]

DAY: Final = 86_400
#: The seeded history: customers arrive over this many days before the start.
HISTORY_DAYS: Final = 180
_CATALOGUE_AGE: Final = 30 * DAY  # products exist this long before the first customer

P_SUBSCRIBE: Final = 0.7
P_YEARLY: Final = 0.15
P_RENEWAL_FAILS: Final = 0.06
P_RETRY_SUCCEEDS: Final = 0.5
RETRY_DELAYS: Final = (3 * DAY, 5 * DAY)
P_CANCEL_REQUEST: Final = 0.04  # per period, the customer asks to cancel at period end
P_REFUND: Final = 0.025
P_FULL_REFUND: Final = 0.7
P_DISPUTE: Final = 0.006
P_DISPUTE_WON: Final = 0.45
DISPUTE_FEE: Final = 1500
ONE_OFFS_PER_CUSTOMER_DAY: Final = 0.002
PAYOUT_EVERY: Final = 7 * DAY
AVAILABLE_AFTER: Final = 2 * DAY
#: Fixed exchange rates into the account's currency (usd).
TO_USD: Final = {"usd": 1.0, "eur": 1.08, "gbp": 1.27}

#: Items per subscription (the plan and add-ons): (count, weight); about 8% have more than 10.
_ITEM_COUNTS: Final = (
    (1, 45), (2, 20), (3, 12), (4, 5), (5, 3), (6, 2), (7, 1), (8, 1), (9, 1), (10, 2),
    (11, 2), (12, 2), (13, 1.5), (14, 1.5), (15, 1),
)  # fmt: skip
_ITEM_SIZES: Final = tuple(n for n, _ in _ITEM_COUNTS)
_ITEM_CUMULATIVE: Final = tuple(itertools.accumulate(w for _, w in _ITEM_COUNTS))
P_TRIAL: Final = 0.12
TRIAL_DAYS: Final = 14
P_DISCOUNT: Final = 0.2
P_PROMOTION_CODE: Final = 0.6
P_TAXED: Final = 0.4
P_QUANTITY_CHANGE: Final = 0.12  # per period: a customer adds units mid-period (prorations)
P_EXTRAS: Final = 0.08  # per renewal: one-off invoice items on the invoice
P_CHECKOUT: Final = 0.5  # a new subscription starts through a Checkout session
P_SCHEDULE: Final = 0.06  # a new subscription starts from a subscription schedule
_DECLINES: Final = ("insufficient_funds", "generic_decline", "expired_card", "do_not_honor")
_DISPUTE_REASONS: Final = ("fraudulent", "product_not_received", "subscription_canceled", "general")

T = TypeVar("T", bound=tuple[Any, ...])


def day_start(timestamp: int) -> int:
    return timestamp - timestamp % DAY


def add_months(timestamp: int, months: int) -> int:
    """``timestamp`` moved by calendar months (the day of month clamped, like Stripe's billing)."""
    moment = dt.datetime.fromtimestamp(timestamp, dt.UTC)
    month0 = moment.month - 1 + months
    year, month = moment.year + month0 // 12, month0 % 12 + 1
    for day in (moment.day, 30, 29, 28):
        try:
            return int(moment.replace(year=year, month=month, day=day).timestamp())
        except ValueError:
            continue
    raise AssertionError("unreachable: every month has 28 days")  # pragma: no cover


class _Action(NamedTuple):
    at: int
    order: int
    run: Callable[..., None]
    args: tuple[Any, ...]


class Business:
    """Plays a world's business: :meth:`build` its history, then :meth:`run_until` later."""

    def __init__(self, world: World) -> None:
        self.w = world
        self.rng = world.rng
        self.start = world.spec.start
        self.origin = day_start(self.start - HISTORY_DAYS * DAY)
        self.until = self.origin - _CATALOGUE_AGE
        self._queue: list[_Action] = []
        self._order = itertools.count()
        self._plans: list[dict[tuple[str, str], int]] = []  # (currency, interval) -> price
        self._add_ons: list[dict[tuple[str, str], int]] = []
        self._one_offs: list[dict[str, int]] = []  # currency -> price
        self._workshop_prices: dict[str, int] = {}
        #: subscription -> prorations due on its next invoice: (slot, old, new, at, end).
        self._prorations: dict[int, list[tuple[int, int, int, int, int]]] = {}
        self._paid_out_to = 0  # balance transactions before this position are paid out
        self._live_customers: list[int] = []
        self._live_index: dict[int, int] = {}
        self._subscription_of: dict[int, int] = {}  # customer -> their current subscription
        self._schedule_of: dict[int, int] = {}  # subscription -> its running schedule

    # --- the queue -----------------------------------------------------------------------------

    def _at(self, when: int, run: Callable[..., None], *args: Any) -> None:
        heapq.heappush(self._queue, _Action(when, next(self._order), run, args))

    def run_until(self, end: int) -> None:
        """Play every action before ``end`` (in time order)."""
        queue = self._queue
        while queue and queue[0].at < end:
            action = heapq.heappop(queue)
            action.run(action.at, *action.args)
        self.until = max(self.until, end)

    def build(self) -> None:
        """The seeded history: catalogue, ``customers`` arrivals, everything up to the start.

        The cyclic garbage collector pauses meanwhile: rows hold no cycles, and scanning the
        growing tables again and again would cost a third of the time.
        """
        with _collector_paused():
            self._build()

    def _build(self) -> None:
        spec = self.w.spec
        self._catalogue(self.origin - _CATALOGUE_AGE)
        span = self.start - self.origin
        for number in range(spec.customers):
            jitter = 0.05 + 0.9 * self.rng.random()
            created = self.start - max(1, int((number + jitter) * span / max(spec.customers, 1)))
            self._at(
                created, self._arrive, number, customer_attributes(self.w.customer_rng, number)
            )
        long = spec.long_lists
        if long is not None:
            shapes: list[tuple[int | None, int | None, bool]] = [
                (long.items, None, False)
            ] * long.subscriptions
            shapes += [(None, long.lines, i < long.credit_notes) for i in range(long.invoices)]
            for offset, (items, lines, refund) in enumerate(shapes):
                created = self.start - 1 - (len(shapes) - offset) * DAY // (len(shapes) + 1)
                number = spec.customers + offset
                self._at(created, self._arrive_long, number, items, lines, refund)
        self._at(self.origin, self._daily)
        self._at(self.origin + PAYOUT_EVERY, self._payout)
        self.run_until(self.start)

    # --- recording ----------------------------------------------------------------------------

    def _add(self, table: Table[T], row: T, event: str | None = None) -> int:
        position = table.add(row)
        if event is not None:
            self._event(row[1], event, table.resource, row)
        return position

    def _set(self, now: int, table: Table[T], position: int, row: T, event: str | None) -> T:
        before = table.update(position, row)
        if event is not None:
            self._event(now, event, table.resource, row, before)
        return row

    def _event(self, now: int, kind: str, resource: str, row: Any, before: Any = None) -> None:
        if now >= self.w.keep_events_from:
            self.w.events.add(Event(self.w.ids.new("evt_"), now, kind, resource, row, before))

    # --- catalogue ----------------------------------------------------------------------------

    def _catalogue(self, now: int) -> None:
        for kind, table in (("plan", PLANS), ("add-on", ADD_ONS)):
            for name, description, amounts, *_ in table:
                product = self._product(now, name, description)
                prices: dict[tuple[str, str], int] = {}
                for currency, amount in zip(CURRENCIES, amounts, strict=True):
                    for interval, factor in (("month", 1), ("year", 10)):
                        now += 1
                        prices[(currency, interval)] = self._price(
                            now, product, currency, amount * factor, interval, name
                        )
                (self._plans if kind == "plan" else self._add_ons).append(prices)
                self._default_price(now, product, prices[("usd", "month")])
        for name, description, amounts in ONE_OFFS:
            product = self._product(now, name, description)
            once: dict[str, int] = {}
            for currency, amount in zip(CURRENCIES, amounts, strict=True):
                now += 1
                once[currency] = self._price(now, product, currency, amount, None, name)
            self._one_offs.append(once)
            self._default_price(now, product, once["usd"])
        self._workshop_prices = self._one_offs[0]
        # An archived price: what a price change leaves behind.
        now += 1
        starter = self.w.prices.rows[self._plans[0][("usd", "month")]].product
        self._price(now, starter, "usd", 1500, "month", "Starter (2023)", active=False)
        self._discounts_and_taxes(now)

    def _discounts_and_taxes(self, now: int) -> None:
        w = self.w
        for name, percent, amount, duration, months, _ in COUPONS:
            now += 1
            coupon = Coupon(
                w.ids.new("", 8).upper(),
                now,
                name,
                percent,
                amount,
                "usd" if amount is not None else None,
                duration,
                months,
            )
            self._add(w.coupons, coupon, "coupon.created")
        for code, coupon_index in PROMOTION_CODES:
            now += 1
            promo = PromotionCode(w.ids.new("promo_"), now, code, coupon_index)
            self._add(w.promotion_codes, promo, "promotion_code.created")
        for currency in CURRENCIES:
            now += 1
            display, description, percentage, country, state, jurisdiction, kind = TAX_RATES[
                currency
            ]
            rate = TaxRate(
                w.ids.new("txr_"),
                now,
                display,
                description,
                percentage,
                country,
                state,
                jurisdiction,
                kind,
            )
            self._add(w.tax_rates, rate, "tax_rate.created")

    def _product(self, now: int, name: str, description: str) -> int:
        row = Product(self.w.ids.new("prod_", 14), now, now, name, description, True, -1, None)
        return self._add(self.w.products, row, "product.created")

    def _default_price(self, now: int, product: int, price: int) -> None:
        row = replace(self.w.products.rows[product], default_price=price, updated=now)
        self._set(now, self.w.products, product, row, "product.updated")

    def _price(
        self,
        now: int,
        product: int,
        currency: str,
        amount: int,
        interval: str | None,
        name: str,
        *,
        active: bool = True,
    ) -> int:
        slug = name.lower().split(" ")[0]
        key = f"{slug}_{interval or 'once'}_{currency}" if active else None
        nickname = f"{name}, {'per ' + interval if interval else 'one-off'} ({currency.upper()})"
        row = Price(
            self.w.ids.new("price_"),
            now,
            product,
            currency,
            amount,
            interval,
            active,
            key,
            nickname,
        )
        return self._add(self.w.prices, row, "price.created")

    # --- customers ----------------------------------------------------------------------------

    def _arrive(self, now: int, number: int, attrs: tuple[str, str, str, str, str]) -> None:
        customer = self._add_customer(now, number, attrs)
        if self.rng.random() < P_SUBSCRIBE:
            self._subscribe(now, customer)

    def _arrive_long(
        self, now: int, number: int, items: int | None, lines: int | None, refund: bool
    ) -> None:
        """A customer of :class:`~._world.LongLists`: ``items`` subscription items, or a first
        invoice of ``lines`` lines (one-off invoice items after the subscription's), refunded
        whole a minute later when ``refund``."""
        attrs = customer_attributes(self.w.customer_rng, number)
        customer = self._add_customer(now, number, attrs)
        self._subscribe(now, customer, items=items, lines=lines)
        if refund:
            invoice = self.w.subscriptions.rows[self._subscription_of[customer]].latest_invoice
            charge = self.w.invoices.rows[invoice].charge
            self._at(now + 60, self._refund, charge, True)

    def _add_customer(self, now: int, number: int, attrs: tuple[str, str, str, str, str]) -> int:
        """A new customer, who saves a card at once (a SetupIntent; the card is attached)."""
        customer_id, name, email, currency, prefix = attrs
        row = Customer(customer_id, now, name, email, currency, prefix, number)
        customer = self._add(self.w.customers, row, "customer.created")
        self._live_index[customer] = len(self._live_customers)
        self._live_customers.append(customer)
        w = self.w
        intent = SetupIntent(w.ids.new("seti_"), now, customer, "requires_payment_method")
        position = self._add(w.setup_intents, intent, "setup_intent.created")
        self._event(now, "payment_method.attached", "payment_methods", row)
        done = replace(intent, status="succeeded")
        self._set(now, w.setup_intents, position, done, "setup_intent.succeeded")
        return customer

    def _new_customer(self, now: int) -> None:
        number = len(self.w.customers)
        self._arrive(now, number, customer_attributes(self.w.customer_rng, number))

    def _delete_customer(self, now: int) -> None:
        if not self._live_customers:
            return
        customer = self._live_customers[self.rng.randrange(len(self._live_customers))]
        subscription = self._subscription_of.pop(customer, None)
        if subscription is not None:
            self._end_subscription(now, subscription, "cancellation_requested")
        # Swap-remove from the live list.
        last = self._live_customers.pop()
        at = self._live_index.pop(customer)
        if last != customer:
            self._live_customers[at] = last
            self._live_index[last] = at
        table = self.w.customers
        before = table.rows[customer]
        gone = replace(before, deleted=True)
        table.update(customer, gone)
        self.w.deleted_customers += 1
        # Deleting a customer detaches their card (its customer becomes null).
        self._event(now, "payment_method.detached", "payment_methods", gone, before)
        self._event(now, "customer.deleted", "customers", before)

    def _set_delinquent(self, now: int, customer: int, delinquent: bool) -> None:
        row = self.w.customers.rows[customer]
        if row.delinquent != delinquent and not row.deleted:
            self._set(
                now,
                self.w.customers,
                customer,
                replace(row, delinquent=delinquent),
                "customer.updated",
            )

    # --- subscriptions ------------------------------------------------------------------------

    def _subscribe(
        self, now: int, customer: int, *, items: int | None = None, lines: int | None = None
    ) -> None:
        """A new subscription: a plan and add-ons, maybe a trial, a coupon (maybe through a
        promotion code) and a tax rate; its first invoice. ``items``/``lines``: exactly that
        many items, and a first invoice of that many lines (no trial)."""
        rng, w = self.rng, self.w
        plan = rng.choices(PLAN_INDEXES, cum_weights=PLAN_CUMULATIVE)[0]
        interval = "year" if rng.random() < P_YEARLY else "month"
        currency = w.customers.rows[customer].currency
        count = items or rng.choices(_ITEM_SIZES, cum_weights=_ITEM_CUMULATIVE)[0]
        if lines is not None:
            count = min(count, lines)
        add_ons = rng.sample(range(len(ADD_ONS)), count - 1)
        prices = [self._plans[plan][(currency, interval)]]
        quantities = [rng.randint(1, 5) if plan == PER_SEAT else 1]
        for index in add_ons:
            prices.append(self._add_ons[index][(currency, interval)])
            quantities.append(rng.randint(1, ADD_ONS[index][3]))
        trial = lines is None and items is None and rng.random() < P_TRIAL
        coupon = promotion = -1
        if rng.random() < P_DISCOUNT:
            coupon = rng.randrange(len(COUPONS))
            if COUPONS[coupon][2] is not None and currency != "usd":
                coupon = -1  # an amount off is in usd only
            elif COUPONS[coupon][5] is not None and rng.random() < P_PROMOTION_CODE:
                promotion = next(i for i, (_, c) in enumerate(PROMOTION_CODES) if c == coupon)
        tax_rate = CURRENCIES.index(currency) if rng.random() < P_TAXED else -1
        end = now + TRIAL_DAYS * DAY if trial else add_months(now, 12 if interval == "year" else 1)
        position = len(w.subscriptions)
        item_positions = tuple(
            w.subscription_items.add(
                SubscriptionItem("si_" + w.ids.new("", 14), now, position, price, slot)
            )
            for slot, price in enumerate(prices)
        )
        row = Subscription(
            w.ids.new("sub_"),
            now,
            customer,
            item_positions,
            tuple(quantities),
            currency,
            interval,
            "trialing" if trial else "active",
            now,
            end,
            len(w.invoices),
            coupon,
            promotion,
            tax_rate,
            now if trial else None,
            end if trial else None,
        )
        subscription = w.subscriptions.add(row)
        self._redeem(coupon, promotion)
        self._subscription_of[customer] = subscription
        extras: list[tuple[int, int]] = []
        if lines is not None:
            extras = [
                (rng.randrange(len(ONE_OFFS)), rng.randint(1, 3)) for _ in range(lines - count)
            ]
        invoice = self._invoice(
            now, subscription, "subscription_create", now, end, now, extras=extras, trial=trial
        )
        self._event(now, "customer.subscription.created", "subscriptions", row)
        if items is not None or lines is not None or rng.random() < P_CHECKOUT:
            self._checkout(now, customer, subscription, invoice)
        elif not trial and rng.random() < P_SCHEDULE:
            schedule = SubscriptionSchedule(
                w.ids.new("sub_sched_"), now, customer, subscription, tuple(prices),
                tuple(quantities), currency, coupon, tax_rate, now, end,
            )  # fmt: skip
            position = self._add(
                w.subscription_schedules, schedule, "subscription_schedule.created"
            )
            self._schedule_of[subscription] = position
            self._at(end, self._release_schedule, position)
        self._settle(now, invoice, succeed=True)
        self._schedule_period(now, subscription, end)

    def _checkout(self, now: int, customer: int, subscription: int, invoice: int) -> None:
        """The Checkout session that started a subscription: a line item per invoice line."""
        w = self.w
        inv = w.invoices.rows[invoice]
        sub = w.subscriptions.rows[subscription]
        position = len(w.checkout_sessions)
        first = len(w.checkout_line_items)
        for line in w.invoice_lines.rows[inv.lines_from : inv.lines_to]:
            item = CheckoutItem(
                "li_" + w.ids.new("", 24), now, position, line.price, line.quantity,
                line.amount, line.discount, line.tax,
            )  # fmt: skip
            w.checkout_line_items.add(item)
        session = CheckoutSession(
            "cs_" + ("live_" if w.livemode else "test_") + w.ids.new("", 58), now, customer,
            "subscription", subscription, invoice, -1, inv.currency, first,
            len(w.checkout_line_items), inv.subtotal, inv.discount, inv.tax,
            inv.coupon, sub.promotion_code if inv.coupon >= 0 else -1,
        )  # fmt: skip
        self._add(w.checkout_sessions, session, "checkout.session.completed")

    def _release_schedule(self, now: int, schedule: int) -> None:
        """A schedule's last phase ends: it releases its subscription (or was canceled)."""
        w = self.w
        row = w.subscription_schedules.rows[schedule]
        if row.status != "active":
            return
        self._schedule_of.pop(row.subscription, None)
        released = replace(row, status="released", released_at=now)
        self._set(
            now, w.subscription_schedules, schedule, released, "subscription_schedule.released"
        )

    def _redeem(self, coupon: int, promotion: int) -> None:
        """Count a redemption (Stripe sends no event for it)."""
        for table, position in ((self.w.coupons, coupon), (self.w.promotion_codes, promotion)):
            if position >= 0:
                row: Any = table.rows[position]
                table.update(position, replace(row, times_redeemed=row.times_redeemed + 1))

    def _sub(self, subscription: int) -> Subscription:
        return self.w.subscriptions.rows[subscription]

    def _schedule_period(self, now: int, subscription: int, end: int) -> None:
        self._at(end, self._renew, subscription)
        if self.rng.random() < P_CANCEL_REQUEST:
            self._at(now + int((end - now) * self.rng.random()), self._request_cancel, subscription)
        if self.rng.random() < P_QUANTITY_CHANGE:
            self._at(now + int((end - now) * self.rng.random()), self._add_units, subscription)

    def _add_units(self, now: int, subscription: int) -> None:
        """The customer takes more units of one item mid-period: Stripe's prorations (a credit
        for the unused time at the old quantity, a charge at the new) go on the next invoice."""
        row = self.w.subscriptions.rows[subscription]
        if row.status not in ("active", "past_due") or row.cancel_at_period_end:
            return
        slot = self.rng.randrange(len(row.items))
        old = row.quantities[slot]
        new = old + self.rng.randint(1, 2)
        quantities = (*row.quantities[:slot], new, *row.quantities[slot + 1 :])
        self._prorations.setdefault(subscription, []).append((slot, old, new, now, row.period_end))
        changed = replace(row, quantities=quantities)
        self._set(now, self.w.subscriptions, subscription, changed, "customer.subscription.updated")

    def _request_cancel(self, now: int, subscription: int) -> None:
        row = self.w.subscriptions.rows[subscription]
        if row.status in ("active", "past_due") and not row.cancel_at_period_end:
            self._set(
                now,
                self.w.subscriptions,
                subscription,
                replace(row, cancel_at_period_end=True, canceled_at=now),
                "customer.subscription.updated",
            )

    def _renew(self, now: int, subscription: int) -> None:
        table = self.w.subscriptions
        row = table.rows[subscription]
        if row.status == "canceled":
            return
        if row.cancel_at_period_end:
            self._end_subscription(now, subscription, "cancellation_requested")
            return
        end = add_months(now, 12 if row.interval == "year" else 1)
        status = "active" if row.status == "trialing" else row.status
        renewed = replace(
            row,
            status=status,
            period_start=now,
            period_end=end,
            latest_invoice=len(self.w.invoices),
        )
        table.update(subscription, renewed)
        extras: list[tuple[int, int]] = []
        if self.rng.random() < P_EXTRAS:
            extras = [
                (self.rng.randrange(1, len(ONE_OFFS)), self.rng.randint(1, 3))
                for _ in range(self.rng.randint(1, 6))
            ]
        invoice = self._invoice(
            now, subscription, "subscription_cycle", now, end, row.period_start, extras=extras
        )
        self._event(now, "customer.subscription.updated", "subscriptions", renewed, row)
        self._settle(now, invoice, succeed=self.rng.random() >= P_RENEWAL_FAILS)
        self._schedule_period(now, subscription, end)

    def _end_subscription(self, now: int, subscription: int, reason: str) -> None:
        table = self.w.subscriptions
        row = table.rows[subscription]
        if row.status == "canceled":
            return
        self._prorations.pop(subscription, None)
        self._cancel_schedule(now, subscription)
        ended = replace(
            row,
            status="canceled",
            canceled_at=row.canceled_at or now,
            ended_at=now,
            cancel_reason=reason,
            cancel_at_period_end=False,
        )
        self._set(now, table, subscription, ended, "customer.subscription.deleted")
        if self._subscription_of.get(row.customer) == subscription:
            del self._subscription_of[row.customer]

    def _cancel_schedule(self, now: int, subscription: int) -> None:
        """A subscription that ends while its schedule runs cancels the schedule."""
        position = self._schedule_of.pop(subscription, None)
        table = self.w.subscription_schedules
        if position is not None and table.rows[position].status == "active":
            canceled = replace(table.rows[position], status="canceled", canceled_at=now)
            self._set(now, table, position, canceled, "subscription_schedule.canceled")

    # --- invoices and payments ----------------------------------------------------------------

    def _invoice(
        self,
        now: int,
        subscription: int,
        reason: str,
        start: int,
        end: int,
        billed_from: int,
        *,
        extras: Sequence[tuple[int, int]] = (),
        trial: bool = False,
    ) -> int:
        """A subscription's invoice, finalized (its subscription already points at it).

        Its lines: invoice items first (prorations due, then ``extras``: one-off products
        and quantities), then one line per subscription item covering ``start``..``end``
        (amount 0 in a ``trial``). The invoice itself covers ``billed_from``..now (Stripe's
        invoice period is the one just ended). Discount and tax per line (``_billing``).
        """
        w = self.w
        sub = w.subscriptions.rows[subscription]
        customer = w.customers.rows[sub.customer]
        sequence = w.invoice_numbers.get(sub.customer, 0) + 1
        w.invoice_numbers[sub.customer] = sequence
        position = len(w.invoices)
        prices = w.prices.rows
        # (price, quantity, amount, start, end, subscription item, invoice item, proration)
        specs: list[tuple[int, int, int, int, int, int, int, bool]] = []
        for slot, old, new, at, until in self._prorations.pop(subscription, ()):
            item = sub.items[slot]
            price = w.subscription_items.rows[item].price
            unit = prices[price].unit_amount
            share = (until - at) / max(until - billed_from, 1)
            name = w.products.rows[prices[price].product].name
            day = dt.datetime.fromtimestamp(at, dt.UTC).strftime("%d %b %Y")
            for quantity, sign, text in ((old, -1, "Unused"), (new, 1, "Remaining")):
                amount = sign * round(unit * quantity * share)
                ii = self._invoice_item(
                    now, sub, item, price, quantity, amount,
                    f"{text} time on {quantity} × {name} after {day}", at, until, True, position,
                )  # fmt: skip
                specs.append((price, quantity, amount, at, until, item, ii, True))
        for one_off, quantity in extras:
            price = self._one_offs[one_off][sub.currency]
            amount = prices[price].unit_amount * quantity
            name = w.products.rows[prices[price].product].name
            ii = self._invoice_item(
                now, sub, -1, price, quantity, amount, name, now, now, False, position
            )
            specs.append((price, quantity, amount, now, now, -1, ii, False))
        for slot, item in enumerate(sub.items):
            price = w.subscription_items.rows[item].price
            quantity = sub.quantities[slot]
            amount = 0 if trial else prices[price].unit_amount * quantity
            specs.append((price, quantity, amount, start, end, item, -1, False))
        amounts = [spec[2] for spec in specs]
        coupon = sub.coupon if self._discount_applies(sub, now, reason) else -1
        if coupon >= 0:
            c = w.coupons.rows[coupon]
            discounts = line_discounts(amounts, c.percent_off, c.amount_off)
        else:
            discounts = [0] * len(specs)
        percentage = w.tax_rates.rows[sub.tax_rate].percentage if sub.tax_rate >= 0 else None
        taxes = [line_tax(a, d, percentage) for a, d in zip(amounts, discounts, strict=True)]
        lines_from = len(w.invoice_lines)
        for spec, discount, tax in zip(specs, discounts, taxes, strict=True):
            price, quantity, amount, line_start, line_end, item, ii, proration = spec
            w.invoice_lines.add(
                InvoiceLine(
                    "il_" + w.ids.new("", 24), now, position, price, quantity, amount,
                    discount, tax, line_start, line_end, item, ii, proration,
                )
            )  # fmt: skip
        subtotal, discount, tax = sum(amounts), sum(discounts), sum(taxes)
        row = Invoice(
            w.ids.new("in_"),
            now,
            sub.customer,
            subscription,
            sub.currency,
            f"{customer.invoice_prefix}-{sequence:04d}",
            reason,
            "open",
            subtotal - discount + tax,
            0,
            0,
            start,
            end,
            billed_from,
            lines_from,
            len(w.invoice_lines),
            subtotal,
            discount,
            tax,
            coupon,
            sub.tax_rate,
            now,
        )
        if now >= w.keep_events_from:
            draft = replace(row, status="draft", finalized_at=None)
            self._event(now, "invoice.created", "invoices", draft)
            self._event(now, "invoice.finalized", "invoices", row, draft)
        return w.invoices.add(row)

    def _invoice_item(
        self,
        now: int,
        sub: Subscription,
        item: int,
        price: int,
        quantity: int,
        amount: int,
        description: str,
        start: int,
        end: int,
        proration: bool,
        invoice: int,
    ) -> int:
        """An invoice item, made with the invoice it is on (the sandbox has no pending ones)."""
        w = self.w
        row = InvoiceItem(
            w.ids.new("ii_"),
            now,
            sub.customer,
            w.subscriptions.index[sub.id],
            item,
            price,
            quantity,
            amount,
            sub.currency,
            description,
            start,
            end,
            proration,
            invoice,
        )
        return self._add(w.invoiceitems, row, "invoiceitem.created")

    def _discount_applies(self, sub: Subscription, now: int, reason: str) -> bool:
        """Whether the subscription's coupon still discounts an invoice made ``now``."""
        if sub.coupon < 0:
            return False
        coupon = self.w.coupons.rows[sub.coupon]
        if coupon.duration == "once":
            return reason == "subscription_create"
        if coupon.duration == "repeating":
            return now < add_months(sub.created, coupon.duration_in_months or 0)
        return True

    def _settle(self, now: int, invoice: int, *, succeed: bool) -> None:
        """Collect a new invoice: pay it, or mark it paid at once when nothing is due."""
        w = self.w
        row = w.invoices.rows[invoice]
        if row.amount_due > 0:
            self._pay(now, invoice, succeed=succeed)
            return
        paid = replace(row, status="paid", paid_at=now)
        self._set(now, w.invoices, invoice, paid, "invoice.paid")
        self._event(now, "invoice.payment_succeeded", "invoices", paid)

    def _pay(self, now: int, invoice: int, *, succeed: bool) -> None:
        """Charge an open invoice once (a new PaymentIntent on the first attempt)."""
        w = self.w
        row = w.invoices.rows[invoice]
        if row.payment_intent < 0:
            currency = row.currency
            text = f"Invoice {row.number}"
            intent, charge = self._payment(
                now, row.customer, invoice, row.amount_due, currency, text, succeed
            )
        else:
            intent, charge = (
                row.payment_intent,
                self._charge_again(now, row.payment_intent, succeed),
            )
        attempts = row.attempt_count + 1
        if succeed:
            paid = replace(
                row,
                status="paid",
                amount_paid=row.amount_due,
                attempt_count=attempts,
                paid_at=now,
                next_payment_attempt=None,
                charge=charge,
                payment_intent=intent,
            )
            self._set(now, w.invoices, invoice, paid, "invoice.paid")
            self._event(now, "invoice.payment_succeeded", "invoices", paid)
            self._move_subscription(now, row.subscription, "past_due", "active")
            self._set_delinquent(now, row.customer, False)
            return
        retry = now + RETRY_DELAYS[attempts - 1] if attempts <= len(RETRY_DELAYS) else None
        failed = replace(
            row,
            attempt_count=attempts,
            next_payment_attempt=retry,
            charge=charge,
            payment_intent=intent,
        )
        self._set(now, w.invoices, invoice, failed, "invoice.payment_failed")
        self._move_subscription(now, row.subscription, "active", "past_due")
        self._set_delinquent(now, row.customer, True)
        if retry is not None:
            self._at(retry, self._retry, invoice)
        else:
            gone = replace(failed, status="uncollectible", uncollectible_at=now)
            self._set(now, w.invoices, invoice, gone, "invoice.marked_uncollectible")
            self._end_subscription(now, row.subscription, "payment_failed")

    def _move_subscription(self, now: int, subscription: int, was: str, status: str) -> None:
        """A subscription that is ``was`` becomes ``status`` (with its event)."""
        row = self.w.subscriptions.rows[subscription]
        if row.status == was:
            changed = replace(row, status=status)
            self._set(
                now, self.w.subscriptions, subscription, changed, "customer.subscription.updated"
            )

    def _retry(self, now: int, invoice: int) -> None:
        row = self.w.invoices.rows[invoice]
        if row.status == "open" and not self.w.customers.rows[row.customer].deleted:
            self._pay(now, invoice, succeed=self.rng.random() < P_RETRY_SUCCEEDS)

    def _one_off(self, now: int) -> None:
        if not self._live_customers:
            return
        customer = self._live_customers[self.rng.randrange(len(self._live_customers))]
        currency = self.w.customers.rows[customer].currency
        price_position = self._workshop_prices[currency]
        price = self.w.prices.rows[price_position]
        intent, _ = self._payment(
            now, customer, -1, price.unit_amount, currency, ONE_OFFS[0][0], True
        )
        w = self.w
        position = len(w.checkout_sessions)
        item = CheckoutItem(
            "li_" + w.ids.new("", 24), now, position, price_position, 1, price.unit_amount, 0, 0
        )
        first = w.checkout_line_items.add(item)
        session = CheckoutSession(
            "cs_" + ("live_" if w.livemode else "test_") + w.ids.new("", 58), now, customer,
            "payment", -1, -1, intent, currency, first, first + 1, price.unit_amount, 0, 0,
            -1, -1,
        )  # fmt: skip
        self._add(w.checkout_sessions, session, "checkout.session.completed")

    def _payment(
        self,
        now: int,
        customer: int,
        invoice: int,
        amount: int,
        currency: str,
        text: str,
        succeed: bool,
    ) -> tuple[int, int]:
        """A new PaymentIntent and its first charge; their positions."""
        w = self.w
        intent_position = len(w.payment_intents)
        decline = None if succeed else self.rng.choice(_DECLINES)
        charge = self._new_charge(
            now, customer, intent_position, invoice, amount, currency, text, decline
        )
        created = PaymentIntent(
            w.ids.new("pi_"),
            now,
            customer,
            invoice,
            amount,
            currency,
            "requires_payment_method",
            -1,
            text,
        )
        status = "succeeded" if succeed else "requires_payment_method"
        row = replace(created, status=status, latest_charge=charge, decline_code=decline)
        w.payment_intents.add(row)
        if now >= w.keep_events_from:
            self._event(now, "payment_intent.created", "payment_intents", created)
            self._charge_events(now, charge, row, created)
        return intent_position, charge

    def _charge_again(self, now: int, intent: int, succeed: bool) -> int:
        """Another attempt on an existing PaymentIntent (a retried invoice)."""
        w = self.w
        pi = w.payment_intents.rows[intent]
        decline = None if succeed else self.rng.choice(_DECLINES)
        charge = self._new_charge(
            now, pi.customer, intent, pi.invoice, pi.amount, pi.currency, pi.description, decline
        )
        status = "succeeded" if succeed else "requires_payment_method"
        row = replace(pi, status=status, latest_charge=charge, decline_code=decline)
        w.payment_intents.update(intent, row)
        self._charge_events(now, charge, row, pi)
        return charge

    def _new_charge(
        self,
        now: int,
        customer: int,
        intent: int,
        invoice: int,
        amount: int,
        currency: str,
        text: str | None,
        decline: str | None,
    ) -> int:
        w = self.w
        charge_id = w.ids.new("ch_")
        txn = -1 if decline else self._txn(now, amount, currency, "charge", charge_id, text)
        status = "failed" if decline else "succeeded"
        row = Charge(
            charge_id, now, customer, intent, invoice, amount, currency, status, txn, text, decline
        )
        charge = w.charges.add(row)
        if not decline:
            if self.rng.random() < P_REFUND:
                self._at(now + self.rng.randint(DAY, 10 * DAY), self._refund, charge)
            elif self.rng.random() < P_DISPUTE:
                self._at(now + self.rng.randint(3 * DAY, 30 * DAY), self._dispute, charge)
        return charge

    def _charge_events(
        self, now: int, charge: int, intent: PaymentIntent, before: PaymentIntent
    ) -> None:
        row = self.w.charges.rows[charge]
        ok = row.status == "succeeded"
        self._event(now, "charge.succeeded" if ok else "charge.failed", "charges", row)
        kind = "payment_intent.succeeded" if ok else "payment_intent.payment_failed"
        self._event(now, kind, "payment_intents", intent, before)

    def _txn(
        self,
        now: int,
        amount: int,
        currency: str,
        kind: str,
        source: str,
        description: str | None,
        *,
        fee: int | None = None,
        category: str | None = None,
    ) -> int:
        rate = TO_USD[currency]
        usd = round(amount * rate)
        if fee is None:
            fee = round(abs(usd) * 0.029) + 30 if kind == "charge" else 0
        row = BalanceTransaction(
            self.w.ids.new("txn_"),
            now,
            usd,
            "usd",
            fee,
            usd - fee,
            kind,
            source,
            day_start(now) + AVAILABLE_AFTER,
            description,
            None if currency == "usd" else rate,
            category or kind,
        )
        return self.w.balance_transactions.add(row)

    # --- refunds and disputes -----------------------------------------------------------------

    def _refund(self, now: int, charge: int, whole: bool = False) -> None:
        w = self.w
        row = w.charges.rows[charge]
        left = row.amount - row.amount_refunded
        if left <= 0 or row.disputed:
            return
        amount = left if whole or self.rng.random() < P_FULL_REFUND else max(1, left // 2)
        refund_id = w.ids.new("re_")
        txn = self._txn(now, -amount, row.currency, "refund", refund_id, "REFUND FOR CHARGE")
        refund = w.refunds.add(
            Refund(
                refund_id,
                now,
                charge,
                row.payment_intent,
                amount,
                row.currency,
                txn,
                "requested_by_customer",
            )
        )
        updated = replace(
            row, amount_refunded=row.amount_refunded + amount, refunds=(*row.refunds, refund)
        )
        self._set(now, w.charges, charge, updated, "charge.refunded")
        self._event(now, "refund.created", "refunds", w.refunds.rows[refund])
        if row.invoice >= 0:
            self._credit_note(now, row.invoice, refund, whole=amount == row.amount)

    def _credit_note(self, now: int, invoice: int, refund: int, *, whole: bool) -> None:
        """The credit note of a refund on an invoice's payment: each invoice line when the
        payment is refunded whole, else one custom line of the refunded amount."""
        w = self.w
        inv = w.invoices.rows[invoice]
        position = len(w.credit_notes)
        first = len(w.credit_note_lines)
        if whole:
            for at in range(inv.lines_from, inv.lines_to):
                line = w.invoice_lines.rows[at]
                w.credit_note_lines.add(
                    CreditNoteLine(
                        "cnli_" + w.ids.new("", 24), now, position, at, line.quantity,
                        line.amount, line.discount, line.tax,
                    )
                )  # fmt: skip
        else:
            amount = w.refunds.rows[refund].amount
            w.credit_note_lines.add(
                CreditNoteLine("cnli_" + w.ids.new("", 24), now, position, -1, 1, amount, 0, 0)
            )
        lines = w.credit_note_lines.rows[first:]
        sequence = w.credit_note_numbers.get(invoice, 0) + 1
        w.credit_note_numbers[invoice] = sequence
        note = CreditNote(
            "cn_" + w.ids.new("", 24), now, inv.customer, invoice, refund,
            f"{inv.number}-CN-{sequence:02d}", sum(n.amount for n in lines),
            sum(n.discount for n in lines), sum(n.tax for n in lines), first,
            len(w.credit_note_lines),
        )  # fmt: skip
        self._add(w.credit_notes, note, "credit_note.created")

    def _dispute(self, now: int, charge: int) -> None:
        w = self.w
        row = w.charges.rows[charge]
        if row.amount_refunded or row.disputed:
            return
        dispute_id = w.ids.new("dp_")
        txn = self._txn(
            now,
            -row.amount,
            row.currency,
            "adjustment",
            dispute_id,
            "Chargeback withdrawal",
            fee=DISPUTE_FEE,
            category="dispute",
        )
        dispute = Dispute(
            dispute_id,
            now,
            charge,
            row.payment_intent,
            row.amount,
            row.currency,
            "needs_response",
            self.rng.choice(_DISPUTE_REASONS),
            (txn,),
            now + 7 * DAY,
        )
        position = self._add(w.disputes, dispute, "charge.dispute.created")
        self._set(now, w.charges, charge, replace(row, disputed=True), "charge.updated")
        self._at(now + self.rng.randint(10 * DAY, 40 * DAY), self._close_dispute, position)

    def _close_dispute(self, now: int, dispute: int) -> None:
        w = self.w
        row = w.disputes.rows[dispute]
        if self.rng.random() < P_DISPUTE_WON:
            txn = self._txn(
                now,
                row.amount,
                row.currency,
                "adjustment",
                row.id,
                "Chargeback reversal",
                category="dispute_reversal",
            )
            closed = replace(
                row, status="won", balance_transactions=(*row.balance_transactions, txn)
            )
        else:
            closed = replace(row, status="lost")
        self._set(now, w.disputes, dispute, closed, "charge.dispute.closed")

    # --- the days -----------------------------------------------------------------------------

    def _daily(self, now: int) -> None:
        rng = self.rng
        size = max(len(self._live_customers), 1)
        for _ in range(_poisson(rng, size * ONE_OFFS_PER_CUSTOMER_DAY)):
            self._at(now + rng.randrange(DAY), self._one_off)
        if now >= self.start:  # simulated days: the world grows and shrinks
            density = max(self.w.spec.customers / HISTORY_DAYS, 1.0)
            for _ in range(_poisson(rng, density)):
                self._at(now + rng.randrange(DAY), self._new_customer)
            for _ in range(_poisson(rng, max(self.w.spec.customers / 1500, 0.4))):
                self._at(now + rng.randrange(DAY), self._delete_customer)
        self._at(now + DAY, self._daily)

    def _payout(self, now: int) -> None:
        w = self.w
        txns = w.balance_transactions
        first = end = self._paid_out_to
        amount = 0
        while end < len(txns) and txns.rows[end].available_on <= now:
            if txns.rows[end].type != "payout":
                amount += txns.rows[end].net
            end += 1
        if amount > 0:
            payout_id = w.ids.new("po_")
            txn = self._txn(
                now, -amount, "usd", "payout", payout_id, "STRIPE PAYOUT", category="payout"
            )
            row = Payout(
                payout_id,
                now,
                amount,
                day_start(now) + AVAILABLE_AFTER,
                "in_transit",
                txn,
                first,
                end,
                w.bank_account,
            )
            payout = self._add(w.payouts, row, "payout.created")
            self._paid_out_to = end
            self._at(row.arrival_date, self._payout_paid, payout)
        self._at(now + PAYOUT_EVERY, self._payout)

    def _payout_paid(self, now: int, payout: int) -> None:
        row = self.w.payouts.rows[payout]
        self._set(now, self.w.payouts, payout, replace(row, status="paid"), "payout.paid")


_pauses = 0
_enabled_before = True
_pauses_lock = threading.Lock()


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """``gc.disable()`` for the duration (concurrent pauses counted; the first one remembers
    whether the collector was on, the last one puts it back)."""
    global _pauses, _enabled_before
    with _pauses_lock:
        if _pauses == 0:
            _enabled_before = gc.isenabled()
        _pauses += 1
        gc.disable()
    try:
        yield
    finally:
        with _pauses_lock:
            _pauses -= 1
            if _pauses == 0 and _enabled_before:
                gc.enable()


def _poisson(rng: random.Random, mean: float) -> int:
    """A Poisson draw (Knuth for small means, a rounded normal for large ones)."""
    if mean <= 0:
        return 0
    if mean > 30:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, count, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count
