"""Time moves: ``simulate(days)`` plays days of business, every change shows in the objects and
in ``/v1/events``, deleted customers disappear, and ``/_sandbox/counts`` says what is there."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
from _sandbox_helpers import read_everything, reader, walk

from stripe_oauth_nb._errors import SandboxError
from stripe_oauth_nb._http import httpx
from stripe_oauth_nb.sandbox import Sandbox
from stripe_oauth_nb.sandbox._expand import KIND_OF
from stripe_oauth_nb.sandbox._world import RESOURCES

START = 1_767_225_600
DAY = 86_400
#: The resources whose every change has an event (balance transactions have none on Stripe:
#: they are only ever added, and read by ``created``).
EVENTED = [r for r in RESOURCES if r not in ("balance_transactions", "events")]


@pytest.fixture(scope="module")
def played() -> Iterator[tuple[Sandbox, dict[str, Any], dict[str, Any], list[dict[str, Any]]]]:
    """A sandbox read fully, then 12 simulated days later read again, with the events between."""
    with Sandbox(customers=300, start=START, rate_limit=False) as sb:
        with reader(sb) as client:
            before = read_everything(client)
        sb.simulate(12)
        with reader(sb) as client:  # a fresh token: the clock moved 12 days
            after = read_everything(client)
            events = walk(client, "/v1/events", {"created[gt]": START})
        yield sb, before, after, events


@pytest.mark.slow
def test_days_bring_every_kind_of_change(
    played: tuple[Sandbox, dict[str, Any], dict[str, Any], list[dict[str, Any]]],
) -> None:
    _, before, after, events = played
    kinds = {e["type"] for e in events}
    assert {
        "customer.created",
        "customer.deleted",
        "customer.subscription.created",
        "customer.subscription.updated",
        "invoice.created",
        "invoice.finalized",
        "invoice.paid",
        "invoice.payment_succeeded",
        "payment_intent.created",
        "payment_intent.succeeded",
        "charge.succeeded",
        "payout.created",
    } <= kinds
    assert {"invoice.payment_failed", "charge.failed", "charge.refunded"} & kinds
    assert all(START < e["created"] <= START + 12 * DAY for e in events)
    created = [e["created"] for e in events]
    assert created == sorted(created, reverse=True)
    for resource in ("charges", "invoices", "payment_intents", "balance_transactions"):
        assert len(after[resource]) > len(before[resource]), resource


def test_replaying_events_on_the_old_reads_gives_the_new_reads(
    played: tuple[Sandbox, dict[str, Any], dict[str, Any], list[dict[str, Any]]],
) -> None:
    """What an incremental sync does: old tables + events since = the API now."""
    _, before, after, events = played
    tables = copy.deepcopy(before)
    resource_of = {kind: resource for resource, kind in KIND_OF.items()}
    for event in reversed(events):  # oldest first
        obj = event["data"]["object"]
        resource = resource_of[obj["object"]]
        if resource not in tables:  # payment methods: read per customer
            continue
        if event["type"] == "customer.deleted":
            tables["customers"].pop(obj["id"], None)
        else:
            tables[resource][obj["id"]] = obj
    # A redemption counts on the coupon and the promotion code without an event (as on
    # Stripe): compare them without their count.
    uncounted = lambda o: {k: v for k, v in o.items() if k != "times_redeemed"}  # noqa: E731
    for resource in EVENTED:
        assert {i: uncounted(o) for i, o in tables[resource].items()} == {
            i: uncounted(o) for i, o in after[resource].items()
        }, resource
    # balance transactions: new ones by created; their status moves from pending to available
    # on available_on, without an event (as on Stripe)
    strip = lambda t: {k: v for k, v in t.items() if k != "status"}  # noqa: E731
    new = {i: t for i, t in after["balance_transactions"].items() if t["created"] > START}
    merged = {**before["balance_transactions"], **new}
    assert {i: strip(t) for i, t in merged.items()} == {
        i: strip(t) for i, t in after["balance_transactions"].items()
    }


def test_updated_events_carry_the_previous_attributes(
    played: tuple[Sandbox, dict[str, Any], dict[str, Any], list[dict[str, Any]]],
) -> None:
    _, _, _, events = played
    updates = [e for e in events if e["type"] == "customer.subscription.updated"]
    assert updates
    for event in updates:
        previous = event["data"]["previous_attributes"]
        assert previous
        for field, old in previous.items():
            # items: a change past the first 10 items does not show in the embedded list
            assert event["data"]["object"][field] != old or field == "items"
    refunded = next(e for e in events if e["type"] == "charge.refunded")
    assert "amount_refunded" in refunded["data"]["previous_attributes"]


def test_deleted_customers_leave_lists_and_retrieve_as_deleted(
    played: tuple[Sandbox, dict[str, Any], dict[str, Any], list[dict[str, Any]]],
) -> None:
    sb, _, after, events = played
    gone = [e["data"]["object"]["id"] for e in events if e["type"] == "customer.deleted"]
    assert gone
    with reader(sb) as client:
        for customer_id in gone:
            assert customer_id not in after["customers"]
            body = client.get(f"/v1/customers/{customer_id}").json()
            assert body == {"id": customer_id, "object": "customer", "deleted": True}
            subs = walk(client, "/v1/subscriptions", {"customer": customer_id, "status": "all"})
            assert all(s["status"] == "canceled" for s in subs)


def test_counts_match_what_the_lists_return(
    played: tuple[Sandbox, dict[str, Any], dict[str, Any], list[dict[str, Any]]],
) -> None:
    sb, _, after, _ = played
    with httpx.Client(base_url=sb.api_base, trust_env=False) as control:
        body = control.get(
            "/_sandbox/counts", params={"account": sb.account_id, "mode": "test"}
        ).json()
    assert body["account"] == sb.account_id
    assert body["mode"] == "test"
    assert body["counts"] == {r: len(after[r]) for r in RESOURCES}
    assert sb.counts() == body["counts"]


def test_events_older_than_thirty_days_are_gone() -> None:
    with Sandbox(customers=60, start=START, rate_limit=False) as sb:
        with reader(sb) as client:
            first = walk(client, "/v1/events")
            assert all(e["created"] >= START - 30 * DAY for e in first)
            oldest = first[-1]
        sb.simulate(31)
        with reader(sb) as client:
            later = walk(client, "/v1/events")
            assert oldest["id"] not in {e["id"] for e in later}
            assert all(e["created"] >= sb.now() - 30 * DAY for e in later)
            response = client.get(f"/v1/events/{oldest['id']}")
            assert response.status_code == 404
            assert response.json()["error"]["code"] == "resource_missing"


def test_simulate_over_http_and_in_steps_is_the_same() -> None:
    def play(steps: list[int]) -> dict[str, int]:
        with Sandbox(customers=80, start=START, rate_limit=False) as sb:
            sb.counts()  # build the world first: later worlds catch up the same way
            with httpx.Client(base_url=sb.api_base, trust_env=False) as control:
                for days in steps:
                    answer = control.post("/_sandbox/simulate", json={"days": days}).json()
                    assert answer["days"] == days
            assert sb.now() == START + sum(steps) * DAY
            return sb.counts()

    assert play([5]) == play([2, 3]) == play([1, 1, 1, 1, 1])


@pytest.mark.parametrize("days", [0, -1, 367, 1.5, "3", None, True])
def test_simulate_refuses_bad_days(days: Any) -> None:
    sb = Sandbox(customers=0, start=START)
    with pytest.raises(SandboxError, match="days"):
        sb.simulate(days)
    with sb, httpx.Client(base_url=sb.api_base, trust_env=False) as control:
        response = control.post("/_sandbox/simulate", json={"days": days})
        assert response.status_code == 400
        assert "days" in response.json()["error"]["message"]


def test_counts_refuse_unknown_accounts_and_modes() -> None:
    with (
        Sandbox(customers=0, start=START) as sb,
        httpx.Client(base_url=sb.api_base, trust_env=False) as control,
    ):
        for params in ({"account": "acct_nope"}, {"mode": "both"}, {"colour": "red"}):
            response = control.get("/_sandbox/counts", params=params)
            assert response.status_code == 400, params


def test_reset_forgets_simulated_days() -> None:
    sb = Sandbox(customers=30, start=START)
    fresh = sb.counts()
    sb.simulate(10)
    assert sb.counts() != fresh
    sb.reset()
    assert sb.counts() == fresh
    assert sb.now() == START
