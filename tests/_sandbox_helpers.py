"""Helpers shared by the sandbox tests (plain functions; fixtures live in conftest.py)."""

from __future__ import annotations

import hashlib
import json
from functools import cache
from pathlib import Path
from typing import Any

from stripe_oauth_nb._http import httpx
from stripe_oauth_nb.sandbox import RegisteredApp, Sandbox

__all__ = [
    "READ_ALL",
    "STRIPE_API",
    "fixtures",
    "openapi",
    "read_all_app",
    "read_everything",
    "reader",
    "token_request",
    "walk",
]

#: Stripe's reference files (MIT, vendored): OpenAPI 2023-08-16 and the current example objects.
STRIPE_API = Path(__file__).parent / "data" / "stripe-api"
#: Every read permission the sandbox's resources need.
READ_ALL = (
    "customer_read",
    "product_read",
    "plan_read",
    "subscription_read",
    "invoice_read",
    "charge_read",
    "payment_intent_read",
    "balance_read",
    "balance_transaction_source_read",
    "payout_read",
    "dispute_read",
    "event_read",
    "coupon_read",
    "promotion_code_read",
    "tax_rate_read",
    "setup_intent_read",
    "payment_method_read",
    "credit_note_read",
    "checkout_session_read",
)


def token_request(
    c: httpx.Client, key: str | None, **fields: str
) -> tuple[int, dict[str, Any], httpx.Response]:
    """POST /v1/oauth/token with Basic ``key:``; returns (status, json, response)."""
    auth = (key, "") if key is not None else None
    response = c.post("/v1/oauth/token", data=fields, auth=auth)
    return response.status_code, response.json(), response


def read_all_app(sb: Sandbox, permissions: tuple[str, ...] = READ_ALL) -> RegisteredApp:
    """An app (registered with ``sb``) holding ``permissions``."""
    return sb.register_app(
        {
            "id": "com.example.reads."
            + hashlib.sha256(repr(sorted(permissions)).encode()).hexdigest()[:16],
            "name": "Reads Everything",
            "permissions": [{"permission": p, "purpose": "Analytics."} for p in permissions],
            "allowed_redirect_uris": ["http://127.0.0.1:8765/callback"],
        }
    )


def walk(
    client: httpx.Client, path: str, params: dict[str, Any] | None = None, *, limit: int = 100
) -> list[dict[str, Any]]:
    """Every object of a list endpoint, page by page (``starting_after``)."""
    query: dict[str, Any] = {**(params or {}), "limit": limit}
    seen: list[dict[str, Any]] = []
    while True:
        response = client.get(path, params=query)
        assert response.status_code == 200, response.text
        body = response.json()
        seen += body["data"]
        if not body["has_more"]:
            return seen
        query["starting_after"] = body["data"][-1]["id"]


def reader(sb: Sandbox, mode: str = "test", account: str | None = None) -> httpx.Client:
    """A client holding a fresh token of an app with every read permission."""
    tokens = sb.mint_tokens(mode, read_all_app(sb), account)  # type: ignore[arg-type]
    return httpx.Client(
        base_url=sb.api_base, auth=(tokens["access_token"], ""), trust_env=False, timeout=60
    )


def read_everything(client: httpx.Client) -> dict[str, dict[str, dict[str, Any]]]:
    """Every object of every list, by resource and id (subscriptions of every status)."""
    from stripe_oauth_nb.sandbox._world import RESOURCES, api_path

    return {
        resource: {
            o["id"]: o
            for o in walk(
                client, api_path(resource), {"status": "all"} if resource == "subscriptions" else {}
            )
        }
        for resource in RESOURCES
    }


@cache
def openapi() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((STRIPE_API / "openapi-subset.json").read_text())
    return loaded


@cache
def fixtures() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((STRIPE_API / "fixtures3.json").read_text())["resources"]
    return loaded
