"""Test doubles for the API tests: a token source with a counter, and a Stripe-shaped server.

Only what the sandbox cannot do deterministically lives here (a fake clock, exact request
counts per attempt); everything that crosses the wire is also tested against the sandbox.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

from stripe_oauth_nb._http import httpx
from stripe_oauth_nb._masking import Secret
from stripe_oauth_nb._tokenset import TokenSet

ACCOUNT = "acct_1FakeAccount0001"


def token_set(n: int, obtained_at: float) -> TokenSet:
    return TokenSet(
        access_token=Secret(f"rk_test_access{n:04d}abcdefghijklmnop"),
        refresh_token=Secret(f"rt_refresh{n:04d}abcdefghijklmnop"),
        account_id=ACCOUNT,
        livemode=False,
        obtained_at=obtained_at,
    )


class FakeClock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class FakeSource:
    """A TokenSource: numbered tokens, a refresh counter, the stale-token rule of TokenManager."""

    def __init__(self, clock: Callable[[], float], *, refresh_delay: float = 0.0) -> None:
        self.clock = clock
        self.refresh_delay = refresh_delay
        self.refreshes = 0
        self.gets = 0
        self._lock = threading.Lock()
        self.tokens = token_set(0, clock())
        #: Tokens the server refuses even when current (as if the server's clock ran ahead).
        self.refused: set[str] = set()

    def get(self, account_id: str | None = None, livemode: bool | None = None) -> TokenSet:
        self.gets += 1
        return self.tokens

    def refresh(
        self,
        account_id: str | None = None,
        livemode: bool | None = None,
        *,
        force: bool = False,
        stale_access_token: Secret | None = None,
    ) -> TokenSet:
        with self._lock:
            if stale_access_token is not None and stale_access_token != self.tokens.access_token:
                return self.tokens
            time.sleep(self.refresh_delay)
            self.refreshes += 1
            self.tokens = token_set(self.refreshes, self.clock())
            return self.tokens

    def accepts(self, token: str) -> bool:
        return token == self.tokens.access_token.reveal() and token not in self.refused


def stripe_error(status: int, code: str, message: str, **headers: str) -> httpx.Response:
    body = {"error": {"type": "invalid_request_error", "code": code, "message": message}}
    return httpx.Response(status, json=body, headers=headers)


class FakeStripe:
    """A MockTransport handler that accepts only the source's current token (expired ones: 401).

    ``script`` is a list of responses (or exceptions) served before normal answers, in order.
    """

    def __init__(self, source: FakeSource, customers: int = 0) -> None:
        self.source = source
        self.customers = [
            {"id": f"cus_{i:06d}", "object": "customer", "created": 1_700_000_000 - i}
            for i in range(customers)
        ]
        self.script: list[httpx.Response | Exception] = []
        self.requests: list[httpx.Request] = []
        #: (method, path, Authorization header) as each attempt was sent.
        self.sent: list[tuple[str, str, str]] = []
        self._lock = threading.Lock()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            self.requests.append(request)
            auth = request.headers.get("Authorization", "")
            self.sent.append((request.method, request.url.path, auth))
            scripted = self.script.pop(0) if self.script else None
        if isinstance(scripted, Exception):
            raise scripted
        if scripted is not None:
            return scripted
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if not self.source.accepts(token):
            return stripe_error(401, "api_key_expired", f"Expired API Key provided: {token}")
        if request.url.path == "/v1/account":
            return httpx.Response(200, json={"id": ACCOUNT, "object": "account"})
        if request.url.path == "/v1/customers":
            return self._list(request)
        if request.method == "POST":
            return httpx.Response(200, json={"id": "cus_new", "object": "customer"})
        return stripe_error(404, "resource_missing", "No such path")

    def _list(self, request: httpx.Request) -> httpx.Response:
        limit = int(request.url.params.get("limit", "10"))
        after = request.url.params.get("starting_after")
        start = 0
        if after:
            start = next(i for i, c in enumerate(self.customers) if c["id"] == after) + 1
        page = self.customers[start : start + limit]
        body: dict[str, Any] = {
            "object": "list",
            "data": page,
            "has_more": start + limit < len(self.customers),
            "url": "/v1/customers",
        }
        return httpx.Response(200, content=json.dumps(body).encode())
