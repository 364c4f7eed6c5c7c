"""The retry policy with scripted answers: which failures are retried, how
long it waits, where it stops, and one Idempotency-Key across the retries of a POST.
(The same policy against the sandbox's injected faults: test_api_sandbox.py.)"""

from __future__ import annotations

import random

import pytest
from _api_fakes import FakeClock, FakeSource, FakeStripe, stripe_error

from stripe_oauth_nb._errors import NetworkError, StripeAPIError
from stripe_oauth_nb._http import httpx
from stripe_oauth_nb.api import ApiClient, RetryPolicy, TokenAuth
from stripe_oauth_nb.api._retry import parse_retry_after


def make(
    script: list[httpx.Response | Exception], **policy: float
) -> tuple[FakeStripe, ApiClient, list[float]]:
    source = FakeSource(FakeClock())
    server = FakeStripe(source, customers=3)
    server.script = list(script)
    sleeps: list[float] = []
    retry = RetryPolicy(sleep=sleeps.append, rng=random.Random(7), **policy)  # type: ignore[arg-type]
    client = ApiClient(
        TokenAuth(source, clock=source.clock),
        base_url="https://api.example.test",
        transport=httpx.MockTransport(server),
        retry=retry,
    )
    return server, client, sleeps


def r(status: int, **headers: str) -> httpx.Response:
    return stripe_error(status, f"e{status}", f"status {status}", **headers)


RETRIED = [
    pytest.param([r(500)], id="500"),
    pytest.param([r(502), r(503)], id="502-503"),
    pytest.param([r(409)], id="409-conflict"),
    pytest.param([r(429)], id="429"),
    pytest.param([r(400, **{"Stripe-Should-Retry": "true"})], id="400-should-retry-true"),
    pytest.param([httpx.ConnectError("refused")], id="connect-error"),
    pytest.param([httpx.RemoteProtocolError("dropped")], id="dropped"),
    pytest.param([httpx.ReadTimeout("slow")], id="read-timeout"),
    pytest.param([httpx.ReadError("reset"), r(500), r(429)], id="mixed"),
]


@pytest.mark.parametrize("script", RETRIED)
def test_retried_then_succeeds(script: list[httpx.Response | Exception]) -> None:
    server, client, sleeps = make(script)
    assert client.get("/v1/account")["object"] == "account"
    assert len(server.sent) == len(script) + 1
    assert len(sleeps) == len(script)


NOT_RETRIED = [
    pytest.param(r(500, **{"Stripe-Should-Retry": "false"}), 500, id="500-should-retry-false"),
    pytest.param(r(429, **{"Stripe-Should-Retry": "false"}), 429, id="429-should-retry-false"),
    pytest.param(r(400), 400, id="400"),
    pytest.param(r(404), 404, id="404"),
    pytest.param(r(402), 402, id="402"),
    pytest.param(r(429, **{"Retry-After": "3600"}), 429, id="retry-after-too-long"),
]


@pytest.mark.parametrize(("response", "status"), NOT_RETRIED)
def test_not_retried(response: httpx.Response, status: int) -> None:
    server, client, sleeps = make([response])
    with pytest.raises(StripeAPIError) as info:
        client.get("/v1/account")
    assert info.value.status == status
    assert len(server.sent) == 1
    assert sleeps == []


@pytest.mark.parametrize("max_retries", [0, 1, 3])
def test_count_is_capped(max_retries: int) -> None:
    server, client, sleeps = make([r(500)] * 10, max_retries=max_retries)
    with pytest.raises(StripeAPIError, match="500") as info:
        client.get("/v1/account")
    assert info.value.status == 500
    assert len(server.sent) == max_retries + 1
    assert len(sleeps) == max_retries


def test_connection_errors_end_as_network_error() -> None:
    server, client, _sleeps = make([httpx.ConnectError("refused")] * 10, max_retries=2)
    with pytest.raises(NetworkError, match="could not reach") as info:
        client.get("/v1/account")
    assert len(server.sent) == 3
    assert info.value.__cause__ is None  # no chained httpx error with request headers


def test_waits_grow_with_jitter_and_are_capped() -> None:
    _server, client, sleeps = make(
        [r(500)] * 8, max_retries=6, base_delay=0.5, max_delay=4.0, jitter=0.5
    )
    with pytest.raises(StripeAPIError):
        client.get("/v1/account")
    ceilings = [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert len(sleeps) == len(ceilings)
    for slept, ceiling in zip(sleeps, ceilings, strict=True):
        assert ceiling * 0.5 <= slept <= ceiling
    assert len(set(sleeps)) == len(sleeps)  # jittered: no two waits alike


@pytest.mark.parametrize(("retry_after", "minimum"), [("2", 2.0), ("7.5", 7.5), ("0", 0.0)])
def test_retry_after_is_honoured(retry_after: str, minimum: float) -> None:
    _server, client, sleeps = make([r(429, **{"Retry-After": retry_after})], base_delay=0.1)
    client.get("/v1/account")
    assert len(sleeps) == 1
    assert sleeps[0] >= minimum
    assert sleeps[0] <= max(minimum, 0.1)


def test_a_post_reuses_one_idempotency_key_across_retries() -> None:
    server, client, _sleeps = make([r(500), httpx.ReadError("reset"), r(429)])
    client.post("/v1/customers", {"email": "a@example.com"})
    keys = {req.headers.get("Idempotency-Key") for req in server.requests}
    assert len(server.requests) == 4
    assert len(keys) == 1
    assert None not in keys


def test_a_given_idempotency_key_is_kept() -> None:
    server, client, _sleeps = make([r(503)])
    client.post("/v1/customers", {"email": "a@example.com"}, idempotency_key="key-123")
    assert [req.headers["Idempotency-Key"] for req in server.requests] == ["key-123"] * 2


def test_two_posts_get_two_keys() -> None:
    server, client, _sleeps = make([])
    client.post("/v1/customers", {"email": "a@example.com"})
    client.post("/v1/customers", {"email": "a@example.com"})
    assert len({req.headers["Idempotency-Key"] for req in server.requests}) == 2


def test_a_post_without_key_is_not_retried() -> None:
    policy = RetryPolicy(sleep=lambda _s: None)
    request = httpx.Request("POST", "https://api.example.test/v1/customers")
    assert policy.delay_after_response(r(500), 0, request) is None
    assert policy.delay_after_error(httpx.ConnectError("x"), 0, request) is None
    request.headers["Idempotency-Key"] = "k"
    assert policy.delay_after_response(r(500), 0, request) is not None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        ("3", 3.0),
        ("1.5", 1.5),
        ("-4", 0.0),
        ("soon", None),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),  # a date in the past: no wait
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value) == expected


@pytest.mark.parametrize(
    ("environ", "base_url", "expected"),
    [
        ({}, "https://api.stripe.com", None),
        ({"https_proxy": "http://proxy:3128"}, "https://api.stripe.com", "http://proxy:3128"),
        ({"https_proxy": "http://proxy:3128"}, "http://127.0.0.1:8000", None),
        (
            {"https_proxy": "http://proxy:3128", "no_proxy": "api.stripe.com"},
            "https://api.stripe.com",
            None,
        ),
    ],
)
def test_environment_proxy_goes_under_the_retry_policy(
    monkeypatch: pytest.MonkeyPatch, environ: dict[str, str], base_url: str, expected: str | None
) -> None:
    from stripe_oauth_nb.api._client import _env_proxy

    for name in ("http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    assert _env_proxy(base_url) == expected
