"""Helpers shared by the sandbox tests (plain functions; fixtures live in conftest.py)."""

from __future__ import annotations

from typing import Any

from stripe_oauth_nb._http import httpx

__all__ = ["token_request"]


def token_request(
    c: httpx.Client, key: str | None, **fields: str
) -> tuple[int, dict[str, Any], httpx.Response]:
    """POST /v1/oauth/token with Basic ``key:``; returns (status, json, response)."""
    auth = (key, "") if key is not None else None
    response = c.post("/v1/oauth/token", data=fields, auth=auth)
    return response.status_code, response.json(), response
