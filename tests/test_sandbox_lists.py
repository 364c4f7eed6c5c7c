"""Stripe's list rules on every list endpoint: order, limit, cursors, ``created``, filters,
``expand[]``, and Stripe's 400s for parameters it does not know."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from _sandbox_helpers import openapi, read_everything, reader, walk

from stripe_oauth_nb._http import httpx
from stripe_oauth_nb.sandbox import Sandbox
from stripe_oauth_nb.sandbox._query import LIST_PARAMS
from stripe_oauth_nb.sandbox._world import RESOURCES, api_path

START = 1_767_225_600


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    with Sandbox(customers=400, start=START, rate_limit=False) as sandbox:
        sandbox.simulate(10)
        yield sandbox


@pytest.fixture(scope="module")
def api(sb: Sandbox) -> Iterator[httpx.Client]:
    with reader(sb) as client:
        yield client


@pytest.fixture(scope="module")
def everything(api: httpx.Client) -> dict[str, list[dict[str, Any]]]:
    """Every object of every list (subscriptions: of every status), newest first."""
    return {r: list(objects.values()) for r, objects in read_everything(api).items()}


def test_every_list_accepts_exactly_stripes_parameters() -> None:
    for resource in RESOURCES:
        documented = {
            p["name"] for p in openapi()["paths"][api_path(resource)]["get"]["parameters"]
        }
        assert set(LIST_PARAMS[resource]) == documented, resource


def _created(obj: dict[str, Any]) -> int:
    """When an object was made (an invoice item says so in ``date``, which ``created`` filters)."""
    return int(obj["date"] if obj["object"] == "invoiceitem" else obj["created"])


@pytest.mark.slow
@pytest.mark.parametrize("resource", RESOURCES)
def test_newest_first_default_ten_and_cursors(
    api: httpx.Client, everything: dict[str, list[dict[str, Any]]], resource: str
) -> None:
    objects = everything[resource]
    assert len(objects) >= 3, resource
    created = [_created(o) for o in objects]
    assert created == sorted(created, reverse=True)
    assert len({o["id"] for o in objects}) == len(objects)
    params = {"status": "all"} if resource == "subscriptions" else {}
    first = api.get(api_path(resource), params=params).json()
    assert [o["id"] for o in first["data"]] == [o["id"] for o in objects[:10]]
    assert first["has_more"] is (len(objects) > 10)
    assert first["url"] == api_path(resource)
    # a small page size walks the same objects
    assert [o["id"] for o in walk(api, api_path(resource), params, limit=7)] == [
        o["id"] for o in objects
    ]
    # ending_before pages back towards the newest
    pivot = objects[min(len(objects) - 1, 12)]["id"]
    back = api.get(api_path(resource), params={**params, "limit": 5, "ending_before": pivot}).json()
    index = [o["id"] for o in objects].index(pivot)
    assert [o["id"] for o in back["data"]] == [o["id"] for o in objects[max(0, index - 5) : index]]
    assert back["has_more"] is (index > 5)


@pytest.mark.parametrize("resource", [r for r in RESOURCES if "created" in LIST_PARAMS[r]])
def test_created_as_integer_and_as_range(
    api: httpx.Client, everything: dict[str, list[dict[str, Any]]], resource: str
) -> None:
    objects = everything[resource]
    params = {"status": "all"} if resource == "subscriptions" else {}
    low, high = _created(objects[-len(objects) // 3]), _created(objects[len(objects) // 3])
    for query, keep in [
        ({"created[gte]": low, "created[lt]": high}, lambda t: low <= t < high),
        ({"created[gt]": low, "created[lte]": high}, lambda t: low < t <= high),
        ({"created": low}, lambda t: t == low),
    ]:
        got = walk(api, api_path(resource), {**params, **query})
        assert [o["id"] for o in got] == [o["id"] for o in objects if keep(_created(o))], query


@pytest.mark.parametrize(
    ("resource", "param", "field"),
    [
        ("charges", "customer", "customer"),
        ("invoices", "customer", "customer"),
        ("subscriptions", "customer", "customer"),
        ("payment_intents", "customer", "customer"),
        ("invoices", "subscription", "subscription"),
        ("refunds", "charge", "charge"),
        ("disputes", "charge", "charge"),
        ("charges", "payment_intent", "payment_intent"),
        ("prices", "product", "product"),
        ("invoices", "status", "status"),
        ("payouts", "status", "status"),
        ("balance_transactions", "type", "type"),
        ("balance_transactions", "source", "source"),
        ("events", "type", "type"),
        ("prices", "currency", "currency"),
        ("prices", "active", "active"),
    ],
)
def test_filters_keep_the_matching_objects(
    api: httpx.Client,
    everything: dict[str, list[dict[str, Any]]],
    resource: str,
    param: str,
    field: str,
) -> None:
    objects = everything[resource]
    value = objects[len(objects) // 2][field]
    query: dict[str, Any] = {param: str(value).lower() if isinstance(value, bool) else value}
    if resource == "subscriptions":
        query["status"] = "all"
    got = walk(api, api_path(resource), query)
    assert got
    assert [o["id"] for o in got] == [o["id"] for o in objects if o[field] == value]


def test_subscriptions_hide_canceled_unless_asked(
    api: httpx.Client, everything: dict[str, list[dict[str, Any]]]
) -> None:
    subs = everything["subscriptions"]
    assert {"active", "canceled"} <= {s["status"] for s in subs}
    default = walk(api, "/v1/subscriptions")
    assert [s["id"] for s in default] == [s["id"] for s in subs if s["status"] != "canceled"]
    canceled = walk(api, "/v1/subscriptions", {"status": "canceled"})
    assert {s["status"] for s in canceled} == {"canceled"}
    ended = walk(api, "/v1/subscriptions", {"status": "ended"})
    assert [s["id"] for s in ended] == [s["id"] for s in canceled]


def test_event_types_and_wildcards(
    api: httpx.Client, everything: dict[str, list[dict[str, Any]]]
) -> None:
    events = everything["events"]
    kinds = {e["type"] for e in events}
    assert {"customer.created", "invoice.paid", "charge.succeeded"} <= kinds
    chosen = ["invoice.paid", "charge.succeeded"]
    got = walk(api, "/v1/events", {"types[]": chosen})
    assert [e["id"] for e in got] == [e["id"] for e in events if e["type"] in chosen]
    indexed = walk(api, "/v1/events", {"types[0]": chosen[0], "types[1]": chosen[1]})
    assert [e["id"] for e in indexed] == [e["id"] for e in got]
    wild = walk(api, "/v1/events", {"type": "invoice.*"})
    assert [e["id"] for e in wild] == [e["id"] for e in events if e["type"].startswith("invoice.")]
    both = api.get("/v1/events", params={"type": "x", "types[]": "y"})
    assert (both.status_code, both.json()["error"]["param"]) == (400, "types")


def test_balance_transactions_of_a_payout(
    api: httpx.Client, everything: dict[str, list[dict[str, Any]]]
) -> None:
    payout = everything["payouts"][1]
    txns = walk(api, "/v1/balance_transactions", {"payout": payout["id"]})
    assert txns
    assert all(t["type"] != "payout" for t in txns)
    assert sum(t["net"] for t in txns) == payout["amount"]


@pytest.mark.parametrize(
    ("resource", "paths", "expanded"),
    [
        (
            "charges",
            ["data.customer", "data.balance_transaction"],
            {"customer", "balance_transaction"},
        ),
        ("products", ["data.default_price"], {"default_price"}),
        ("prices", ["data.product"], {"product"}),
        ("subscriptions", ["data.latest_invoice.customer"], {"latest_invoice"}),
        ("refunds", ["data.charge.payment_intent"], {"charge"}),
        ("balance_transactions", ["data.source"], {"source"}),
        ("payouts", ["data.balance_transaction"], {"balance_transaction"}),
        ("disputes", ["data.charge", "data.payment_intent"], {"charge", "payment_intent"}),
        ("invoices", ["data.subscription", "data.customer"], {"subscription", "customer"}),
        ("payment_intents", ["data.latest_charge"], {"latest_charge"}),
    ],
)
def test_expand_on_lists_and_retrieve(
    api: httpx.Client, resource: str, paths: list[str], expanded: set[str]
) -> None:
    page = api.get(api_path(resource), params={"limit": 20, "expand[]": paths}).json()
    plain = api.get(api_path(resource), params={"limit": 20}).json()
    for full, bare in zip(page["data"], plain["data"], strict=True):
        for name in expanded:
            if bare[name] is not None:
                assert isinstance(full[name], dict)
                assert full[name]["id"] == bare[name]
        assert {k: v for k, v in full.items() if k not in expanded} == {
            k: v for k, v in bare.items() if k not in expanded
        }
    one = page["data"][0]
    retrieved = api.get(
        f"{api_path(resource)}/{one['id']}", params={"expand[]": [p[5:] for p in paths]}
    ).json()
    assert retrieved == one


def test_nested_expand_reaches_four_levels(api: httpx.Client) -> None:
    refund = api.get(
        "/v1/refunds", params={"limit": 1, "expand[]": "data.charge.payment_intent.customer"}
    ).json()["data"][0]
    assert refund["charge"]["payment_intent"]["customer"]["object"] == "customer"
    deep = "data.charge.payment_intent.latest_charge.customer.x"
    response = api.get("/v1/refunds", params={"expand[]": deep})
    assert response.status_code == 400
    assert "more than 4 levels" in response.json()["error"]["message"]


def test_invoice_expands_only_in_the_versions_that_have_it(api: httpx.Client) -> None:
    today = api.get("/v1/charges", params={"expand[]": "data.invoice"})
    assert today.status_code == 400
    assert today.json()["error"]["param"] == "expand"
    old = {"Stripe-Version": "2023-08-16"}
    charges = api.get(
        "/v1/charges", params={"limit": 50, "expand[]": "data.invoice.subscription"}, headers=old
    ).json()["data"]
    with_invoice = [c for c in charges if c["invoice"] is not None]
    assert with_invoice
    assert all(c["invoice"]["subscription"]["object"] == "subscription" for c in with_invoice)
    invoice = with_invoice[0]["invoice"]
    assert invoice["paid"] is (invoice["status"] == "paid")
    assert invoice["charge"] is not None


@pytest.mark.parametrize(
    ("path", "params", "message"),
    [
        ("/v1/charges", {"expand[]": "customer"}, "You may want to try expanding 'data.customer'"),
        ("/v1/charges", {"expand[]": "data.nope"}, "This property cannot be expanded"),
        ("/v1/charges", {"expand": "data.customer"}, "Invalid array"),
        ("/v1/charges", {"expand[]": "data.amount"}, "This property cannot be expanded"),
        ("/v1/payouts", {"expand[]": "data.destination"}, "does not serve bank accounts"),
    ],
)
def test_bad_expansions_are_400_with_param(
    api: httpx.Client, path: str, params: dict[str, str], message: str
) -> None:
    response = api.get(path, params=params)
    assert response.status_code == 400
    error = response.json()["error"]
    assert message in error["message"]
    assert error["param"] == "expand"


ENDPOINTS = [
    *(api_path(r) for r in RESOURCES),
    *(f"{api_path(r)}/{{id}}" for r in RESOURCES),
    "/v1/account",
]


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_unknown_parameters_are_refused_everywhere(
    api: httpx.Client, everything: dict[str, list[dict[str, Any]]], endpoint: str
) -> None:
    if "{id}" in endpoint:
        resource = next(r for r in RESOURCES if endpoint == f"{api_path(r)}/{{id}}")
        endpoint = endpoint.replace("{id}", everything[resource][0]["id"])
    for name in ("colour", "limit[x]", "created[foo]"):
        if name != "colour" and "{" not in endpoint and endpoint.count("/") == 3:
            continue  # a retrieve knows neither limit nor created
        response = api.get(endpoint, params={name: "1"})
        assert response.status_code == 400, (endpoint, name)
        error = response.json()["error"]
        assert error["code"] == "parameter_unknown"
        assert error["param"] == name
        assert error["message"] == f"Received unknown parameter: {name}"


@pytest.mark.parametrize(
    ("params", "param", "code"),
    [
        ({"limit": "ten"}, "limit", "parameter_invalid_integer"),
        ({"limit": "0"}, "limit", "parameter_invalid_integer"),
        ({"created": "yesterday"}, "created", "parameter_invalid_integer"),
        ({"created[gte]": "x"}, "created[gte]", "parameter_invalid_integer"),
        ({"created[gte][x]": "1"}, "created[gte][x]", "parameter_unknown"),
        ({"customer": "cus_nothere"}, "customer", "resource_missing"),
        ({"starting_after": "ch_nothere"}, "starting_after", "resource_missing"),
        ({"customer": ""}, "customer", "parameter_invalid_empty"),
        ({"limit": "1", "limit[]": "2"}, "limit", None),
    ],
)
def test_malformed_parameters_are_400_with_param(
    api: httpx.Client, params: dict[str, str], param: str, code: str | None
) -> None:
    response = api.get("/v1/charges", params=params)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["param"] == param
    assert error.get("code") == code
