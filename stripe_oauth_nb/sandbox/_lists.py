"""Stripe's list rules over a world's table: filters, ``created``, cursors, newest first.

Positions in a table follow creation, so "newest first" is descending position and a
``created`` range is a slice found by bisection. Filters other than ``created`` scan the table
once per (filter, table version) and the result is cached, so walking every page of a filtered
list costs one scan, not one per page.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
from typing import Any, Final

from ._expand import KIND_OF
from ._failures import APIFailure
from ._query import Params, Range
from ._render import payment_method_id
from ._rows import Table
from ._rules import EVENT_RETENTION
from ._world import World

__all__ = ["find", "missing", "select"]

Predicate = Callable[[Any], bool]
_CACHE_SIZE: Final = 64
#: Subscription statuses that ``status=ended`` lists.
_ENDED: Final = frozenset({"canceled", "incomplete_expired"})


def missing(resource: str, object_id: str, param: str, status: int = 400) -> APIFailure:
    kind = KIND_OF.get(resource, resource)
    return APIFailure(
        status, f"No such {kind}: '{object_id[:80]}'", code="resource_missing", param=param
    )


def find(world: World, resource: str, object_id: str, param: str, now: int) -> int:
    """The position of ``object_id`` in ``resource``, or Stripe's resource_missing (400)."""
    position = world.table(resource).find(object_id)
    if position is None or (
        resource == "events" and world.events.rows[position].created < now - EVENT_RETENTION
    ):
        raise missing(resource, object_id, param)
    return position


#: Filters naming another object, and that object's resource.
_REFERENCES: Final = {
    "customer": "customers",
    "subscription": "subscriptions",
    "charge": "charges",
    "payment_intent": "payment_intents",
    "product": "products",
    "price": "prices",
    "coupon": "coupons",
    "invoice": "invoices",
}
#: Filters on a field every object of one resource holds with one value.
_CONSTANT_OF: Final[dict[tuple[str, str], Any]] = {
    ("promotion_codes", "active"): True,
    ("tax_rates", "active"): True,
    ("tax_rates", "inclusive"): False,
    ("setup_intents", "attach_to_self"): False,
    ("invoiceitems", "pending"): False,  # made with their invoice: never pending
    ("checkout_sessions", "payment_link"): None,
    ("subscription_schedules", "scheduled"): False,  # none waits to start
}
#: Filters on a field every object of the sandbox holds with one value (``None``: unset).
_CONSTANT: Final[dict[str, Any]] = {
    "collection_method": "charge_automatically",
    "delivery_success": True,
    "shippable": None,
    "transfer_group": None,
    "url": None,
}
#: Timestamp filters and the row field they bound.
_RANGES: Final = {
    "arrival_date": "arrival_date",
    "current_period_end": "period_end",
    "current_period_start": "period_start",
    "due_date": "due_date",
    "canceled_at": "canceled_at",
    "completed_at": "completed_at",
    "released_at": "released_at",
}


def _filter(world: World, resource: str, name: str, value: Any, now: int) -> tuple[Any, Predicate]:
    """(cache key part, test) for one parameter of a list request."""
    if (resource, name) in _CONSTANT_OF:
        constant = _CONSTANT_OF[(resource, name)]
        return value, lambda row: value == constant
    if name == "customer_details":  # checkout sessions: the customer's email
        customers, email = world.customers.rows, value.get("email")
        return email, lambda row: customers[row.customer].email == email
    if name == "customer" and resource == "promotion_codes":
        find(world, "customers", value, name, now)
        return value, lambda row: False  # no code is restricted to a customer
    if name == "payment_method" and resource == "setup_intents":
        customers = world.customers.rows
        return value, lambda row: payment_method_id(customers[row.customer]) == value
    if name == "price" and resource == "subscriptions":
        price = find(world, "prices", value, name, now)
        items = world.subscription_items.rows
        return price, lambda row: any(items[i].price == price for i in row.items)
    if name in _REFERENCES:
        position = find(world, _REFERENCES[name], value, name, now)
        return position, lambda row: getattr(row, name) == position
    if name == "test_clock":
        raise APIFailure(
            400, f"No such test clock: '{value[:80]}'", code="resource_missing", param=name
        )
    if name == "payout":
        payout = world.payouts.rows[find(world, "payouts", value, name, now)]
        index = world.balance_transactions.index
        first, end = payout.first_txn, payout.end_txn
        return payout.id, lambda row: row.type != "payout" and first <= index[row.id] < end
    if name in _CONSTANT:
        return value, lambda row: value == _CONSTANT[name]
    if name in _RANGES:
        field, bounds = _RANGES[name], value
        return (bounds.low, bounds.high), lambda row: bounds.contains(getattr(row, field, None))
    if name in ("ids", "lookup_keys", "types"):
        wanted = frozenset(value)
        field = {"ids": "id", "lookup_keys": "lookup_key", "types": "type"}[name]
        return tuple(sorted(wanted)), lambda row: getattr(row, field) in wanted
    if name == "recurring":
        interval, usage = value.get("interval"), value.get("usage_type", "licensed")
        return (
            (interval, usage),
            lambda row: (
                row.interval is not None
                and interval in (None, row.interval)
                and usage == "licensed"
            ),
        )
    if name == "automatic_tax":
        return value.get("enabled"), lambda row: value.get("enabled") is not True
    if name == "type" and resource == "prices":
        recurring = value == "recurring"
        return value, lambda row: (row.interval is not None) == recurring
    if name == "type" and resource == "events" and value.endswith("*"):
        return value, lambda row: row.type.startswith(value[:-1])
    if name == "status" and resource == "subscriptions" and value in ("all", "ended"):
        return value, lambda row: value == "all" or row.status in _ENDED
    # email, currency, source, type, destination, active, status: the field equals the value
    return value, lambda row: getattr(row, name) == value


def _filters(
    world: World, resource: str, values: dict[str, Any], now: int
) -> tuple[list[tuple[str, Any]], list[Predicate]]:
    """(cache key, tests) for the filters of a list request, plus the implicit ones."""
    if "type" in values and "types" in values:
        raise APIFailure(400, "You may pass either type or types, but not both.", param="types")
    key: list[tuple[str, Any]] = []
    tests: list[Predicate] = []
    for name, value in sorted(values.items()):
        part, test = _filter(world, resource, name, value, now)
        key.append((name, part))
        tests.append(test)
    if resource == "customers" and world.deleted_customers:
        key.append(("deleted", False))
        tests.append(lambda row: not row.deleted)
    if resource == "subscriptions" and "status" not in values:
        key.append(("status", "not canceled"))
        tests.append(lambda row: row.status != "canceled")
    return key, tests


def _matching(
    world: World, table: Table[Any], key: tuple[Any, ...], tests: list[Predicate]
) -> list[int]:
    cache = world.filter_cache
    entry = cache.get(key)
    if entry is not None and entry[0] == table.version:
        return entry[1]
    rows = table.rows
    found = [i for i in range(len(rows)) if all(test(rows[i]) for test in tests)]
    if len(cache) >= _CACHE_SIZE:
        cache.pop(next(iter(cache)))
    cache[key] = (table.version, found)
    return found


def select(world: World, resource: str, params: Params, now: int) -> tuple[list[int], bool]:
    """The positions of one page (newest first) and whether more follow in that direction."""
    table = world.table(resource)
    key, tests = _filters(world, resource, params.values, now)
    created = params.created or Range()
    if resource == "events":  # only the last 30 days
        floor = now - EVENT_RETENTION
        created = Range(max(floor, created.low or floor), created.high)
    low = 0 if created.low is None else table.first_created_at_or_after(created.low)
    high = len(table) if created.high is None else bisect.bisect_right(table.created, created.high)
    positions: Sequence[int]
    if tests:
        matching = _matching(world, table, (resource, tuple(key)), tests)
        positions = matching[bisect.bisect_left(matching, low) : bisect.bisect_left(matching, high)]
    else:
        positions = range(low, max(low, high))
    limit = params.limit
    if params.starting_after is not None:
        cursor = find(world, resource, params.starting_after, "starting_after", now)
        end = bisect.bisect_left(positions, cursor)
        start = max(0, end - limit)
        return list(reversed(positions[start:end])), start > 0
    if params.ending_before is not None:
        cursor = find(world, resource, params.ending_before, "ending_before", now)
        begin = bisect.bisect_right(positions, cursor)
        stop = min(len(positions), begin + limit)
        return list(reversed(positions[begin:stop])), stop < len(positions)
    start = max(0, len(positions) - limit)
    return list(reversed(positions[start:])), start > 0
