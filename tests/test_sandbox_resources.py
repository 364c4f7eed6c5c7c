"""The data itself: ids with Stripe's prefixes, every reference resolvable in the same world,
amounts that add up, sizes that scale with ``customers``, the same data for the same seed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from _sandbox_helpers import read_everything, reader, walk

from stripe_oauth_nb.sandbox import Sandbox
from stripe_oauth_nb.sandbox._business import TO_USD

START = 1_767_225_600
PREFIXES = {
    "customers": "cus_",
    "products": "prod_",
    "prices": "price_",
    "subscriptions": "sub_",
    "invoices": "in_",
    "charges": "ch_",
    "payment_intents": "pi_",
    "refunds": "re_",
    "balance_transactions": "txn_",
    "payouts": "po_",
    "disputes": "dp_",
    "events": "evt_",
    "coupons": "",
    "promotion_codes": "promo_",
    "tax_rates": "txr_",
    "invoiceitems": "ii_",
    "setup_intents": "seti_",
    "checkout_sessions": "cs_",
    "credit_notes": "cn_",
    "subscription_schedules": "sub_sched_",
}
#: Fields holding the id of another served object: field -> its resource.
REFERENCES = {
    "customers": {},
    "products": {"default_price": "prices"},
    "prices": {"product": "products"},
    "subscriptions": {"customer": "customers", "latest_invoice": "invoices"},
    "invoices": {"customer": "customers", "subscription": "subscriptions"},
    "charges": {
        "customer": "customers",
        "payment_intent": "payment_intents",
        "balance_transaction": "balance_transactions",
    },
    "payment_intents": {"customer": "customers", "latest_charge": "charges"},
    "refunds": {
        "charge": "charges",
        "payment_intent": "payment_intents",
        "balance_transaction": "balance_transactions",
    },
    "balance_transactions": {},
    "payouts": {"balance_transaction": "balance_transactions"},
    "disputes": {"charge": "charges", "payment_intent": "payment_intents"},
    "events": {},
    "coupons": {},
    "promotion_codes": {},
    "tax_rates": {},
    "invoiceitems": {"customer": "customers", "invoice": "invoices"},
    "setup_intents": {"customer": "customers"},
    "checkout_sessions": {
        "customer": "customers",
        "invoice": "invoices",
        "payment_intent": "payment_intents",
        "subscription": "subscriptions",
    },
    "credit_notes": {"customer": "customers", "invoice": "invoices"},
    "subscription_schedules": {"customer": "customers", "subscription": "subscriptions"},
}


def read_all(sb: Sandbox) -> dict[str, dict[str, dict[str, Any]]]:
    with reader(sb) as client:
        return read_everything(client)


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    with Sandbox(customers=300, start=START, rate_limit=False) as sandbox:
        sandbox.simulate(15)
        yield sandbox


@pytest.fixture(scope="module")
def data(sb: Sandbox) -> dict[str, dict[str, dict[str, Any]]]:
    return read_all(sb)


def test_every_resource_has_objects_with_stripes_prefixes(
    data: dict[str, dict[str, dict[str, Any]]],
) -> None:
    for resource, objects in data.items():
        assert objects, resource
        assert all(i.startswith(PREFIXES[resource]) for i in objects), resource


def test_every_reference_resolves_in_the_same_world(
    data: dict[str, dict[str, dict[str, Any]]], sb: Sandbox
) -> None:
    deleted = {row.id for row in sb.world().customers.rows if row.deleted}
    for resource, fields in REFERENCES.items():
        for obj in data[resource].values():
            for field, target in fields.items():
                ref = obj[field]
                if ref is None:
                    continue
                assert ref in data[target] or (target == "customers" and ref in deleted), (
                    resource,
                    obj["id"],
                    field,
                    ref,
                )
    for txn in data["balance_transactions"].values():
        source = txn["source"]
        kinds = {"ch_": "charges", "re_": "refunds", "po_": "payouts", "dp_": "disputes"}
        assert source in data[kinds[source[:3]]], txn["id"]
    for event in data["events"].values():
        obj = event["data"]["object"]
        assert obj["id"].startswith((*PREFIXES.values(), "pm_")), event["type"]


def test_charges_and_their_balance_transactions_add_up(
    data: dict[str, dict[str, dict[str, Any]]],
) -> None:
    txns = data["balance_transactions"]
    for charge in data["charges"].values():
        if charge["status"] != "succeeded":
            assert charge["balance_transaction"] is None
            assert charge["amount_captured"] == 0
            continue
        txn = txns[charge["balance_transaction"]]
        assert txn["source"] == charge["id"]
        assert txn["amount"] == round(charge["amount"] * TO_USD[charge["currency"]])
        assert txn["net"] == txn["amount"] - txn["fee"]
        assert txn["fee"] == sum(f["amount"] for f in txn["fee_details"])
        assert txn["type"] == "charge"


def test_refunds_never_exceed_their_charge(data: dict[str, dict[str, dict[str, Any]]]) -> None:
    refunds = data["refunds"]
    assert refunds
    for charge in data["charges"].values():
        listed = charge["refunds"]["data"]
        assert sum(r["amount"] for r in listed) == charge["amount_refunded"] <= charge["amount"]
        assert charge["refunded"] is (charge["amount_refunded"] == charge["amount"])
        for refund in listed:
            assert refunds[refund["id"]] == refund
            assert refund["charge"] == charge["id"]
            txn = data["balance_transactions"][refund["balance_transaction"]]
            assert txn["amount"] == -round(refund["amount"] * TO_USD[refund["currency"]])


def test_invoices_are_paid_by_their_charges(data: dict[str, dict[str, dict[str, Any]]]) -> None:
    intents = data["payment_intents"]
    statuses = set()
    for invoice in data["invoices"].values():
        statuses.add(invoice["status"])
        # The whole sum over every line is checked in test_sandbox_billing.py.
        assert invoice["amount_due"] == invoice["total"]
        assert invoice["total"] == (
            invoice["subtotal"]
            - sum(d["amount"] for d in invoice["total_discount_amounts"])
            + sum(t["amount"] for t in invoice["total_taxes"])
        )
        assert invoice["amount_remaining"] == invoice["amount_due"] - invoice["amount_paid"]
        if invoice["status"] == "paid":
            assert invoice["amount_paid"] == invoice["amount_due"]
            assert invoice["status_transitions"]["paid_at"] is not None
    assert {"paid", "open"} <= statuses or {"paid", "uncollectible"} <= statuses
    for intent in intents.values():
        if intent["status"] == "succeeded":
            charge = data["charges"][intent["latest_charge"]]
            assert (charge["status"], charge["amount"]) == ("succeeded", intent["amount"])


def test_payouts_pay_out_what_became_available(
    sb: Sandbox, data: dict[str, dict[str, dict[str, Any]]]
) -> None:
    with reader(sb) as c:
        for payout in list(data["payouts"].values())[:5]:
            included = walk(c, "/v1/balance_transactions", {"payout": payout["id"]})
            assert sum(t["net"] for t in included) == payout["amount"] > 0
            assert all(t["available_on"] <= payout["created"] for t in included)
            own = data["balance_transactions"][payout["balance_transaction"]]
            assert (own["type"], own["amount"]) == ("payout", -payout["amount"])


def test_disputes_take_the_charge_and_a_fee(data: dict[str, dict[str, dict[str, Any]]]) -> None:
    assert data["disputes"]
    for dispute in data["disputes"].values():
        charge = data["charges"][dispute["charge"]]
        assert charge["disputed"] is True
        assert dispute["amount"] == charge["amount"]
        withdrawal = dispute["balance_transactions"][0]
        assert withdrawal["fee"] == 1500
        assert withdrawal["net"] == withdrawal["amount"] - 1500


def test_sizes_scale_with_customers() -> None:
    small = Sandbox(customers=50, start=START).counts()
    large = Sandbox(customers=500, start=START).counts()
    assert (small["customers"], large["customers"]) == (50, 500)
    for resource in ("subscriptions", "invoices", "charges", "payment_intents"):
        assert 5 * small[resource] < large[resource] < 15 * small[resource], resource
    assert small["products"] == large["products"]


def test_same_seed_and_start_same_data() -> None:
    def dump(seed: int) -> dict[str, Any]:
        with Sandbox(customers=40, seed=seed, start=START, rate_limit=False) as sb:
            sb.simulate(3)
            return read_all(sb)

    assert dump(1) == dump(1)
    assert dump(1)["customers"].keys() != dump(2)["customers"].keys()
