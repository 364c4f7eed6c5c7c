"""Every object, list and error the sandbox serves, checked against Stripe's OpenAPI schemas.

The schemas are Stripe's for API 2023-08-16 (``tests/data/stripe-api/openapi-subset.json``);
the sandbox's objects follow today's API (Stripe's example objects, ``fixtures3.json``). So, as
the reference notes say: OpenAPI's ``nullable`` becomes a JSON-schema ``null`` type, and a field
is required when the schema requires it *and* today's example object has it (for the pre-basil
shape, also when it is one of the fields basil removed, which that shape restores). Types,
enums, patterns and nested objects are checked as the schema states them.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from typing import Any

import pytest
from _sandbox_helpers import fixtures, openapi, read_all_app, reader, walk
from jsonschema import Draft7Validator

from stripe_oauth_nb._http import httpx
from stripe_oauth_nb.sandbox import Sandbox
from stripe_oauth_nb.sandbox._expand import EXPANDABLE, KIND_OF
from stripe_oauth_nb.sandbox._templates import LEGACY_FIELDS
from stripe_oauth_nb.sandbox._world import RESOURCES, api_path

START = 1_767_225_600  # 2026-01-01T00:00:00Z
RETRIEVE_PATHS = {
    "customers": "/v1/customers/{customer}",
    "products": "/v1/products/{id}",
    "prices": "/v1/prices/{price}",
    "subscriptions": "/v1/subscriptions/{subscription_exposed_id}",
    "invoices": "/v1/invoices/{invoice}",
    "charges": "/v1/charges/{charge}",
    "payment_intents": "/v1/payment_intents/{intent}",
    "refunds": "/v1/refunds/{refund}",
    "balance_transactions": "/v1/balance_transactions/{id}",
    "payouts": "/v1/payouts/{payout}",
    "disputes": "/v1/disputes/{dispute}",
    "events": "/v1/events/{id}",
    "coupons": "/v1/coupons/{coupon}",
    "promotion_codes": "/v1/promotion_codes/{promotion_code}",
    "tax_rates": "/v1/tax_rates/{tax_rate}",
    "invoiceitems": "/v1/invoiceitems/{invoiceitem}",
    "setup_intents": "/v1/setup_intents/{intent}",
    "checkout_sessions": "/v1/checkout/sessions/{session}",
    "credit_notes": "/v1/credit_notes/{id}",
    "subscription_schedules": "/v1/subscription_schedules/{schedule}",
}
#: An event's ``data.object`` is free-form in the schema: check it against its own object.
OBJECT_SCHEMAS = {
    "customer": "customer",
    "product": "product",
    "price": "price",
    "subscription": "subscription",
    "invoice": "invoice",
    "charge": "charge",
    "payment_intent": "payment_intent",
    "refund": "refund",
    "payout": "payout",
    "dispute": "dispute",
    "invoiceitem": "invoiceitem",
    "coupon": "coupon",
    "promotion_code": "promotion_code",
    "tax_rate": "tax_rate",
    "setup_intent": "setup_intent",
    "payment_method": "payment_method",
    "checkout.session": "checkout.session",
    "credit_note": "credit_note",
    "subscription_schedule": "subscription_schedule",
}


# --- schema preparation ------------------------------------------------------------------------


def _nullable(node: Any) -> Any:
    """OpenAPI 3.0 ``nullable: true`` as JSON Schema, everywhere in ``node``."""
    if isinstance(node, list):
        return [_nullable(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {k: _nullable(v) for k, v in node.items()}
    if node.pop("nullable", False):
        if "type" in node:
            node["type"] = [node["type"], "null"]
            if "enum" in node:
                node["enum"] = [*node["enum"], None]
        else:
            node = {"anyOf": [node, {"type": "null"}]}
    return node


@cache
def _components() -> dict[str, Any]:
    converted: dict[str, Any] = _nullable(openapi()["components"]["schemas"])
    return converted


class _Specializer:
    """Cuts each object's ``required`` to the fields today's example object has.

    Along the example (nested objects, lists) the schema is inlined and cut; where the example
    holds only an id or nothing (an expandable field), the component is cut once against its
    own example object and referenced as ``<name>__cut``, so recursive schemas stay finite.
    """

    def __init__(self, legacy: bool) -> None:
        self.legacy = legacy
        self.cut: dict[str, Any] = {}

    def component(self, name: str) -> dict[str, str]:
        if name not in fixtures():
            return {"$ref": f"#/components/schemas/{name}"}
        key = f"{name}__cut"
        if key not in self.cut:
            self.cut[key] = {}  # in progress: recursive references point here
            self.cut[key] = self.node(_components()[name], fixtures()[name], name)
        return {"$ref": f"#/components/schemas/{key}"}

    def node(self, node: Any, example: Any, component: str | None = None) -> Any:
        if not isinstance(node, dict):
            return node
        if "$ref" in node:
            name = node["$ref"].rsplit("/", 1)[1]
            if isinstance(example, dict):
                return self.node(_components()[name], example, name)
            return self.component(name)
        node = dict(node)
        for combinator in ("anyOf", "oneOf", "allOf"):
            if combinator in node:
                node[combinator] = [self.node(sub, example, component) for sub in node[combinator]]
        if "properties" in node and isinstance(example, dict):
            keys = set(example)
            if self.legacy and component:
                keys |= set(LEGACY_FIELDS.get(component, {}))
            node["required"] = [name for name in node.get("required", []) if name in keys]
            node["properties"] = {
                name: self.node(sub, example.get(name)) for name, sub in node["properties"].items()
            }
        elif "properties" in node:
            node["properties"] = {
                name: self.node(sub, None) for name, sub in node["properties"].items()
            }
        if isinstance(node.get("items"), dict):
            items = example.get("data") if isinstance(example, dict) else example
            first = items[0] if isinstance(items, list) and items else None
            node["items"] = self.node(node["items"], first)
        return node


@cache
def _validator(key: str, legacy: bool) -> Draft7Validator:
    """A validator for a response schema (``path``:``status``) or a component (``#name``)."""
    cutter = _Specializer(legacy)
    if key.startswith("#"):
        root: Any = {"allOf": [cutter.component(key[1:])]}
    else:
        path, status = key.split(":")
        content = openapi()["paths"][path]["get"]["responses"][status]["content"]
        root = cutter.node(_nullable(content["application/json"]["schema"]), None)
        if "$ref" in root:
            root = {"allOf": [root]}
    root["components"] = {"schemas": {**_components(), **cutter.cut}}
    return Draft7Validator(root)


def check(body: Any, key: str, *, legacy: bool = False) -> None:
    errors = sorted(_validator(key, legacy).iter_errors(body), key=lambda e: list(e.path))
    assert not errors, "\n".join(
        f"{'/'.join(map(str, e.path))}: {e.message[:300]}" for e in errors[:8]
    )


# --- the sandbox under test ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    with Sandbox(customers=400, start=START, rate_limit=False) as sandbox:
        sandbox.simulate(20)  # deletions, renewals, failures, refunds, disputes closing
        yield sandbox


@pytest.fixture(scope="module")
def api(sb: Sandbox) -> Iterator[httpx.Client]:
    with reader(sb) as client:
        yield client


def _ref_paths(resource: str, legacy: bool) -> list[str]:
    """Every expandable field of ``resource`` that holds an id (to expand them all at once)."""
    kind = KIND_OF[resource]
    present = set(fixtures()[kind]) | (set(LEGACY_FIELDS.get(kind, {})) if legacy else set())
    return [
        name
        for name, field in EXPANDABLE[kind].items()
        if field.how in ("ref", "source") and name in present
    ]


@pytest.mark.slow
@pytest.mark.parametrize("legacy", [False, True], ids=["today", "pre-basil"])
@pytest.mark.parametrize("resource", RESOURCES)
def test_every_object_of_every_list_matches_the_schema(
    sb: Sandbox, api: httpx.Client, resource: str, legacy: bool
) -> None:
    headers = {"Stripe-Version": "2023-08-16"} if legacy else {}
    list_path = api_path(resource)
    params = {"limit": 100, "expand[]": [f"data.{p}" for p in _ref_paths(resource, legacy)]}
    response = api.get(list_path, params=params, headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["data"], f"the sandbox served no {resource}: the test would prove nothing"
    check(body, f"{list_path}:200", legacy=legacy)
    plain = api.get(list_path, params={"limit": 100}, headers=headers).json()
    check(plain, f"{list_path}:200", legacy=legacy)
    for obj in plain["data"][:25]:
        one = api.get(f"{list_path}/{obj['id']}", headers=headers)
        assert one.status_code == 200
        check(one.json(), f"{RETRIEVE_PATHS[resource]}:200", legacy=legacy)
    if resource == "events":
        for event in walk(api, "/v1/events"):
            obj = event["data"]["object"]
            check(obj, f"#{OBJECT_SCHEMAS[obj['object']]}")


def test_deleted_customers_match_the_retrieve_schema(sb: Sandbox, api: httpx.Client) -> None:
    deleted = [row for row in sb.world().customers.rows if row.deleted]
    assert deleted, "no customer was deleted in the simulated days"
    body = api.get(f"/v1/customers/{deleted[0].id}").json()
    assert body == {"id": deleted[0].id, "object": "customer", "deleted": True}
    check(body, "/v1/customers/{customer}:200")


def test_the_account_matches_the_schema(api: httpx.Client) -> None:
    check(api.get("/v1/account").json(), "/v1/account:200")


@pytest.mark.parametrize(
    ("path", "params", "headers", "status"),
    [
        ("/v1/charges", {"limit": "x"}, {}, 400),
        ("/v1/charges", {"created[foo]": "1"}, {}, 400),
        ("/v1/charges", {"expand[]": "data.nothing"}, {}, 400),
        ("/v1/charges/ch_missing", {}, {}, 404),
        ("/v1/charges", {}, {"Stripe-Version": "1999-01-01"}, 400),
        ("/v1/charges", {}, {"key": "rk_test_EXAMPLEnothing00000000"}, 401),
        ("/v1/quotes", {}, {}, 404),
        ("/v1/charges/", {}, {}, 404),
    ],
)
def test_errors_match_the_schema(
    api: httpx.Client, path: str, params: dict[str, str], headers: dict[str, str], status: int
) -> None:
    if "key" in headers:  # another API key than the client's
        response = api.get(path, params=params, auth=(headers["key"], ""))
    else:
        response = api.get(path, params=params, headers=headers)
    assert response.status_code == status
    check(response.json(), "/v1/charges:default")


def test_forbidden_and_rate_limited_errors_match_the_schema(sb: Sandbox) -> None:
    app = read_all_app(sb, ("customer_read",))  # no charge_read
    token = sb.mint_tokens(app=app)["access_token"]
    with httpx.Client(base_url=sb.api_base, auth=(token, ""), trust_env=False) as client:
        forbidden = client.get("/v1/charges")
        assert forbidden.status_code == 403
        check(forbidden.json(), "/v1/charges:default")
        sb.inject_fault("customers", "rate_limit")
        limited = client.get("/v1/customers")
        assert limited.status_code == 429
        check(limited.json(), "/v1/customers:default")
