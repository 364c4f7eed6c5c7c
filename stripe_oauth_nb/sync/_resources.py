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
days later.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from .._errors import SyncConfigError

__all__ = ["RESOURCES", "Resource", "by_object", "select"]


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

    @property
    def path(self) -> str:
        return f"/v1/{self.name}"


#: Every resource, in the order the report and the progress bars show them.
RESOURCES: tuple[Resource, ...] = (
    Resource("customers", "customer", "customer_read", created_events=True),
    Resource("products", "product", "product_read", created_events=True),
    Resource("prices", "price", "plan_read", created_events=True),
    Resource(
        "subscriptions", "subscription", "subscription_read", {"status": "all"}, created_events=True
    ),
    Resource("invoices", "invoice", "invoice_read", created_events=True),
    Resource("charges", "charge", "charge_read", created_events=True),
    Resource("payment_intents", "payment_intent", "payment_intent_read", created_events=True),
    Resource("refunds", "refund", "charge_read", created_events=True),
    Resource("balance_transactions", "balance_transaction", "balance_read", unsettled="pending"),
    Resource("payouts", "payout", "payout_read", created_events=True),
    Resource("disputes", "dispute", "dispute_read"),
)

_BY_NAME = {r.name: r for r in RESOURCES}
_BY_OBJECT = {r.object: r for r in RESOURCES}


def by_object(object_type: object) -> Resource | None:
    """The resource whose objects have this ``object`` field, or None (not loaded)."""
    return _BY_OBJECT.get(object_type) if isinstance(object_type, str) else None


def select(names: Iterable[str] | None) -> tuple[Resource, ...]:
    """The resources named (all when ``names`` is None); unknown names are one clear error."""
    if names is None:
        return RESOURCES
    wanted = [n.strip() for n in names if n.strip()]
    unknown = [n for n in wanted if n not in _BY_NAME]
    if unknown:
        raise SyncConfigError(
            f"Unknown resource name{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}. "
            f"Choose from: {', '.join(_BY_NAME)}."
        )
    if not wanted:
        raise SyncConfigError(
            f"No resource was named. Choose from: {', '.join(_BY_NAME)} (or leave the list out "
            "to load them all)."
        )
    chosen = set(wanted)
    return tuple(r for r in RESOURCES if r.name in chosen)
