"""Lists that live inside a parent object, and their own endpoints (Stripe's "sub-lists").

An invoice embeds its first 10 lines, a subscription its first 10 items (``has_more``,
``total_count`` and ``url`` say there are more); the rest is read from the sub-list endpoint
that ``url`` names, with the usual list rules: ``limit`` 1-100 (default 10),
``starting_after`` / ``ending_before`` (ids of entries of the same parent), ``expand[]`` with
``data.``, the parent's read permission, and ``parameter_unknown`` for anything else. Entries
come in the parent's order (the order of the embedded list), not newest first.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from ._expand import Tree
from ._failures import APIFailure
from ._lists import find, missing
from ._query import Params
from ._render import Renderer
from ._rows import Table
from ._world import World

__all__ = ["SUBLISTS", "SubList", "page"]

_PAGE: Final = {"ending_before": "str", "expand": "array", "limit": "int", "starting_after": "str"}


@dataclass(frozen=True)
class SubList:
    """One sub-list endpoint.

    ``name``: its name for faults and stats. ``path``: its route (``{parent}``: the parent's id
    in the path). ``query_parent``: the query parameter naming the parent instead (required).
    ``parent``: the parent's resource (its read permission guards the sub-list). ``kind``: the
    entries' object kind (for ``expand[]``). ``children``: the parent's entries (positions in
    ``table``). ``render``: one entry as JSON text.
    """

    name: str
    path: str
    parent: str
    kind: str
    table: str
    query_parent: str | None
    children: Callable[[World, int], Sequence[int]]
    render: Callable[[Renderer, int, int, Tree], str]
    #: The resource whose read permission the entries need, besides the parent's.
    needs: str | None = None
    #: Without its query parameter: an empty list (True) or a 400 (False).
    optional_parent: bool = False
    #: Payment methods: the ``type`` filter (every entry is of this type).
    entry_type: str | None = None

    @property
    def params(self) -> dict[str, str]:
        params = dict(_PAGE)
        if self.query_parent is not None:
            params[self.query_parent] = "str"
        if self.entry_type is not None:
            params["type"] = "str"
        return params

    @property
    def route(self) -> str:
        """The endpoint for the rate limiter: ``GET /v1/invoices/{id}/lines``."""
        return "GET " + self.path.replace("{parent}", "{id}")

    def url(self, parent_id: str) -> str:
        if self.query_parent is None:
            return self.path.replace("{parent}", parent_id)
        if self.optional_parent:
            return self.path
        return f"{self.path}?{self.query_parent}={parent_id}"


def _lines(world: World, invoice: int) -> Sequence[int]:
    row = world.invoices.rows[invoice]
    return range(row.lines_from, row.lines_to)


def _items(world: World, subscription: int) -> Sequence[int]:
    return world.subscriptions.rows[subscription].items


def _session_items(world: World, session: int) -> Sequence[int]:
    row = world.checkout_sessions.rows[session]
    return range(row.items_from, row.items_to)


def _note_lines(world: World, note: int) -> Sequence[int]:
    row = world.credit_notes.rows[note]
    return range(row.lines_from, row.lines_to)


def _render_session_item(renderer: Renderer, position: int, parent: int, tree: Tree) -> str:
    return renderer.checkout_item(position, tree)


def _render_note_line(renderer: Renderer, position: int, parent: int, tree: Tree) -> str:
    return renderer.credit_note_line(position, tree)


def _none(world: World, customer: int) -> Sequence[int]:
    """Customer balance transactions: the sandbox's customers never use their credit balance."""
    return ()


def _card(world: World, customer: int) -> Sequence[int]:
    """A customer's payment methods: their card (none once the customer is deleted)."""
    return () if world.customers.rows[customer].deleted else (customer,)


def _render_card(renderer: Renderer, position: int, parent: int, tree: Tree) -> str:
    return renderer.render("payment_methods", renderer.w.customers.rows[position], tree)


def _render_line(renderer: Renderer, position: int, parent: int, tree: Tree) -> str:
    return renderer.line(position, tree)


def _render_item(renderer: Renderer, position: int, parent: int, tree: Tree) -> str:
    sub = renderer.w.subscriptions.rows[parent]
    return renderer.subscription_item(position, sub, tree)


def _render_nothing(renderer: Renderer, position: int, parent: int, tree: Tree) -> str:
    raise AssertionError("customers have no balance transactions in the sandbox")


SUBLISTS: Final = (
    SubList(
        "invoice_lines",
        "/v1/invoices/{parent}/lines",
        "invoices",
        "line_item",
        "invoice_lines",
        None,
        _lines,
        _render_line,
    ),
    SubList(
        "subscription_items",
        "/v1/subscription_items",
        "subscriptions",
        "subscription_item",
        "subscription_items",
        "subscription",
        _items,
        _render_item,
    ),
    SubList(
        "checkout_session_line_items",
        "/v1/checkout/sessions/{parent}/line_items",
        "checkout_sessions",
        "item",
        "checkout_line_items",
        None,
        _session_items,
        _render_session_item,
    ),
    SubList(
        "credit_note_lines",
        "/v1/credit_notes/{parent}/lines",
        "credit_notes",
        "credit_note_line_item",
        "credit_note_lines",
        None,
        _note_lines,
        _render_note_line,
    ),
    SubList(
        "customer_payment_methods",
        "/v1/customers/{parent}/payment_methods",
        "customers",
        "payment_method",
        "customers",
        None,
        _card,
        _render_card,
        needs="payment_methods",
        entry_type="card",
    ),
    SubList(
        "payment_methods",
        "/v1/payment_methods",
        "customers",
        "payment_method",
        "customers",
        "customer",
        _card,
        _render_card,
        needs="payment_methods",
        optional_parent=True,
        entry_type="card",
    ),
    SubList(
        "customer_balance_transactions",
        "/v1/customers/{parent}/balance_transactions",
        "customers",
        "customer_balance_transaction",
        "customers",
        None,
        _none,
        _render_nothing,
    ),
)


def _cursor(
    table: Table[Any], kind: str, children: Sequence[int], object_id: str, param: str
) -> int:
    """The index among ``children`` of the entry ``object_id`` (400 when it is not one)."""
    position = table.find(object_id)
    if position is not None:
        at = bisect.bisect_left(children, position)
        if at < len(children) and children[at] == position:
            return at
    raise missing(kind, object_id, param)


def page(
    world: World, spec: SubList, parent_id: str, params: Params, now: int, *, in_path: bool
) -> tuple[int, list[int], bool]:
    """(parent position, the entries of one page, whether more follow in that direction).

    A parent that does not exist is a 404 when it is in the path (as on Stripe), else the
    400 ``resource_missing`` of its query parameter.
    """
    try:
        parent = find(world, spec.parent, parent_id, spec.query_parent or "id", now)
    except APIFailure:
        if in_path:
            raise missing(spec.parent, parent_id, "id", status=404) from None
        raise
    children = spec.children(world, parent)
    if (
        spec.entry_type is not None
        and params.values.get("type", spec.entry_type) != spec.entry_type
    ):
        children = ()
    table: Table[Any] = world.table(spec.table)
    limit = params.limit
    if params.starting_after is not None:
        begin = _cursor(table, spec.kind, children, params.starting_after, "starting_after") + 1
        stop = min(len(children), begin + limit)
        return parent, list(children[begin:stop]), stop < len(children)
    if params.ending_before is not None:
        end = _cursor(table, spec.kind, children, params.ending_before, "ending_before")
        begin = max(0, end - limit)
        return parent, list(children[begin:end]), begin > 0
    return parent, list(children[:limit]), len(children) > limit
