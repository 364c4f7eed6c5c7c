"""Embedded lists cut at 10 entries, the sub-list endpoints behind them, and seeded data with a
real business's variety whose amounts add up on every invoice.

Stripe embeds the first 10 lines of an invoice and the first 10 items of a subscription, with
``has_more``, ``total_count`` and a ``url`` for the rest; a client that stores the embedded list
as it comes loses rows. These tests hold the sandbox to that, and to the list rules of the
sub-list endpoints, and check every amount against the sandbox's own ground truth.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import stripe
from _sandbox_helpers import read_all_app, reader, walk
from test_sandbox_openapi import check

from stripe_oauth_nb._http import httpx
from stripe_oauth_nb.errors import SandboxError
from stripe_oauth_nb.sandbox import LongLists, Sandbox

START = 1_767_225_600  # 2026-01-01T00:00:00Z


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    with Sandbox(customers=400, start=START, rate_limit=False) as sandbox:
        sandbox.simulate(20)
        yield sandbox


@pytest.fixture(scope="module")
def api(sb: Sandbox) -> Iterator[httpx.Client]:
    with reader(sb) as client:
        yield client


@pytest.fixture(scope="module")
def invoices(api: httpx.Client) -> list[dict[str, Any]]:
    return walk(api, "/v1/invoices")


@pytest.fixture(scope="module")
def subscriptions(api: httpx.Client) -> list[dict[str, Any]]:
    return walk(api, "/v1/subscriptions", {"status": "all"})


def _whole(api: httpx.Client, embedded: dict[str, Any]) -> list[dict[str, Any]]:
    """Every entry of an embedded list: the sub-list endpoint when it has more."""
    if not embedded["has_more"]:
        return list(embedded["data"])
    url, _, query = embedded["url"].partition("?")
    params = dict(part.split("=", 1) for part in query.split("&") if part)
    return walk(api, url, params)


# --- the embedded-list rules -------------------------------------------------------------------


def test_embedded_lists_hold_at_most_ten_entries_and_say_there_are_more(
    invoices: list[dict[str, Any]], subscriptions: list[dict[str, Any]]
) -> None:
    longer = 0
    for obj, field, url in [(i, "lines", f"/v1/invoices/{i['id']}/lines") for i in invoices] + [
        (s, "items", f"/v1/subscription_items?subscription={s['id']}") for s in subscriptions
    ]:
        embedded = obj[field]
        assert embedded["object"] == "list"
        assert embedded["url"] == url
        assert len(embedded["data"]) == min(10, embedded["total_count"])
        assert embedded["has_more"] is (embedded["total_count"] > 10)
        longer += embedded["has_more"]
    assert longer, "no embedded list was cut: the test would prove nothing"


def test_every_invoice_adds_up_over_all_its_lines(
    sb: Sandbox, api: httpx.Client, invoices: list[dict[str, Any]]
) -> None:
    truth = {i["id"]: i for i in sb.ground_truth()["invoices"]}
    lines_truth = Counter(line["invoice"] for line in sb.ground_truth()["invoice_lines"])
    for invoice in invoices:
        lines = _whole(api, invoice["lines"])
        assert len(lines) == invoice["lines"]["total_count"] == lines_truth[invoice["id"]]
        amounts = sum(line["amount"] for line in lines)
        discounts = sum(d["amount"] for line in lines for d in line["discount_amounts"])
        taxes = sum(t["amount"] for line in lines for t in line["taxes"])
        assert invoice["subtotal"] == amounts
        assert invoice["total"] == amounts - discounts + taxes == invoice["amount_due"]
        assert sum(d["amount"] for d in invoice["total_discount_amounts"]) == discounts
        assert sum(t["amount"] for t in invoice["total_taxes"]) == taxes
        assert invoice["total_excluding_tax"] == amounts - discounts
        expected = truth[invoice["id"]]
        assert (expected["subtotal"], expected["discount"], expected["tax"]) == (
            amounts,
            discounts,
            taxes,
        )


def test_charges_collect_what_invoices_ask(
    api: httpx.Client, invoices: list[dict[str, Any]]
) -> None:
    charges = {c["id"]: c for c in walk(api, "/v1/charges")}
    by_invoice: dict[str, list[dict[str, Any]]] = {}
    for charge in charges.values():
        if charge["description"] and charge["description"].startswith("Invoice "):
            by_invoice.setdefault(charge["description"][8:], []).append(charge)
    for invoice in invoices:
        paid_by = [c for c in by_invoice.get(invoice["number"], []) if c["status"] == "succeeded"]
        if invoice["amount_due"] == 0:
            assert not paid_by
            assert invoice["status"] == "paid"
        elif invoice["status"] == "paid":
            assert [c["amount"] for c in paid_by] == [invoice["amount_due"]]
            assert paid_by[0]["currency"] == invoice["currency"]


def test_the_seeded_business_has_a_real_variety(
    sb: Sandbox, invoices: list[dict[str, Any]], subscriptions: list[dict[str, Any]]
) -> None:
    truth = sb.ground_truth()
    counts = [i["lines"] for i in truth["invoices"]]
    assert min(counts) >= 1
    assert max(counts) <= 40
    assert sum(n > 10 for n in counts) >= 0.05 * len(counts)
    items = [s["items"] for s in truth["subscriptions"]]
    assert min(items) >= 1
    assert max(items) <= 15
    assert sum(n > 10 for n in items) >= 3
    assert max(i["quantity"] for i in truth["subscription_items"]) > 1
    lines = truth["invoice_lines"]
    assert any(line["proration"] and line["amount"] < 0 for line in lines)
    assert any(line["proration"] and line["amount"] > 0 for line in lines)
    assert any(line["invoice_item"] and not line["proration"] for line in lines)
    assert {s["status"] for s in subscriptions} >= {"active", "trialing", "canceled"}
    assert any(s["trial_end"] for s in subscriptions)
    assert any(i["discounts"] for i in invoices)
    assert any(i["total_taxes"] for i in invoices)
    assert {s["coupon_duration"] for s in truth["subscriptions"]} >= {
        "once",
        "repeating",
        "forever",
    }
    assert {i["currency"] for i in invoices} == {"usd", "eur", "gbp"}
    codes = _codes(sb)
    assert any(code["times_redeemed"] for code in codes)


def _codes(sb: Sandbox) -> list[dict[str, Any]]:
    """The promotion codes' rows (their list endpoint comes with the new resources)."""
    world = sb.world()
    return [{"code": r.code, "times_redeemed": r.times_redeemed} for r in world.promotion_codes]


def test_the_ground_truth_matches_the_api(
    sb: Sandbox, api: httpx.Client, subscriptions: list[dict[str, Any]]
) -> None:
    truth = sb.ground_truth()
    items = {i["id"]: i for i in truth["subscription_items"]}
    seen = 0
    for sub in subscriptions:
        for item in _whole(api, sub["items"]):
            expected = items[item["id"]]
            assert expected["subscription"] == sub["id"]
            assert (expected["quantity"], expected["price"]) == (
                item["quantity"],
                item["price"]["id"],
            )
            seen += 1
    assert seen == len(items)


# --- the sub-list endpoints ---------------------------------------------------------------------


def _longest(invoices: list[dict[str, Any]]) -> dict[str, Any]:
    return max(invoices, key=lambda i: i["lines"]["total_count"])


def test_sub_lists_page_both_ways_in_the_parents_order(
    api: httpx.Client, invoices: list[dict[str, Any]]
) -> None:
    invoice = _longest(invoices)
    url = invoice["lines"]["url"]
    every = walk(api, url, limit=3)
    assert [line["id"] for line in every[:10]] == [line["id"] for line in invoice["lines"]["data"]]
    assert len({line["id"] for line in every}) == len(every) == invoice["lines"]["total_count"]
    assert all(line["invoice"] == invoice["id"] for line in every)
    page = api.get(url, params={"limit": 4, "ending_before": every[6]["id"]}).json()
    assert [line["id"] for line in page["data"]] == [line["id"] for line in every[2:6]]
    assert page["has_more"] is True
    assert page["url"] == url
    first = api.get(url).json()
    assert len(first["data"]) == 10
    assert first["has_more"] is True
    assert "total_count" not in first  # only the embedded list counts


@pytest.mark.parametrize(
    ("path", "params", "status", "code"),
    [
        ("/v1/invoices/in_nope/lines", {}, 404, "resource_missing"),
        ("/v1/invoices/{invoice}/lines", {"created": "1"}, 400, "parameter_unknown"),
        ("/v1/invoices/{invoice}/lines", {"limit": "101"}, 400, "parameter_invalid_integer"),
        ("/v1/invoices/{invoice}/lines", {"starting_after": "il_other"}, 400, "resource_missing"),
        ("/v1/invoices/{invoice}/lines", {"expand[]": "data.nothing"}, 400, None),
        ("/v1/subscription_items", {}, 400, "parameter_missing"),
        ("/v1/subscription_items", {"subscription": "sub_nope"}, 400, "resource_missing"),
        ("/v1/subscription_items/si_nope", {}, 404, "resource_missing"),
        ("/v1/customers/cus_nope/balance_transactions", {}, 404, "resource_missing"),
    ],
)
def test_sub_lists_refuse_like_stripe(
    api: httpx.Client,
    invoices: list[dict[str, Any]],
    path: str,
    params: dict[str, str],
    status: int,
    code: str | None,
) -> None:
    response = api.get(path.format(invoice=invoices[0]["id"]), params=params)
    assert response.status_code == status, response.text
    assert response.json()["error"].get("code") == code
    check(response.json(), "/v1/invoices/{invoice}/lines:default")


def test_a_cursor_from_another_parent_is_refused(
    api: httpx.Client, invoices: list[dict[str, Any]]
) -> None:
    one, other = invoices[0], invoices[1]
    response = api.get(
        one["lines"]["url"], params={"starting_after": other["lines"]["data"][0]["id"]}
    )
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "starting_after"


def test_sub_lists_need_their_parents_read_permission(
    sb: Sandbox, invoices: list[dict[str, Any]], subscriptions: list[dict[str, Any]]
) -> None:
    app = read_all_app(sb, ("customer_read", "charge_read"))
    token = sb.mint_tokens(app=app)["access_token"]
    with httpx.Client(base_url=sb.api_base, auth=(token, ""), trust_env=False) as client:
        for path, params, permission in (
            (invoices[0]["lines"]["url"], {}, "invoice_read"),
            (
                "/v1/subscription_items",
                {"subscription": subscriptions[0]["id"]},
                "subscription_read",
            ),
        ):
            response = client.get(path, params=params)
            assert response.status_code == 403
            assert f"'{permission}' permission" in response.json()["error"]["message"]
            check(response.json(), "/v1/subscription_items:default")


def test_sub_lists_match_the_schema(
    api: httpx.Client, invoices: list[dict[str, Any]], subscriptions: list[dict[str, Any]]
) -> None:
    invoice = _longest(invoices)
    for version in ({}, {"Stripe-Version": "2023-08-16"}):
        legacy = bool(version)
        body = api.get(invoice["lines"]["url"], params={"limit": 100}, headers=version).json()
        check(body, "/v1/invoices/{invoice}/lines:200", legacy=legacy)
        longest = max(subscriptions, key=lambda s: s["items"]["total_count"])
        items = api.get(
            "/v1/subscription_items", params={"subscription": longest["id"]}, headers=version
        ).json()
        check(items, "/v1/subscription_items:200", legacy=legacy)
        one = api.get(f"/v1/subscription_items/{items['data'][0]['id']}", headers=version)
        check(one.json(), "/v1/subscription_items/{item}:200", legacy=legacy)
    customer = invoices[0]["customer"]
    balance = api.get(f"/v1/customers/{customer}/balance_transactions").json()
    assert balance == {
        "object": "list",
        "data": [],
        "has_more": False,
        "url": f"/v1/customers/{customer}/balance_transactions",
    }
    check(balance, "/v1/customers/{customer}/balance_transactions:200")


def test_a_sub_list_fault_hits_only_that_sub_list(
    sb: Sandbox, api: httpx.Client, invoices: list[dict[str, Any]]
) -> None:
    sb.inject_fault("invoice_lines", "rate_limit")
    assert api.get("/v1/invoices", params={"limit": 1}).status_code == 200
    assert api.get(invoices[0]["lines"]["url"]).status_code == 429
    assert api.get(invoices[0]["lines"]["url"]).status_code == 200
    assert sb.stats()["requests"]["invoice_lines"] >= 2


# --- long lists on demand -----------------------------------------------------------------------


def test_long_lists_seed_exactly_the_lines_and_items_asked_for() -> None:
    long = LongLists(invoices=3, lines=25, subscriptions=4, items=12)
    with Sandbox(customers=5, start=START, rate_limit=False, long_lists=long) as sb:
        truth = sb.ground_truth()
        assert sum(i["lines"] == 25 for i in truth["invoices"]) >= 3
        assert sum(s["items"] == 12 for s in truth["subscriptions"]) >= 4
        with reader(sb) as api:
            invoices = walk(api, "/v1/invoices")
            cut = [i for i in invoices if i["lines"]["has_more"]]
            assert len(cut) == sum(i["lines"] > 10 for i in truth["invoices"])
            before = sb.stats()["requests"].get("invoice_lines", 0)
            every = [line for i in invoices for line in _whole(api, i["lines"])]
            assert sorted(line["id"] for line in every) == sorted(
                line["id"] for line in truth["invoice_lines"]
            )
            # One sub-list request per cut invoice (limit=100 holds up to 40 lines): the count
            # a sync's "no extra requests" test compares with.
            assert sb.stats()["requests"]["invoice_lines"] - before == len(cut)
        # The same seed and start give the same objects.
        with Sandbox(customers=5, start=START, rate_limit=False, long_lists=long) as again:
            assert again.ground_truth() == truth


@pytest.mark.parametrize(
    "long",
    [LongLists(lines=41), LongLists(items=16), LongLists(invoices=-1), LongLists(lines=True)],
)
def test_long_lists_out_of_range_are_refused(long: LongLists) -> None:
    with pytest.raises(SandboxError, match="long_lists"):
        Sandbox(customers=1, long_lists=long)


# --- the official library ----------------------------------------------------------------------


def test_stripe_python_pages_through_the_sub_lists(
    sb: Sandbox, invoices: list[dict[str, Any]], subscriptions: list[dict[str, Any]]
) -> None:
    token = sb.mint_tokens(app=read_all_app(sb))["access_token"]
    client = stripe.StripeClient(
        api_key=token, base_addresses={"api": sb.api_base}, max_network_retries=0
    )
    invoice = _longest(invoices)
    lines = list(
        client.v1.invoices.line_items.list(invoice["id"], params={"limit": 4}).auto_paging_iter()
    )
    assert len(lines) == invoice["lines"]["total_count"] > 10
    sub = max(subscriptions, key=lambda s: s["items"]["total_count"])
    items = list(
        client.v1.subscription_items.list(
            params={"subscription": sub["id"], "limit": 3}
        ).auto_paging_iter()
    )
    assert len(items) == sub["items"]["total_count"] > 10
    assert isinstance(items[0], stripe.SubscriptionItem)


# --- checkout sessions and credit notes ---------------------------------------------------------


def test_checkout_line_items_come_only_when_expanded_and_follow_the_rules(
    api: httpx.Client,
) -> None:
    sessions = walk(api, "/v1/checkout/sessions")
    assert {s["mode"] for s in sessions} == {"subscription", "payment"}
    assert all("line_items" not in s for s in sessions)
    expanded = walk(api, "/v1/checkout/sessions", {"expand[]": "data.line_items"})
    page = {"object": "list", "data": expanded[:50], "has_more": True}
    check({**page, "url": "/v1/checkout/sessions"}, "/v1/checkout/sessions:200")
    longer = 0
    for session in expanded:
        embedded = session["line_items"]
        url = f"/v1/checkout/sessions/{session['id']}/line_items"
        assert embedded["url"] == url
        assert len(embedded["data"]) == min(10, embedded["total_count"])
        assert embedded["has_more"] is (embedded["total_count"] > 10)
        items = _whole(api, embedded)
        assert len(items) == embedded["total_count"]
        assert sum(i["amount_total"] for i in items) == session["amount_total"]
        assert sum(i["amount_subtotal"] for i in items) == session["amount_subtotal"]
        longer += embedded["has_more"]
        if session["mode"] == "subscription":
            invoice = api.get(f"/v1/invoices/{session['invoice']}").json()
            assert session["amount_total"] == invoice["total"]
    assert longer, "no session had more than 10 line items"
    longest = max(expanded, key=lambda s: s["line_items"]["total_count"])
    body = api.get(longest["line_items"]["url"], params={"limit": 100}).json()
    check(body, "/v1/checkout/sessions/{session}/line_items:200")


def test_credit_notes_credit_what_was_refunded(api: httpx.Client) -> None:
    notes = walk(api, "/v1/credit_notes")
    assert notes
    refunds = {r["id"]: r for r in walk(api, "/v1/refunds")}
    for note in notes:
        [refund] = note["refunds"]
        assert refund["amount_refunded"] == refunds[refund["refund"]]["amount"] == note["total"]
        lines = _whole(api, note["lines"])
        assert len(lines) == note["lines"]["total_count"]
        assert len(note["lines"]["data"]) == min(10, len(lines))
        assert sum(line["amount"] for line in lines) == note["subtotal"]
        taxes = sum(t["amount"] for line in lines for t in line["taxes"])
        assert note["total"] == note["subtotal"] - note["discount_amount"] + taxes
        invoice = api.get(f"/v1/invoices/{note['invoice']}").json()
        if lines[0]["type"] == "invoice_line_item":  # refunded whole: every invoice line
            assert note["total"] == invoice["total"]
            assert len(lines) == invoice["lines"]["total_count"]
        check(api.get(note["lines"]["url"]).json(), "/v1/credit_notes/{credit_note}/lines:200")


def test_long_lists_can_refund_long_invoices_whole() -> None:
    long = LongLists(invoices=2, lines=14, subscriptions=1, items=11, credit_notes=1)
    with (
        Sandbox(customers=3, start=START, rate_limit=False, long_lists=long) as sb,
        reader(sb) as api,
    ):
        notes = walk(api, "/v1/credit_notes")
        longest = max(notes, key=lambda n: n["lines"]["total_count"])
        assert longest["lines"]["total_count"] == 14
        assert longest["lines"]["has_more"] is True
        assert len(walk(api, longest["lines"]["url"], limit=5)) == 14
        sessions = walk(api, "/v1/checkout/sessions", {"expand[]": "data.line_items"})
        assert max(s["line_items"]["total_count"] for s in sessions) >= 11


def test_stripe_python_pages_through_checkout_and_credit_notes(sb: Sandbox) -> None:
    token = sb.mint_tokens(app=read_all_app(sb))["access_token"]
    client = stripe.StripeClient(
        api_key=token, base_addresses={"api": sb.api_base}, max_network_retries=0
    )
    sessions = list(client.v1.checkout.sessions.list(params={"limit": 7}).auto_paging_iter())
    assert sessions
    assert all(isinstance(s, stripe.checkout.Session) for s in sessions)
    longest = max(
        sessions,
        key=lambda s: (
            client.v1.checkout.sessions.retrieve(
                s.id, params={"expand": ["line_items"]}
            ).line_items.total_count
        ),
    )
    items = list(
        client.v1.checkout.sessions.line_items.list(longest.id, params={"limit": 3})
        .auto_paging_iter()
    )  # fmt: skip
    assert len(items) > 10
    notes = list(client.v1.credit_notes.list(params={"limit": 2}).auto_paging_iter())
    assert notes
    lines = list(client.v1.credit_notes.line_items.list(notes[0].id).auto_paging_iter())
    assert len(lines) == notes[0].lines.total_count


def test_an_account_with_long_lists_over_the_control(sb: Sandbox) -> None:
    with httpx.Client(base_url=sb.api_base, trust_env=False) as control:
        made = control.post(
            "/_sandbox/accounts",
            json={"name": "Long Lists Ltd", "customers": 2, "long_lists": {"subscriptions": 2}},
        )
        assert made.status_code == 200, made.text
        account = made.json()
        assert account["long_lists"]["subscriptions"] == 2
        refused = control.post("/_sandbox/accounts", json={"name": "X", "long_lists": {"rows": 3}})
        assert refused.status_code == 400
        assert "rows" in refused.json()["error"]["message"]
    truth = sb.ground_truth(account["id"])
    assert sum(s["items"] == 12 for s in truth["subscriptions"]) >= 2
