"""Stripe's rate limits (token buckets per account and per endpoint) and the latency option.

The bucket arithmetic is tested on a fake clock (exact); over real HTTP a burst meets 429s with
the headers a client backs off by, and the admitted requests never exceed what the buckets
allow over the elapsed time (a bound, so a slow machine cannot make the test flaky).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from _sandbox_helpers import read_all_app, token_request

from stripe_oauth_nb._http import httpx
from stripe_oauth_nb.sandbox import Sandbox
from stripe_oauth_nb.sandbox._limits import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def admitted(limiter: RateLimiter, n: int, endpoint: str = "GET /v1/charges", **kw: str) -> int:
    account = kw.get("account", "acct_1")
    mode = kw.get("mode", "test")
    return sum(limiter.admit(account, mode, endpoint) is None for _ in range(n))  # type: ignore[arg-type]


def test_buckets_start_full_and_refill_continuously() -> None:
    clock = Clock()
    limiter = RateLimiter(clock=clock)
    assert admitted(limiter, 40) == 25  # test mode: 25 a second, burst of 25
    refusal = limiter.admit("acct_1", "test", "GET /v1/charges")
    assert refusal is not None
    assert refusal.reason in ("global-rate", "endpoint-rate")
    assert refusal.wait == pytest.approx(1 / 25)
    assert refusal.retry_after == 1
    clock.t += 0.2  # 0.2 s refills 5 tokens
    assert admitted(limiter, 10) == 5
    clock.t += 10  # never above capacity
    assert admitted(limiter, 40) == 25


def test_live_mode_allows_100_a_second_over_endpoints_of_25() -> None:
    clock = Clock()
    limiter = RateLimiter(clock=clock)
    endpoints = [f"GET /v1/{r}" for r in ("charges", "customers", "invoices", "events", "refunds")]
    counts = Counter({e: admitted(limiter, 30, e, mode="live") for e in endpoints})
    assert all(counts[e] == 25 for e in endpoints[:4])
    assert counts[endpoints[4]] == 0  # the account's 100 are spent
    refusal = limiter.admit("acct_1", "live", endpoints[4])
    assert refusal is not None
    assert refusal.reason == "global-rate"
    # the other mode and another account have their own buckets
    assert admitted(limiter, 30, endpoints[0], mode="test") == 25
    assert admitted(limiter, 30, endpoints[0], account="acct_2", mode="live") == 25


def test_a_refused_request_takes_no_token() -> None:
    clock = Clock()
    limiter = RateLimiter(clock=clock)
    assert admitted(limiter, 25, "GET /v1/charges") == 25
    assert admitted(limiter, 100, "GET /v1/charges") == 0  # refused: nothing taken
    clock.t += 1 / 25
    assert admitted(limiter, 2, "GET /v1/customers") == 1  # the global bucket refilled one


def test_a_paced_client_is_never_refused() -> None:
    clock = Clock()
    limiter = RateLimiter(clock=clock)
    for _ in range(1000):  # 40 s at exactly 25 a second
        assert limiter.admit("acct_1", "test", "GET /v1/charges") is None
        clock.t += 1 / 25


def test_disabled_limits_admit_everything() -> None:
    assert admitted(RateLimiter(enabled=False), 1000) == 1000


def burst(
    base: str, token: str, path: str, count: int, threads: int = 8
) -> tuple[Counter[int], float, list[httpx.Response]]:
    local = threading.local()
    refused: list[httpx.Response] = []
    clients: list[httpx.Client] = []

    def one(_: int) -> int:
        client = getattr(local, "client", None)
        if client is None:
            client = local.client = httpx.Client(base_url=base, trust_env=False, timeout=30)
            clients.append(client)
        response = client.get(path, auth=(token, ""))
        if response.status_code == 429:
            refused.append(response)
        return response.status_code

    started = time.monotonic()
    try:
        with ThreadPoolExecutor(threads) as pool:
            statuses = Counter(pool.map(one, range(count)))
    finally:
        for client in clients:
            client.close()
    return statuses, time.monotonic() - started, refused


def test_a_burst_meets_stripes_429_and_the_limit_holds_over_time() -> None:
    with Sandbox(customers=5) as sb:
        token = sb.mint_tokens()["access_token"]
        statuses, elapsed, refused = burst(sb.api_base, token, "/v1/customers", 300)
        assert set(statuses) <= {200, 429}
        # never more than the bucket allows: 25 at once, then 25 a second
        assert statuses[200] <= 25 + 25 * elapsed + 1
        if 25 + 25 * elapsed + 1 < 300:  # (always, unless 300 requests took over 11 s)
            assert refused
        for response in refused[:5]:
            error = response.json()["error"]
            assert (error["type"], error["code"]) == ("invalid_request_error", "rate_limit")
            assert error["request_log_url"].startswith("https://dashboard.stripe.com/test/logs/")
            assert int(response.headers["retry-after"]) >= 1
            assert response.headers["stripe-should-retry"] == "true"
            assert response.headers["stripe-rate-limited-reason"] in (
                "global-rate",
                "endpoint-rate",
            )
            assert response.headers["request-id"].startswith("req_")
        # after a second the bucket has refilled: requests pass again
        time.sleep(1.1)
        assert (
            httpx.get(f"{sb.api_base}/v1/customers", auth=(token, ""), trust_env=False).status_code
            == 200
        )


def test_the_token_endpoint_counts_against_the_developer_account() -> None:
    with Sandbox(customers=5) as sb:
        token = sb.mint_tokens()["access_token"]
        with httpx.Client(base_url=sb.api_base, trust_env=False, timeout=30) as c:
            started = time.monotonic()
            statuses = Counter(
                token_request(
                    c, sb.test.secret_key, grant_type="refresh_token", refresh_token="rt_x"
                )[0]
                for _ in range(80)
            )
            elapsed = time.monotonic() - started
            assert statuses[400] <= 25 + 25 * elapsed + 1  # the 400s: invalid_grant, counted
            if 25 + 25 * elapsed + 1 < 80:
                assert statuses[429] > 0
            # the installing account's own API bucket is untouched
            assert c.get("/v1/customers", auth=(token, "")).status_code == 200


def test_limits_can_be_turned_off() -> None:
    with Sandbox(customers=5, rate_limit=False) as sb:
        token = sb.mint_tokens(app=read_all_app(sb))["access_token"]
        statuses, _, _ = burst(sb.api_base, token, "/v1/charges", 120)
        assert statuses == Counter({200: 120})


def test_latency_is_added_to_every_api_answer() -> None:
    with Sandbox(customers=5, latency_ms=300, rate_limit=False) as sb:
        token = sb.mint_tokens()["access_token"]
        with httpx.Client(base_url=sb.api_base, trust_env=False, timeout=30) as c:
            c.get("/_sandbox/stats")  # connect first
            for call in (
                lambda: c.get("/v1/customers", auth=(token, "")),
                lambda: c.get("/v1/nothing", auth=(token, "")),
                lambda: token_request(c, sb.test.secret_key, grant_type="bogus"),
            ):
                started = time.perf_counter()
                call()
                assert time.perf_counter() - started >= 0.3
            started = time.perf_counter()
            c.get("/_sandbox/stats")
            assert time.perf_counter() - started < 0.3  # controls answer at once
