"""The sync's per-account rate limiter: Stripe's limits hold in every second, and are used."""

from __future__ import annotations

import bisect

import pytest

from stripe_oauth_nb._http import httpx
from stripe_oauth_nb.sync._limiter import (
    LimitedTransport,
    RequestLimiter,
    RequestStats,
    endpoint_of,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def max_in_any_second(times: list[float]) -> int:
    times = sorted(times)
    return max(bisect.bisect_left(times, t + 1.0) - i for i, t in enumerate(times))


@pytest.mark.parametrize(
    ("livemode", "rate", "mix"),
    [
        (True, 100, ["/v1/charges", "/v1/invoices", "/v1/customers", "/v1/events", "/v1/refunds"]),
        (False, 25, ["/v1/charges", "/v1/invoices"]),
        (True, 100, ["/v1/charges"]),  # one endpoint alone: its own 25/s is the bound
    ],
)
def test_limits_hold_in_every_second_and_are_nearly_reached(
    livemode: bool, rate: int, mix: list[str]
) -> None:
    clock = FakeClock()
    limiter = RequestLimiter.for_mode(livemode, clock=clock, sleep=clock.sleep)
    sent: dict[str, list[float]] = {e: [] for e in mix}
    for i in range(1200):
        endpoint = mix[i % len(mix)]
        sent[endpoint].append(limiter.reserve(endpoint))
    every = [t for times in sent.values() for t in times]
    bound = min(rate, 25 * len(mix))
    assert max_in_any_second(every) <= bound
    for times in sent.values():
        assert max_in_any_second(times) <= 25
    elapsed = max(every) - min(every)
    assert 1200 / elapsed >= 0.9 * bound  # within 10% of the limit


def test_a_busy_endpoint_does_not_hold_back_the_others() -> None:
    clock = FakeClock()
    limiter = RequestLimiter.for_mode(True, clock=clock, sleep=clock.sleep)
    charges = [limiter.reserve("/v1/charges") for _ in range(100)]  # 4 s of charges queued
    prices = [limiter.reserve("/v1/prices") for _ in range(20)]
    assert max(charges) > 3.5 + clock.now
    assert max(prices) < clock.now + 1.0  # prices went between the charges


def test_a_429_pauses_the_endpoint_for_retry_after() -> None:
    clock = FakeClock()
    limiter = RequestLimiter.for_mode(False, clock=clock, sleep=clock.sleep)
    limiter.pause("/v1/charges", 2.0)
    assert limiter.reserve("/v1/charges") >= clock.now + 2.0
    assert limiter.reserve("/v1/customers") < clock.now + 0.5


def test_transport_waits_counts_and_pauses_on_429() -> None:
    clock = FakeClock()
    limiter = RequestLimiter.for_mode(False, clock=clock, sleep=clock.sleep)
    answers = iter([429, 200, 200])

    def handler(request: httpx.Request) -> httpx.Response:
        status = next(answers)
        headers = {"Retry-After": "3"} if status == 429 else {}
        return httpx.Response(status, headers=headers, json={})

    stats = RequestStats()
    transport = LimitedTransport(httpx.MockTransport(handler), limiter, stats)
    with httpx.Client(transport=transport, base_url="http://fake") as client:
        start = clock.now
        assert client.get("/v1/charges/ch_1").status_code == 429
        assert client.get("/v1/charges/ch_2").status_code == 200
        assert clock.now - start >= 3.0  # waited out Retry-After (the same endpoint)
        assert client.get("/v1/customers").status_code == 200
    assert stats.requests == {"/v1/charges/{id}": 2, "/v1/customers": 1}
    assert stats.rate_limited == 1
    assert stats.total == 3


@pytest.mark.parametrize(
    ("path", "endpoint"),
    [
        ("/v1/charges", "/v1/charges"),
        ("/v1/charges/ch_1", "/v1/charges/{id}"),
        ("/v1/", "/v1"),
        ("/v1/invoices/in_1Abc/lines", "/v1/invoices/{id}/lines"),
        ("/v1/customers/cus_9/payment_methods", "/v1/customers/{id}/payment_methods"),
        ("/v1/checkout/sessions", "/v1/checkout/sessions"),
        ("/v1/checkout/sessions/cs_live_aB1/line_items", "/v1/checkout/sessions/{id}/line_items"),
        ("/v1/subscription_items", "/v1/subscription_items"),
        ("/v1/balance_transactions", "/v1/balance_transactions"),
    ],
)
def test_endpoint_of(path: str, endpoint: str) -> None:
    assert endpoint_of(path) == endpoint
