"""The Stripe resources the sync loads: list path, object type, read permission, list filters.

One row per table. ``object`` is the ``object`` field Stripe gives the resource's objects (how an
event's ``data.object`` is routed to its table); ``permission`` is the Stripe Apps read
permission the resource needs (a 403 names the real one; this is the fallback for the report);
``params`` are filters every list call sends (subscriptions: ``status=all``, since Stripe leaves
canceled subscriptions out of the list by default).

``created_events`` marks the resources whose every change, their creation included, is an event
carrying the object as the list shows it: ``customer.created``, ``product.created``,
``price.created``, ``customer.subscription.created``, ``invoice.created``,
``payment_intent.created``, ``refund.created``, ``payout.created``; a charge is created
``pending``, ``succeeded`` or ``failed``, each an event (``charge.pending`` and so on). Their
incremental runs take new objects from the events and read no ``created`` windows (so they make
no request of their own: a read permission withdrawn since the last run is not seen as a 403
there). The others are read by ``created``: balance transactions have no events at all (and
settle without one), and a dispute embeds its balance transactions whole, whose ``status`` turns
``available`` with no event, so the ``charge.dispute.created`` snapshot is not what the list shows
days later. So are checkout sessions: an open session has no event (``checkout.session.completed``
and ``.expired`` come later); like credit notes, their list takes no ``created`` range (API
2023-08-16), so it is read newest first down to the last run's newest.

The later tables: tax rates, setup intents, subscription schedules and invoice items are created
with an event (``tax_rate.created``, ...); coupons and promotion codes too, but a redemption
changes their ``times_redeemed`` (and ``valid``) with no event, so every run reads these short
lists whole (``reread``); credit notes are created with an event
(``credit_note.created``); a customer's payment methods appear with ``payment_method.attached``
and leave with ``payment_method.detached`` (a full pass pages the customers, then each one's
list). ``balance`` is one object, not a list: each run adds a row per currency (``id``
``<currency>_<milliseconds>``, ``created`` the second it was read), and nothing removes them.

Child tables (:class:`Child`) hold the entries of lists embedded in a resource's objects:
``invoice_lines``, ``subscription_items``, ``credit_note_lines`` and
``checkout_session_line_items`` (a checkout session's ``line_items`` are embedded when the list
expands them, which it does). They are read and loaded with their parent.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from .._errors import SyncConfigError

__all__ = [
    "CHILDREN",
    "RESOURCES",
    "TABLES",
    "Child",
    "PerParent",
    "Resource",
    "by_object",
    "select",
]


@dataclass(frozen=True)
class Child:
    """A list Stripe embeds in a resource's objects, loaded into a flat table of its own.

    Stripe embeds the first entries only (10), with ``has_more`` and the ``url`` of the rest:
    the sub-list endpoint (``path``, ``params``; ``{id}`` is the parent's id) is read only for a
    parent whose embedded list has more. Each row carries the parent's id in ``parent``.
    """

    name: str
    #: The parent's field holding the embedded list.
    embedded: str
    parent: str
    path: str
    params: Mapping[str, str] = field(default_factory=dict)

    def sub_list(self, parent_id: str) -> tuple[str, dict[str, str]]:
        """The sub-list request of one parent: its path and filters."""
        params = {k: v.replace("{id}", parent_id) for k, v in self.params.items()}
        return self.path.replace("{id}", parent_id), params


@dataclass(frozen=True)
class PerParent:
    """A resource Stripe lists per object of another list: ``path`` (``{id}``: the parent's
    id) for every object of ``parents`` (a customer's payment methods)."""

    parents: str
    path: str
    #: The parents' ``object``, and the column of the resource's rows holding the parent's id:
    #: a deleted parent takes its rows along (Stripe detaches a deleted customer's payment
    #: methods without an event).
    parent_object: str = "customer"
    column: str = "customer"

    def of(self, parent_id: str) -> str:
        return self.path.replace("{id}", parent_id)


@dataclass(frozen=True)
class Resource:
    """One Stripe list endpoint, loaded into the table of the same name."""

    name: str
    object: str
    permission: str
    params: Mapping[str, str] = field(default_factory=dict)
    #: A ``status`` that changes later without any event (a balance transaction is ``pending``
    #: until its ``available_on``): incremental runs read again from the oldest such row.
    unsettled: str | None = None
    #: Every change of its objects, creation included, is an event (see the module's docstring):
    #: an incremental run reads no ``created`` windows, the events bring the new objects.
    created_events: bool = False
    #: Lists embedded in its objects that get tables of their own (complete past 10 entries).
    children: tuple[Child, ...] = ()
    #: The list's path when it is not ``/v1/<name>``.
    list_path: str | None = None
    #: Whether the list takes ``created`` ranges (else it is read newest first, from the top,
    #: down to the oldest object wanted).
    created_filter: bool = True
    #: Event types that take an object out of the list besides ``*.deleted``.
    removed_by: tuple[str, ...] = ()
    #: Extra filters of a retrieve (``GET path/{id}``), e.g. what the list expands.
    retrieve_params: Mapping[str, str] = field(default_factory=dict)
    #: Listed per object of another list (a full pass pages ``parents``, then each one's list).
    per_parent: PerParent | None = None
    #: One object, not a list (``/v1/balance``): a row per run and currency, never deleted.
    snapshot: bool = False
    #: The field holding the time the ``created`` filter ranges over (an invoice item's
    #: ``date``: it has no ``created``).
    created_field: str = "created"
    #: Its objects change without an event (a coupon's ``times_redeemed``): every run reads the
    #: whole list (a short one), as a full pass.
    reread: bool = False

    @property
    def path(self) -> str:
        return self.list_path or f"/v1/{self.name}"

    @property
    def child_tables(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.children)


#: Every resource, in the order the report and the progress bars show them.
RESOURCES: tuple[Resource, ...] = (
    Resource("customers", "customer", "customer_read", created_events=True),
    Resource("products", "product", "product_read", created_events=True),
    Resource("prices", "price", "plan_read", created_events=True),
    Resource(
        "subscriptions",
        "subscription",
        "subscription_read",
        {"status": "all"},
        created_events=True,
        children=(
            Child(
                "subscription_items",
                "items",
                "subscription",
                "/v1/subscription_items",
                {"subscription": "{id}"},
            ),
        ),
    ),
    Resource(
        "invoices",
        "invoice",
        "invoice_read",
        created_events=True,
        children=(Child("invoice_lines", "lines", "invoice", "/v1/invoices/{id}/lines"),),
    ),
    Resource("charges", "charge", "charge_read", created_events=True),
    Resource("payment_intents", "payment_intent", "payment_intent_read", created_events=True),
    Resource("refunds", "refund", "charge_read", created_events=True),
    Resource("balance_transactions", "balance_transaction", "balance_read", unsettled="pending"),
    Resource("payouts", "payout", "payout_read", created_events=True),
    Resource("disputes", "dispute", "dispute_read"),
    Resource("coupons", "coupon", "coupon_read", reread=True),
    Resource("promotion_codes", "promotion_code", "promotion_code_read", reread=True),
    Resource("tax_rates", "tax_rate", "tax_rate_read", created_events=True),
    Resource(
        "credit_notes",
        "credit_note",
        "credit_note_read",
        created_events=True,
        created_filter=False,
        children=(
            Child("credit_note_lines", "lines", "credit_note", "/v1/credit_notes/{id}/lines"),
        ),
    ),
    Resource(
        "checkout_sessions",
        "checkout.session",
        "checkout_session_read",
        {"expand[]": "data.line_items"},
        list_path="/v1/checkout/sessions",
        created_filter=False,
        retrieve_params={"expand[]": "line_items"},
        children=(
            Child(
                "checkout_session_line_items",
                "line_items",
                "checkout_session",
                "/v1/checkout/sessions/{id}/line_items",
            ),
        ),
    ),
    Resource(
        "payment_methods",
        "payment_method",
        "payment_method_read",
        created_events=True,
        removed_by=("payment_method.detached",),
        per_parent=PerParent("/v1/customers", "/v1/customers/{id}/payment_methods"),
    ),
    Resource("setup_intents", "setup_intent", "setup_intent_read", created_events=True),
    Resource(
        "subscription_schedules", "subscription_schedule", "subscription_read", created_events=True
    ),
    Resource(
        "invoiceitems", "invoiceitem", "invoice_read", created_events=True, created_field="date"
    ),
    Resource("balance", "balance", "balance_read", snapshot=True),
)

#: Every child table, and every table the sync loads (resources, each followed by its children).
CHILDREN: tuple[Child, ...] = tuple(c for r in RESOURCES for c in r.children)
TABLES: tuple[str, ...] = tuple(
    n for r in RESOURCES for n in (r.name, *(c.name for c in r.children))
)

_BY_NAME = {r.name: r for r in RESOURCES}
_BY_OBJECT = {r.object: r for r in RESOURCES if not r.snapshot}  # (balance.available: no row)
#: A child table's name -> its parent resource (naming a child table loads its parent).
_PARENT = {c.name: r for r in RESOURCES for c in r.children}


def by_object(object_type: object) -> Resource | None:
    """The resource whose objects have this ``object`` field, or None (not loaded)."""
    return _BY_OBJECT.get(object_type) if isinstance(object_type, str) else None


def select(names: Iterable[str] | None) -> tuple[Resource, ...]:
    """The resources named (all when ``names`` is None); unknown names are one clear error. A
    child table (``invoice_lines``) names its parent: the two are read and loaded together."""
    if names is None:
        return RESOURCES
    wanted = [n.strip() for n in names if n.strip()]
    unknown = [n for n in wanted if n not in _BY_NAME and n not in _PARENT]
    if unknown:
        raise SyncConfigError(
            f"Unknown resource name{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}. "
            f"Choose from: {', '.join(TABLES)}."
        )
    if not wanted:
        raise SyncConfigError(
            f"No resource was named. Choose from: {', '.join(TABLES)} (or leave the list out "
            "to load them all)."
        )
    chosen = {_PARENT[n].name if n in _PARENT else n for n in wanted}
    return tuple(r for r in RESOURCES if r.name in chosen)
