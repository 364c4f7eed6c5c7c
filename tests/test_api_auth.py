"""TokenAuth: Bearer header, refresh before expiry, one refresh and one retry on a 401
``api_key_expired``, single-flight under concurrency (fake clock here; sandbox in
test_api_sandbox.py)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from _api_fakes import FakeClock, FakeSource, FakeStripe, stripe_error, token_set

from stripe_oauth_nb._errors import AuthenticationError, StripeAPIError
from stripe_oauth_nb._http import httpx
from stripe_oauth_nb._http import stripe_error as parse_stripe_error
from stripe_oauth_nb._settings import REFRESH_WARNING_WINDOW
from stripe_oauth_nb._tokenset import ACCESS_TOKEN_LIFETIME, REFRESH_TOKEN_LIFETIME
from stripe_oauth_nb.api import ApiClient, RetryPolicy, TokenAuth, is_expired_key_response


def make(
    *, refresh_delay: float = 0.0, margin: float = 300.0
) -> tuple[FakeClock, FakeSource, FakeStripe, ApiClient]:
    clock = FakeClock()
    source = FakeSource(clock, refresh_delay=refresh_delay)
    server = FakeStripe(source, customers=3)
    auth = TokenAuth(source, margin=margin, clock=clock)
    client = ApiClient(
        auth,
        base_url="https://api.example.test",
        transport=httpx.MockTransport(server),
        retry=RetryPolicy(sleep=lambda _s: None),
    )
    return clock, source, server, client


def test_sends_the_access_token_as_bearer() -> None:
    _clock, source, server, client = make()
    assert client.get("/v1/account")["id"].startswith("acct_")
    sent = server.requests[0].headers["Authorization"]
    assert sent == f"Bearer {source.tokens.access_token.reveal()}"
    assert source.refreshes == 0


@pytest.mark.parametrize(
    ("age", "refreshes"),
    [
        (0.0, 0),
        (ACCESS_TOKEN_LIFETIME - 301, 0),  # just outside the margin
        (ACCESS_TOKEN_LIFETIME - 299, 1),  # inside the margin: refreshed first
        (ACCESS_TOKEN_LIFETIME + 10, 1),  # already expired
    ],
)
def test_refreshes_before_a_request_when_near_expiry(age: float, refreshes: int) -> None:
    clock, source, server, client = make()
    client.get("/v1/account")  # loads the tokens
    clock.now += age
    client.get("/v1/account")
    assert source.refreshes == refreshes
    # no request was refused: the refresh happened before the call, not after a 401
    assert [r.url.path for r in server.requests] == ["/v1/account", "/v1/account"]
    assert server.sent[-1][2] == f"Bearer {source.tokens.access_token.reveal()}"


def test_a_401_api_key_expired_refreshes_once_and_retries_once() -> None:
    _clock, source, server, client = make()
    client.get("/v1/account")
    old = source.tokens
    source.tokens = token_set(99, source.clock())  # rotated elsewhere: our copy is now refused
    before = len(server.sent)
    # the source holds a different token than the stale one: no refresh request is made
    assert client.get("/v1/account")["object"] == "account"
    assert source.refreshes == 0
    assert len(server.sent) - before == 2
    assert server.sent[-2][2] == f"Bearer {old.access_token.reveal()}"
    assert server.sent[-1][2] == f"Bearer {source.tokens.access_token.reveal()}"


def test_a_401_with_the_current_token_asks_the_source_to_refresh() -> None:
    _clock, source, server, client = make()
    server.script = [stripe_error(401, "api_key_expired", "Expired API Key provided: rk_test_x")]
    assert client.get("/v1/account")["object"] == "account"
    assert source.refreshes == 1
    assert len(server.requests) == 2


def test_a_second_401_is_not_retried_again() -> None:
    _clock, source, server, client = make()
    expired = stripe_error(401, "api_key_expired", "Expired API Key provided: rk_test_…abcd")
    server.script = [expired, stripe_error(401, "api_key_expired", "still expired")]
    with pytest.raises(AuthenticationError) as info:
        client.get("/v1/account")
    assert source.refreshes == 1
    assert len(server.requests) == 2
    assert info.value.status == 401
    assert info.value.code == "api_key_expired"
    assert "tokens refresh" in str(info.value)


@pytest.mark.parametrize(
    ("status", "code"),
    [(401, "invalid_api_key"), (403, "api_key_expired"), (400, "parameter_missing")],
)
def test_other_errors_do_not_refresh(status: int, code: str) -> None:
    _clock, source, server, client = make()
    server.script = [stripe_error(status, code, "nope")]
    with pytest.raises(Exception, match=str(status)):
        client.get("/v1/account")
    assert source.refreshes == 0
    assert len(server.requests) == 1


@pytest.mark.parametrize("threads", [2, 8, 32])
def test_concurrent_expiry_refreshes_once(threads: int) -> None:
    clock, source, _server, client = make(refresh_delay=0.05)
    client.get("/v1/account")
    clock.now += ACCESS_TOKEN_LIFETIME + 1
    barrier = threading.Barrier(threads)

    def call(_: int) -> str:
        barrier.wait()
        return str(client.get("/v1/customers", {"limit": 1})["object"])

    with ThreadPoolExecutor(threads) as pool:
        assert list(pool.map(call, range(threads))) == ["list"] * threads
    assert source.refreshes == 1
    assert client.auth.refreshes == 1  # type: ignore[attr-defined]


@pytest.mark.parametrize("threads", [8])
def test_concurrent_401s_refresh_once(threads: int) -> None:
    _clock, source, server, client = make(refresh_delay=0.05)
    client.get("/v1/account")
    # the server starts refusing the token in use (e.g. its clock moved forward)
    source.refused.add(source.tokens.access_token.reveal())
    barrier = threading.Barrier(threads)

    def call(_: int) -> str:
        barrier.wait()
        return str(client.get("/v1/customers", {"limit": 1})["object"])

    with ThreadPoolExecutor(threads) as pool:
        assert list(pool.map(call, range(threads))) == ["list"] * threads
    assert source.refreshes == 1
    refused = [s for s in server.sent if s[2].endswith("access0000abcdefghijklmnop")]
    assert 1 <= len(refused) <= threads + 1
    assert client.auth.refreshes == 1  # type: ignore[attr-defined]


def test_repr_is_masked() -> None:
    _clock, source, _server, client = make()
    client.get("/v1/account")
    secret = source.tokens.access_token.reveal()
    assert secret not in repr(client.auth)
    assert secret not in repr(client)
    assert "rk_test_…" in repr(client.auth)


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (stripe_error(401, "api_key_expired", "Expired API Key"), True),
        (stripe_error(401, "invalid_api_key", "Invalid API Key"), False),
        (stripe_error(403, "api_key_expired", "odd"), False),
        (httpx.Response(401, content=b"not json"), False),
        (httpx.Response(401, json=["a list"]), False),
    ],
)
def test_is_expired_key_response(response: httpx.Response, expected: bool) -> None:
    assert is_expired_key_response(response) is expected


@pytest.mark.parametrize("margin", [300.0, -1e12])  # -1e12: the access-token rule alone never fires
def test_a_refresh_token_in_its_last_30_days_is_rolled_before_a_request(margin: float) -> None:
    clock, source, server, client = make(margin=margin)
    client.get("/v1/account")
    clock.now += REFRESH_TOKEN_LIFETIME - REFRESH_WARNING_WINDOW + 3600  # 29 days and 23 h left
    client.get("/v1/account")
    assert source.refreshes == 1
    assert [r.url.path for r in server.requests] == ["/v1/account", "/v1/account"]
    assert server.sent[-1][2] == f"Bearer {source.tokens.access_token.reveal()}"
    assert source.tokens.refresh_expires_in(clock()) > 364 * 86400


def test_an_answer_that_is_not_an_object_says_what_to_check() -> None:
    client = ApiClient(
        TokenAuth(FakeSource(FakeClock())),
        base_url="https://api.example.test",
        transport=httpx.MockTransport(lambda _request: httpx.Response(200, json=["a", "list"])),
    )
    with pytest.raises(StripeAPIError, match="not an object") as info:
        client.get("/v1/account")
    assert "Check that the API base https://api.example.test" in str(info.value)


@pytest.mark.parametrize(
    ("content", "fields"),
    [
        (
            b'{"error": {"code": "api_key_expired", "type": "invalid_request_error"}}',
            {"code": "api_key_expired", "type": "invalid_request_error"},
        ),
        (
            b'{"error": "invalid_grant", "error_description": "used"}',
            {"code": "invalid_grant", "message": "used"},
        ),
        (b'{"error": "invalid_grant"}', {"code": "invalid_grant", "message": ""}),
        (b'{"error": 3}', {}),
        (b"[1, 2]", {}),
        (b"<html>bad gateway</html>", {}),
        (b"", {}),
        (None, {}),
    ],
)
def test_one_parser_of_stripes_error_body(content: bytes | None, fields: dict[str, str]) -> None:
    assert parse_stripe_error(content) == fields
