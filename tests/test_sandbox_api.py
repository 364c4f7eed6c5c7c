"""GET /v1/account and /v1/customers: Stripe's shapes, paging, auth and errors (the other
resources follow the same rules: see test_sandbox_lists.py and test_sandbox_resources.py)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from stripe_oauth_nb._http import httpx
from stripe_oauth_nb.sandbox import RegisteredApp, Sandbox

CUSTOMER_FIELDS = {
    "id",
    "object",
    "address",
    "balance",
    "created",
    "currency",
    "email",
    "livemode",
    "metadata",
    "name",
    "invoice_settings",
    "tax_exempt",
}


@pytest.fixture(scope="module")
def tokens(sandbox: Sandbox) -> dict[str, Any]:
    return sandbox.mint_tokens()


@pytest.fixture(scope="module")
def token(tokens: dict[str, Any]) -> str:
    return str(tokens["access_token"])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def no_customer_app(sandbox: Sandbox) -> RegisteredApp:
    return sandbox.register_app(
        {
            "id": "com.example.no-customers",
            "name": "No Customers",
            "permissions": [{"permission": "charge_read", "purpose": "p"}],
            "allowed_redirect_uris": ["http://127.0.0.1:8765/callback"],
        }
    )


@pytest.mark.parametrize("scheme", ["bearer", "basic"])
def test_account_is_the_connected_account(
    sandbox: Sandbox, client: httpx.Client, token: str, scheme: str
) -> None:
    if scheme == "bearer":
        response = client.get("/v1/account", headers=bearer(token))
    else:
        response = client.get("/v1/account", auth=(token, ""))
    assert response.status_code == 200
    account = response.json()
    assert account["id"] == sandbox.account_id
    assert account["object"] == "account"
    assert account["business_profile"]["name"]
    assert account["email"]
    assert account["country"] == "US"
    assert account["default_currency"] == "usd"
    assert "livemode" not in account  # not an account field
    assert {"branding", "card_payments", "payments", "dashboard"} <= set(account["settings"])


def test_developer_key_reads_its_own_empty_account(sandbox: Sandbox, client: httpx.Client) -> None:
    account = client.get("/v1/account", auth=(sandbox.test.secret_key, "")).json()
    assert account["id"] == sandbox.developer_account_id != sandbox.account_id
    customers = client.get("/v1/customers", auth=(sandbox.test.secret_key, "")).json()
    assert customers["data"] == []
    assert customers["has_more"] is False


@pytest.mark.parametrize(
    ("path", "header"),
    [
        ("/v1/account", "Request-Id"),
        ("/v1/customers", "Request-Id"),
        ("/v1/nope", "Request-Id"),
        ("/v1/account", "Stripe-Version"),
        ("/v1/customers/cus_missing", "Stripe-Version"),
    ],
)
def test_every_json_answer_has_stripe_headers(
    client: httpx.Client, token: str, path: str, header: str
) -> None:
    response = client.get(path, headers=bearer(token))
    assert response.headers["content-type"].startswith("application/json")
    value = response.headers[header]
    assert value.startswith("req_") if header == "Request-Id" else value


def test_stripe_version_echoes_the_request(client: httpx.Client, token: str) -> None:
    response = client.get("/v1/account", headers={**bearer(token), "Stripe-Version": "2020-08-27"})
    assert response.headers["stripe-version"] == "2020-08-27"


@pytest.mark.parametrize(("params", "count"), [({}, 10), ({"limit": 3}, 3), ({"limit": 100}, 25)])
def test_customer_list_shape(
    client: httpx.Client, token: str, params: dict[str, Any], count: int
) -> None:
    body = client.get("/v1/customers", params=params, headers=bearer(token)).json()
    assert set(body) == {"object", "data", "has_more", "url"}
    assert body["object"] == "list"
    assert body["url"] == "/v1/customers"
    assert len(body["data"]) == count
    assert body["has_more"] is (count < 25)
    for customer in body["data"]:
        assert set(customer) >= CUSTOMER_FIELDS
        assert customer["id"].startswith("cus_")
        assert customer["object"] == "customer"
        assert customer["livemode"] is False
    created = [c["created"] for c in body["data"]]
    assert created == sorted(created, reverse=True)


@pytest.mark.parametrize("limit", [1, 7, 10, 24, 25, 100])
def test_starting_after_walks_every_customer_once(
    client: httpx.Client, token: str, limit: int
) -> None:
    seen: list[str] = []
    params: dict[str, Any] = {"limit": limit}
    while True:
        body = client.get("/v1/customers", params=params, headers=bearer(token)).json()
        seen += [c["id"] for c in body["data"]]
        if not body["has_more"]:
            break
        params["starting_after"] = body["data"][-1]["id"]
    assert len(seen) == 25
    assert len(set(seen)) == 25


def test_ending_before_pages_backwards(client: httpx.Client, token: str) -> None:
    everything = client.get("/v1/customers", params={"limit": 100}, headers=bearer(token)).json()
    ids = [c["id"] for c in everything["data"]]
    body = client.get(
        "/v1/customers", params={"limit": 5, "ending_before": ids[12]}, headers=bearer(token)
    ).json()
    assert [c["id"] for c in body["data"]] == ids[7:12]
    assert body["has_more"] is True


def test_email_filter(client: httpx.Client, token: str) -> None:
    first = client.get("/v1/customers", params={"limit": 1}, headers=bearer(token)).json()
    email = first["data"][0]["email"]
    body = client.get("/v1/customers", params={"email": email}, headers=bearer(token)).json()
    assert [c["email"] for c in body["data"]] == [email]


@pytest.mark.parametrize(
    ("params", "param", "code"),
    [
        ({"limit": "0"}, "limit", "parameter_invalid_integer"),
        ({"limit": "101"}, "limit", "parameter_invalid_integer"),
        ({"limit": "-1"}, "limit", "parameter_invalid_integer"),
        ({"limit": "abc"}, "limit", "parameter_invalid_integer"),
        ({"limit": ""}, "limit", "parameter_invalid_empty"),
        ({"starting_after": "cus_nope"}, "starting_after", "resource_missing"),
        ({"ending_before": "cus_nope"}, "ending_before", "resource_missing"),
        ({"starting_after": "a", "ending_before": "b"}, "ending_before", None),
        ({"colour": "red"}, "colour", "parameter_unknown"),
    ],
)
def test_invalid_list_params_are_400_with_param(
    client: httpx.Client, token: str, params: dict[str, str], param: str, code: str | None
) -> None:
    response = client.get("/v1/customers", params=params, headers=bearer(token))
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param
    assert error.get("code") == code
    assert error["message"]


def test_retrieve_customer(client: httpx.Client, token: str) -> None:
    listed = client.get("/v1/customers", params={"limit": 2}, headers=bearer(token)).json()
    wanted = listed["data"][1]
    got = client.get(f"/v1/customers/{wanted['id']}", headers=bearer(token)).json()
    assert got == wanted


def test_unknown_customer_is_404_resource_missing(client: httpx.Client, token: str) -> None:
    response = client.get("/v1/customers/cus_doesnotexist", headers=bearer(token))
    assert response.status_code == 404
    error = response.json()["error"]
    assert error == {
        "type": "invalid_request_error",
        "code": "resource_missing",
        "doc_url": "https://stripe.com/docs/error-codes/resource-missing",
        "message": "No such customer: 'cus_doesnotexist'",
        "param": "id",
        "request_log_url": f"https://dashboard.stripe.com/test/logs/{response.headers['request-id']}",
    }


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/custmers"),
        ("GET", "/v1/customers/"),
        ("GET", "/v1/charges/"),
        ("GET", "/v3/customers"),
        ("GET", "/"),
    ],
)
def test_unknown_routes_are_404_in_stripes_shape(
    client: httpx.Client, token: str, method: str, path: str
) -> None:
    response = client.request(method, path, headers=bearer(token))
    assert response.status_code == 404
    message = response.json()["error"]["message"]
    assert message.startswith(f"Unrecognized request URL ({method}: {path})")
    assert response.headers["request-id"].startswith("req_")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v1/customers"),
        ("DELETE", "/v1/customers/cus_x"),
        ("GET", "/v1/customers/search"),
        ("GET", "/v1/charges/search"),
        ("GET", "/v1/quotes"),
        ("GET", "/v1/transfers"),
        ("GET", "/v1/customers/cus_x/sources"),
        ("GET", "/v2/core/events"),
    ],
)
def test_stripe_endpoints_the_sandbox_lacks_say_so(
    client: httpx.Client, token: str, method: str, path: str
) -> None:
    response = client.request(method, path, headers=bearer(token))
    assert response.status_code == 404
    message = response.json()["error"]["message"]
    assert message.startswith(f"The sandbox does not serve {method} {path}: it is a Stripe")
    assert "Unrecognized" not in message


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({}, "You did not provide an API key"),
        ({"Authorization": "Bearer rk_test_EXAMPLEnope0000000000000"}, "Invalid API Key provided"),
        ({"Authorization": "Bearer rt_nope0000000000000000000000"}, "Invalid API Key provided"),
        ({"Authorization": "Token abc"}, "You did not provide an API key"),
    ],
    ids=["missing", "unknown", "refresh-token", "other-scheme"],
)
@pytest.mark.parametrize("path", ["/v1/account", "/v1/customers"])
def test_bad_credentials_are_401(
    client: httpx.Client, headers: dict[str, str], message: str, path: str
) -> None:
    response = client.get(path, headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]["message"].startswith(message)
    assert response.json()["error"]["type"] == "invalid_request_error"


def test_refresh_token_is_not_an_api_key(client: httpx.Client, tokens: dict[str, Any]) -> None:
    response = client.get("/v1/account", headers=bearer(tokens["refresh_token"]))
    assert response.status_code == 401
    assert tokens["refresh_token"] not in response.text


@pytest.mark.parametrize("path", ["/v1/customers", "/v1/customers/cus_x"])
def test_missing_permission_is_403_naming_it(
    sandbox: Sandbox, client: httpx.Client, no_customer_app: RegisteredApp, path: str
) -> None:
    token = sandbox.mint_tokens(app=no_customer_app)["access_token"]
    response = client.get(path, headers=bearer(token))
    assert response.status_code == 403
    error = response.json()["error"]
    assert "'customer_read'" in error["message"]
    assert "code" not in error  # Stripe's missing-permission error has no code
    assert error["type"] == "invalid_request_error"
    assert token not in error["message"]
    assert client.get("/v1/account", headers=bearer(token)).status_code == 200


def test_permissions_are_those_granted_at_install(
    sandbox: Sandbox, client: httpx.Client, no_customer_app: RegisteredApp
) -> None:
    """Re-registering with more permissions does not widen tokens already issued."""
    app = sandbox.register_app(
        {
            "id": "com.example.widening",
            "name": "Widening",
            "permissions": [],
            "allowed_redirect_uris": ["http://127.0.0.1:8765/callback"],
        }
    )
    old = sandbox.mint_tokens(app=app)["access_token"]
    widened = sandbox.register_app(
        {
            "id": "com.example.widening",
            "name": "Widening",
            "permissions": [{"permission": "customer_write", "purpose": "p"}],
            "allowed_redirect_uris": ["http://127.0.0.1:8765/callback"],
        }
    )
    assert dict(widened.client_ids) == dict(app.client_ids)
    new = sandbox.mint_tokens(app=widened)["access_token"]
    assert client.get("/v1/customers", headers=bearer(old)).status_code == 403
    assert client.get("/v1/customers", headers=bearer(new)).status_code == 200


def test_live_token_sees_the_live_world(sandbox: Sandbox, client: httpx.Client, token: str) -> None:
    live = sandbox.mint_tokens("live")
    assert live["access_token"].startswith("rk_live_")
    body = client.get("/v1/customers", params={"limit": 100}, headers=bearer(live["access_token"]))
    live_ids = {c["id"] for c in body.json()["data"]}
    assert all(c["livemode"] is True for c in body.json()["data"])
    assert len(live_ids) == 25
    test_body = client.get("/v1/customers", params={"limit": 100}, headers=bearer(token)).json()
    assert live_ids.isdisjoint(c["id"] for c in test_body["data"])
    account = client.get("/v1/account", headers=bearer(live["access_token"])).json()
    assert account["id"] == sandbox.account_id


def test_keep_alive_requests_do_not_stall(client: httpx.Client, token: str) -> None:
    """50 requests on one connection: a 40 ms Nagle/delayed-ACK stall would take > 2 s."""
    client.get("/v1/account", headers=bearer(token))
    started = time.perf_counter()
    for _ in range(50):
        assert client.get("/v1/customers", headers=bearer(token)).status_code == 200
    assert time.perf_counter() - started < 2.0


def test_many_customers_page_to_the_end() -> None:
    """10,000 customers (their data is made on first use: see bench/bench_sandbox.py)."""
    with Sandbox(customers=10_000, rate_limit=False) as sb:
        token = sb.mint_tokens()["access_token"]
        with httpx.Client(base_url=sb.api_base, trust_env=False, timeout=120) as c:
            body = c.get("/v1/customers", params={"limit": 100}, headers=bearer(token)).json()
            assert len(body["data"]) == 100
            assert body["has_more"] is True
            oldest = sb.world().customers.rows  # in creation order: 100 is the 101st oldest
            last = c.get(
                "/v1/customers",
                params={"limit": 100, "starting_after": oldest[100].id},
                headers=bearer(token),
            ).json()
            assert [c["id"] for c in last["data"]] == [r.id for r in reversed(oldest[:100])]
            assert last["has_more"] is False


@pytest.mark.parametrize("seed", [0, 7])
def test_seeded_data_is_deterministic(seed: int) -> None:
    def snapshot() -> tuple[str, list[Any]]:
        sb = Sandbox(customers=5, seed=seed, start=1_767_225_600)
        return sb.account_id, [list(sb.world().table(r)) for r in ("customers", "charges")]

    assert snapshot() == snapshot()
    assert Sandbox(customers=5, seed=seed).test.secret_key != Sandbox(seed=seed).test.secret_key


def test_customer_count_is_configurable(sandbox: Sandbox, exchange: Callable[..., Any]) -> None:
    with Sandbox(customers=0) as sb, httpx.Client(base_url=sb.api_base, trust_env=False) as c:
        token = sb.mint_tokens()["access_token"]
        assert c.get("/v1/customers", headers=bearer(token)).json()["data"] == []
