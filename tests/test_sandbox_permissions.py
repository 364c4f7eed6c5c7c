"""Each resource needs its read permission (names from the project's permission catalogue);
without it, Stripe's 403 for a missing permission."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from _sandbox_helpers import read_all_app

from stripe_oauth_nb._http import httpx
from stripe_oauth_nb.sandbox import Sandbox
from stripe_oauth_nb.sandbox._permissions import REQUIRED, grants
from stripe_oauth_nb.sandbox._world import api_path

CATALOGUE = Path(__file__).parents[1] / "stripe_oauth_nb" / "manifest" / "permissions.json"


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    with Sandbox(customers=30, rate_limit=False) as sandbox:
        yield sandbox


def catalogue_names() -> set[str]:
    groups = json.loads(CATALOGUE.read_text())["groups"]
    return {p["name"] for group in groups for p in group["permissions"]}


def test_every_required_permission_is_in_the_catalogue() -> None:
    assert set(REQUIRED.values()) <= catalogue_names()


def test_grants_follow_the_catalogue() -> None:
    assert "customer_read" in grants(["customer_write"])
    assert "balance_read" in grants(["balance_transaction_source_read"])
    assert "product_read" in grants(["payment_intent_read"])  # "implies product_read"
    assert "product_read" in grants(["plan_read"])
    assert "payout_read" in grants(["transfer_read"])
    assert grants(["customer_read"]) >= {"customer_read"}
    assert "charge_read" not in grants(["customer_read"])
    assert grants(["made_up_read"]) == {"made_up_read"}


@pytest.mark.parametrize("resource", sorted(set(REQUIRED) - {"balance_transaction_source"}))
def test_a_missing_read_permission_is_stripes_403(sb: Sandbox, resource: str) -> None:
    needed = REQUIRED[resource]
    others = tuple(p for p in REQUIRED.values() if p != needed and needed not in grants([p]))
    without = read_all_app(sb, others)
    token = sb.mint_tokens(app=without)["access_token"]
    with httpx.Client(base_url=sb.api_base, auth=(token, ""), trust_env=False) as client:
        paths = [api_path(resource)] + (
            [] if resource == "balance" else [f"{api_path(resource)}/x"]
        )
        for path in paths:
            response = client.get(path)
            assert response.status_code == 403, path
            error = response.json()["error"]
            assert set(error) == {"type", "message", "request_log_url"}
            assert error["type"] == "invalid_request_error"
            assert f"Having the '{needed}' permission would allow" in error["message"]
            assert sb.account_id in error["message"]
            assert token not in error["message"]
    with_it = sb.mint_tokens(app=read_all_app(sb, (needed,)))["access_token"]
    assert (
        httpx.get(
            f"{sb.api_base}{api_path(resource)}", auth=(with_it, ""), trust_env=False
        ).status_code
        == 200
    )


def test_expanding_needs_the_expanded_objects_permission(sb: Sandbox) -> None:
    token = sb.mint_tokens(app=read_all_app(sb, ("charge_read",)))["access_token"]
    with httpx.Client(base_url=sb.api_base, auth=(token, ""), trust_env=False) as client:
        assert client.get("/v1/charges").status_code == 200
        response = client.get("/v1/charges", params={"expand[]": "data.customer"})
        assert response.status_code == 403
        assert "'customer_read'" in response.json()["error"]["message"]


def test_a_balance_transactions_source_needs_its_own_permission(sb: Sandbox) -> None:
    plain = sb.mint_tokens(app=read_all_app(sb, ("balance_read",)))["access_token"]
    source = sb.mint_tokens(app=read_all_app(sb, ("balance_transaction_source_read",)))
    params = {"expand[]": "data.source"}
    url = f"{sb.api_base}/v1/balance_transactions"
    refused = httpx.get(url, params=params, auth=(plain, ""), trust_env=False)
    assert refused.status_code == 403
    assert "'balance_transaction_source_read'" in refused.json()["error"]["message"]
    allowed = httpx.get(url, params=params, auth=(source["access_token"], ""), trust_env=False)
    assert allowed.status_code == 200
    assert all(isinstance(t["source"], dict) for t in allowed.json()["data"])


def test_the_account_needs_no_permission(sb: Sandbox) -> None:
    token = sb.mint_tokens(app=read_all_app(sb, ()))["access_token"]
    response = httpx.get(f"{sb.api_base}/v1/account", auth=(token, ""), trust_env=False)
    assert response.status_code == 200
