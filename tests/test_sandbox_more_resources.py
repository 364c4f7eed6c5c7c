"""The resources an analyst joins beyond the core ones: coupons, promotion codes, tax rates,
invoice items, setup intents, payment methods (per customer) and the balance.

The generic list rules, schemas and permissions of the listed ones are checked with every other
resource (``test_sandbox_lists``, ``test_sandbox_openapi``, ``test_sandbox_permissions``); this
file checks what is particular to them, and that the official library reads them all.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import stripe
from _sandbox_helpers import read_all_app, reader, walk
from test_sandbox_openapi import check

from stripe_oauth_nb._http import httpx
from stripe_oauth_nb.sandbox import Sandbox
from stripe_oauth_nb.sandbox._permissions import REQUIRED, grants
from stripe_oauth_nb.sandbox._versions import API_VERSION

START = 1_767_225_600


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    with Sandbox(customers=120, start=START, rate_limit=False) as sandbox:
        sandbox.simulate(10)
        yield sandbox


@pytest.fixture(scope="module")
def api(sb: Sandbox) -> Iterator[httpx.Client]:
    with reader(sb) as client:
        yield client


def test_the_demo_app_reads_every_resource(sb: Sandbox) -> None:
    needed = set(REQUIRED.values()) - {"balance_transaction_source_read"}
    assert needed <= grants(sb.demo_app.permissions)


def test_each_customer_has_their_card_as_a_payment_method(api: httpx.Client) -> None:
    customers = walk(api, "/v1/customers")
    charges = walk(api, "/v1/charges")
    cards = {c["customer"]: c["payment_method"] for c in charges}
    for customer in customers[:30]:
        path = f"/v1/customers/{customer['id']}/payment_methods"
        listed = api.get(path).json()
        check(listed, "/v1/customers/{customer}/payment_methods:200")
        assert listed["url"] == path
        [method] = listed["data"]
        assert method["customer"] == customer["id"]
        assert method["billing_details"]["email"] == customer["email"]
        if customer["id"] in cards:
            assert cards[customer["id"]] == method["id"]
        one = api.get(f"/v1/payment_methods/{method['id']}").json()
        assert one == method
        check(one, "/v1/payment_methods/{payment_method}:200")
        by_query = api.get("/v1/payment_methods", params={"customer": customer["id"]}).json()
        assert by_query["data"] == [method]
        assert by_query["url"] == "/v1/payment_methods"
        other = api.get(path, params={"type": "sepa_debit"}).json()
        assert other["data"] == []
    assert api.get("/v1/payment_methods").json()["data"] == []
    assert api.get("/v1/payment_methods/pm_nope").status_code == 404


def test_setup_intents_saved_the_customers_cards(api: httpx.Client) -> None:
    intents = walk(api, "/v1/setup_intents")
    customers = {c["id"] for c in walk(api, "/v1/customers")}
    assert {i["customer"] for i in intents} >= customers
    for intent in intents[:20]:
        assert intent["status"] == "succeeded"
        method = api.get(f"/v1/payment_methods/{intent['payment_method']}").json()
        # a deleted customer's card is detached
        assert method["customer"] == (
            intent["customer"] if intent["customer"] in customers else None
        )
        only = walk(api, "/v1/setup_intents", {"payment_method": intent["payment_method"]})
        assert [i["id"] for i in only] == [intent["id"]]


def test_coupons_codes_and_tax_rates_are_what_invoices_use(api: httpx.Client) -> None:
    coupons = {c["id"]: c for c in walk(api, "/v1/coupons")}
    codes = walk(api, "/v1/promotion_codes")
    rates = {r["id"]: r for r in walk(api, "/v1/tax_rates")}
    assert {c["duration"] for c in coupons.values()} == {"once", "repeating", "forever"}
    for code in codes:
        assert code["promotion"]["coupon"] in coupons
        only = walk(api, "/v1/promotion_codes", {"coupon": code["promotion"]["coupon"]})
        assert code["id"] in {c["id"] for c in only}
    assert sum(c["times_redeemed"] for c in coupons.values()) >= sum(
        c["times_redeemed"] for c in codes
    )
    for invoice in walk(api, "/v1/invoices"):
        for tax in invoice["total_taxes"]:
            rate = rates[tax["tax_rate_details"]["tax_rate"]]
            assert tax["amount"] == pytest.approx(
                tax["taxable_amount"] * rate["percentage"] / 100, abs=len(invoice["lines"]["data"])
            )


def test_invoice_items_are_the_lines_they_made(api: httpx.Client) -> None:
    items = walk(api, "/v1/invoiceitems")
    assert any(i["proration"] for i in items)
    by_invoice: dict[str, list[dict[str, Any]]] = {}
    for item in items:
        by_invoice.setdefault(item["invoice"], []).append(item)
    for invoice_id, mine in list(by_invoice.items())[:25]:
        lines = walk(api, f"/v1/invoices/{invoice_id}/lines")
        made = {
            line["parent"]["invoice_item_details"]["invoice_item"]: line
            for line in lines
            if line["parent"]["type"] == "invoice_item_details"
        }
        assert set(made) == {i["id"] for i in mine}
        for item in mine:
            assert made[item["id"]]["amount"] == item["amount"]
        listed = walk(api, "/v1/invoiceitems", {"invoice": invoice_id})
        assert {i["id"] for i in listed} == set(made)


def test_the_balance_is_what_the_balance_transactions_left(api: httpx.Client) -> None:
    balance = api.get("/v1/balance").json()
    check(balance, "/v1/balance:200")
    txns = walk(api, "/v1/balance_transactions")
    available = sum(t["net"] for t in txns if t["type"] == "payout" or t["status"] == "available")
    pending = sum(t["net"] for t in txns if t["type"] != "payout" and t["status"] == "pending")
    assert balance["available"] == [
        {"amount": available, "currency": "usd", "source_types": {"card": available}}
    ]
    assert balance["pending"][0]["amount"] == pending
    assert available >= 0


def test_the_balance_needs_balance_read(sb: Sandbox) -> None:
    token = sb.mint_tokens(app=read_all_app(sb, ("customer_read",)))["access_token"]
    with httpx.Client(base_url=sb.api_base, auth=(token, ""), trust_env=False) as client:
        response = client.get("/v1/balance")
    assert response.status_code == 403
    assert "'balance_read' permission" in response.json()["error"]["message"]
    check(response.json(), "/v1/balance:default")


@pytest.mark.parametrize("version", [None, API_VERSION], ids=["library's", "pinned"])
def test_stripe_python_auto_pages_every_new_resource(
    sb: Sandbox, api: httpx.Client, version: str | None
) -> None:
    token = sb.mint_tokens(app=read_all_app(sb))["access_token"]
    client = stripe.StripeClient(
        api_key=token,
        base_addresses={"api": sb.api_base},
        max_network_retries=0,
        stripe_version=version,
    )
    v1 = client.v1
    lists = {
        "coupons": (v1.coupons.list, stripe.Coupon),
        "promotion_codes": (v1.promotion_codes.list, stripe.PromotionCode),
        "tax_rates": (v1.tax_rates.list, stripe.TaxRate),
        "invoiceitems": (v1.invoice_items.list, stripe.InvoiceItem),
        "setup_intents": (v1.setup_intents.list, stripe.SetupIntent),
    }
    for resource, (list_them, kind) in lists.items():
        read = list(list_them(params={"limit": 3}).auto_paging_iter())
        assert [o.id for o in read] == [o["id"] for o in walk(api, f"/v1/{resource}")], resource
        assert all(isinstance(o, kind) for o in read), resource
    customer = walk(api, "/v1/customers")[0]["id"]
    methods = list(v1.customers.payment_methods.list(customer).auto_paging_iter())
    assert [type(m) for m in methods] == [stripe.PaymentMethod]
    same = list(v1.payment_methods.list(params={"customer": customer}).auto_paging_iter())
    assert [m.id for m in same] == [m.id for m in methods]
    page = v1.invoices.line_items.list(walk(api, "/v1/invoices")[0]["id"], params={"limit": 3})
    assert list(page.auto_paging_iter())
    assert page.last_response is not None
    assert page.last_response.headers["Stripe-Version"] == (version or stripe.api_version)
    balance = v1.balance.retrieve()
    assert isinstance(balance, stripe.Balance)
    assert balance.available[0].amount == api.get("/v1/balance").json()["available"][0]["amount"]


def test_subscription_schedules_release_or_cancel_their_subscriptions() -> None:
    with Sandbox(customers=400, start=START, rate_limit=False) as sb:
        sb.simulate(40)
        with reader(sb) as api:
            _check_schedules(sb, api)


def _check_schedules(sb: Sandbox, api: httpx.Client) -> None:
    schedules = walk(api, "/v1/subscription_schedules")
    statuses = {s["status"] for s in schedules}
    assert "released" in statuses
    assert statuses <= {"active", "released", "canceled"}
    subscriptions = {s["id"]: s for s in walk(api, "/v1/subscriptions", {"status": "all"})}
    for schedule in schedules:
        [phase] = schedule["phases"]
        if schedule["status"] == "active":
            sub = subscriptions[schedule["subscription"]]
            assert schedule["current_phase"] == {
                "end_date": phase["end_date"],
                "start_date": phase["start_date"],
            }
            assert phase["start_date"] == sub["start_date"]
        elif schedule["status"] == "released":
            assert schedule["subscription"] is None
            assert schedule["released_subscription"] in subscriptions
            assert schedule["released_at"] == phase["end_date"]
    released = walk(api, "/v1/subscription_schedules", {"released_at[gte]": 1})
    assert {s["id"] for s in released} == {s["id"] for s in schedules if s["released_at"]}
    events = walk(api, "/v1/events", {"type": "subscription_schedule.*"})
    recent = {s["id"] for s in schedules if (s["released_at"] or 0) >= sb.now() - 30 * 86_400}
    told = {
        e["data"]["object"]["id"] for e in events if e["type"] == "subscription_schedule.released"
    }
    assert recent
    assert told == recent


def test_stripe_python_reads_checkout_credit_notes_and_schedules(sb: Sandbox) -> None:
    token = sb.mint_tokens(app=read_all_app(sb))["access_token"]
    client = stripe.StripeClient(
        api_key=token, base_addresses={"api": sb.api_base}, max_network_retries=0
    )
    v1 = client.v1
    for list_them, kind in (
        (v1.checkout.sessions.list, stripe.checkout.Session),
        (v1.credit_notes.list, stripe.CreditNote),
        (v1.subscription_schedules.list, stripe.SubscriptionSchedule),
    ):
        read = list(list_them(params={"limit": 2}).auto_paging_iter())
        assert read
        assert all(isinstance(o, kind) for o in read)


def test_a_deleted_customers_card_is_detached_with_an_event(sb: Sandbox, api: httpx.Client) -> None:
    detached = walk(api, "/v1/events", {"type": "payment_method.detached"})
    assert detached
    for event in detached:
        card = event["data"]["object"]
        assert card["customer"] is None
        owner = event["data"]["previous_attributes"]["customer"]
        assert api.get(f"/v1/customers/{owner}").json()["deleted"] is True
        assert api.get(f"/v1/payment_methods/{card['id']}").json()["customer"] is None
        assert api.get(f"/v1/customers/{owner}/payment_methods").json()["data"] == []
