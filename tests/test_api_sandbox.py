"""The API client against the sandbox over real loopback HTTP: token expiry and refresh (counted
in the sandbox's stats), injected faults, pagination at page boundaries, validation, and the
hand-off of the same access token to the official ``stripe`` library."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import stripe

from stripe_oauth_nb._errors import (
    AuthenticationError,
    NetworkError,
    PermissionDeniedError,
    StripeAPIError,
)
from stripe_oauth_nb._http import httpx
from stripe_oauth_nb._tokenset import ACCESS_TOKEN_LIFETIME, TokenSet
from stripe_oauth_nb.api import ApiClient, RetryPolicy, TokenAuth, TokenSource, validate
from stripe_oauth_nb.sandbox import RegisteredApp, Sandbox
from stripe_oauth_nb.tokens import MemoryTokenStore, TokenManager

CUSTOMERS = 250


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    with Sandbox(customers=CUSTOMERS) as sandbox:
        yield sandbox


@pytest.fixture(autouse=True)
def fresh(sb: Sandbox) -> None:
    sb.reset()


def tokens_for(
    sb: Sandbox, app: RegisteredApp | None = None, account: str | None = None
) -> TokenManager:
    """A TokenManager (memory store, the sandbox's clock) holding a fresh install's tokens."""
    body = sb.mint_tokens("test", app, account)
    tokens = TokenSet.from_response(body, obtained_at=sb.now())
    return TokenManager(sb.settings("test", app), MemoryTokenStore(tokens), clock=sb.now)


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def client_for(
    sb: Sandbox,
    source: TokenSource | None = None,
    *,
    clock: Callable[[], float] | None = None,
    sleeps: Sleeps | None = None,
    timeout: httpx.Timeout | None = None,
    **policy: float,
) -> ApiClient:
    auth = TokenAuth(source or tokens_for(sb), clock=clock or sb.now)
    retry = RetryPolicy(
        sleep=sleeps if sleeps is not None else Sleeps(),
        rng=random.Random(3),
        **policy,  # type: ignore[arg-type]
    )
    extra = {"timeout": timeout} if timeout is not None else {}
    return ApiClient(auth, base_url=sb.api_base, mode="test", retry=retry, **extra)  # type: ignore[arg-type]


def requests(sb: Sandbox, endpoint: str) -> int:
    return int(sb.stats()["requests"].get(endpoint, 0))


def refreshes(sb: Sandbox) -> int:
    return int(sb.stats()["grants"]["refresh_token"])


# --- auth ---------------------------------------------------------------------------------------


def test_expiry_before_a_request_refreshes_first(sb: Sandbox) -> None:
    with client_for(sb) as client:
        client.get("/v1/account")
        sb.advance_clock(ACCESS_TOKEN_LIFETIME - 100)  # inside the 300 s margin, not yet expired
        client.get("/v1/account")
    assert refreshes(sb) == 1
    assert requests(sb, "account") == 2  # refreshed before the call: nothing was refused


def test_a_401_api_key_expired_refreshes_once_and_retries_once(sb: Sandbox) -> None:
    # the client's clock does not know the sandbox clock moved: it learns from the 401
    with client_for(sb, clock=time.time) as client:
        client.get("/v1/account")
        sb.advance_clock(ACCESS_TOKEN_LIFETIME + 1)
        assert client.get("/v1/account")["object"] == "account"
    assert refreshes(sb) == 1
    assert requests(sb, "account") == 3  # one ok, one 401, one retry


@pytest.mark.parametrize("clock", ["sandbox", "wall"], ids=["before-request", "on-401"])
def test_eight_concurrent_requests_refresh_once(sb: Sandbox, clock: str) -> None:
    threads = 8
    with client_for(sb, clock=sb.now if clock == "sandbox" else time.time) as client:
        client.get("/v1/account")
        sb.advance_clock(ACCESS_TOKEN_LIFETIME + 1)
        barrier = threading.Barrier(threads)

        def call(_: int) -> int:
            barrier.wait()
            return len(client.get("/v1/customers", {"limit": 3})["data"])

        with ThreadPoolExecutor(threads) as pool:
            assert list(pool.map(call, range(threads))) == [3] * threads
    assert refreshes(sb) == 1


def test_an_expired_refresh_is_reported_as_authentication_error(sb: Sandbox) -> None:
    source = tokens_for(sb)
    with client_for(sb, source, clock=time.time) as client:
        sb.reset()  # the sandbox forgets every token: the access token is unknown now
        with pytest.raises(AuthenticationError) as info:
            client.get("/v1/account")
    assert info.value.status == 401
    assert source.get().access_token.reveal() not in str(info.value)
    assert source.get().access_token.reveal() not in repr(info.value.args)


# --- retries against injected faults ------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "times", "min_sleep"),
    [
        ({"kind": "rate_limit", "retry_after": 2}, 1, 2.0),
        ({"kind": "rate_limit", "retry_after": 1}, 3, 1.0),
        ({"kind": "error", "status": 500}, 1, 0.0),
        ({"kind": "error", "status": 503}, 2, 0.0),
        ({"kind": "drop"}, 1, 0.0),
        ({"kind": "drop"}, 2, 0.0),
    ],
    ids=["429-retry-after-2", "429-x3", "500", "503-x2", "drop", "drop-x2"],
)
def test_faults_are_retried(
    sb: Sandbox, fault: dict[str, object], times: int, min_sleep: float
) -> None:
    sleeps = Sleeps()
    with client_for(sb, sleeps=sleeps) as client:
        sb.inject_fault("customers", times=times, **fault)  # type: ignore[arg-type]
        page = client.get("/v1/customers", {"limit": 2})
    assert len(page["data"]) == 2
    assert requests(sb, "customers") == times + 1
    assert len(sleeps) == times
    assert min(sleeps) >= min_sleep


def test_a_slow_answer_times_out_and_is_retried(sb: Sandbox) -> None:
    sleeps = Sleeps()
    timeout = httpx.Timeout(connect=2.0, read=0.3, write=2.0, pool=2.0)
    with client_for(sb, sleeps=sleeps, timeout=timeout) as client:
        sb.inject_fault("account", "delay", seconds=1.0)
        assert client.get("/v1/account")["object"] == "account"
    assert requests(sb, "account") == 2
    assert len(sleeps) == 1


@pytest.mark.parametrize("max_retries", [0, 2])
def test_retries_are_capped(sb: Sandbox, max_retries: int) -> None:
    sleeps = Sleeps()
    with client_for(sb, sleeps=sleeps, max_retries=max_retries) as client:
        sb.inject_fault("customers", "error", times=10, status=500)
        with pytest.raises(StripeAPIError) as info:
            client.get("/v1/customers")
    assert info.value.status == 500
    assert requests(sb, "customers") == max_retries + 1
    assert len(sleeps) == max_retries


def test_drops_beyond_the_cap_are_a_network_error(sb: Sandbox) -> None:
    with client_for(sb, max_retries=1) as client:
        sb.inject_fault("account", "drop", times=5)
        with pytest.raises(NetworkError, match="could not reach"):
            client.get("/v1/account")
    assert requests(sb, "account") == 2


def test_a_long_retry_after_is_not_waited_for(sb: Sandbox) -> None:
    sleeps = Sleeps()
    with client_for(sb, sleeps=sleeps) as client:
        sb.inject_fault("account", "rate_limit", retry_after=600)
        with pytest.raises(StripeAPIError, match="rate-limiting") as info:
            client.get("/v1/account")
    assert info.value.status == 429
    assert sleeps == []


# --- pagination ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("customers", "pages"), [(0, 1), (1, 1), (100, 1), (101, 2), (250, 3)])
def test_list_all_at_page_boundaries(sb: Sandbox, customers: int, pages: int) -> None:
    if customers == CUSTOMERS:
        account = None
    else:
        account = sb.create_account(f"Shop with {customers}", customers=customers)
    with client_for(sb, tokens_for(sb, account=account)) as client:
        seen: list[tuple[int, int | None]] = []
        got = list(client.list_all("/v1/customers", progress=lambda d, t: seen.append((d, t))))
    assert len(got) == customers
    assert len({c["id"] for c in got}) == customers
    assert [c["created"] for c in got] == sorted((c["created"] for c in got), reverse=True)
    assert requests(sb, "customers") == pages
    assert seen[-1] == (customers, customers)


def test_a_page_error_mid_way(sb: Sandbox) -> None:
    with client_for(sb, max_retries=1) as client:
        pages = client.list_all("/v1/customers")
        first = [next(pages) for _ in range(100)]
        sb.inject_fault("customers", "error", times=2, status=500)
        with pytest.raises(StripeAPIError) as info:
            next(pages)
        notes = " ".join(info.value.__notes__)
        assert "100 objects were read" in notes
        assert first[-1]["id"] in notes
        rest = list(client.list_all("/v1/customers", {"starting_after": first[-1]["id"]}))
    assert len(first) + len(rest) == CUSTOMERS


def test_a_pull_survives_token_expiry_mid_way(sb: Sandbox) -> None:
    with client_for(sb, clock=time.time) as client:

        def progress(done: int, _total: int | None) -> None:
            if done == 100:
                sb.advance_clock(ACCESS_TOKEN_LIFETIME + 1)

        frame = client.dataframe("/v1/customers", progress=progress)
    assert frame.shape[0] == CUSTOMERS
    assert refreshes(sb) == 1


# --- validate -----------------------------------------------------------------------------------


def test_validate_success(sb: Sandbox) -> None:
    source = tokens_for(sb)
    with client_for(sb, source) as client:
        report = validate(client)
    assert report.ok
    assert report.account_id == sb.account_id
    assert report.mode == "test"
    assert report.account_name
    text = report.summary()
    assert text.startswith("The access token works.")
    assert sb.account_id in text
    assert "[ok  ] GET /v1/account" in text
    assert "[ok  ] GET /v1/customers?limit=1" in text
    assert source.get().access_token.reveal() not in text + repr(report)


def test_validate_401(sb: Sandbox) -> None:
    source = tokens_for(sb)
    with client_for(sb, source, clock=time.time) as client:
        sb.reset()
        report = validate(client)
    assert not report.ok
    assert [c.status for c in report.checks] == [401, 401]
    text = report.summary()
    assert text.startswith("Validation FAILED.")
    assert "install the app again" in text
    assert source.get().access_token.reveal() not in text + repr(report)


def test_validate_403_names_the_missing_permission(sb: Sandbox) -> None:
    app = sb.register_app(
        {
            "id": "com.example.nocustomers",
            "name": "No customers",
            "allowed_redirect_uris": ["http://127.0.0.1:8765/callback"],
            "permissions": [{"permission": "balance_read", "purpose": "Balance"}],
        }
    )
    with client_for(sb, tokens_for(sb, app)) as client:
        report = validate(client)
        with pytest.raises(PermissionDeniedError) as info:
            client.get("/v1/customers")
    assert not report.ok
    assert [c.ok for c in report.checks] == [True, False]
    assert report.missing_permissions == ["customer_read"]
    assert "Missing permission(s): customer_read" in report.summary()
    assert info.value.permission == "customer_read"
    assert "stripe-app.json" in str(info.value)


# --- hand-off to the stripe library ------------------------------------------------------------


def test_the_same_token_works_with_the_stripe_library(sb: Sandbox) -> None:
    source = tokens_for(sb)
    with client_for(sb, source) as client:
        ours = [c["id"] for c in client.list_all("/v1/customers")]
        token = client.auth.access_token()  # type: ignore[attr-defined]
    official = stripe.StripeClient(token.reveal(), base_addresses={"api": sb.api_base})
    theirs = [c.id for c in official.v1.customers.list({"limit": 100}).auto_paging_iter()]
    assert theirs == ours
    assert len(theirs) == CUSTOMERS
    account = official.v1.accounts.retrieve_current()
    assert account.id == sb.account_id
