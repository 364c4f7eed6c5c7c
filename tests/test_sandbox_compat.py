"""Faithfulness: the official ``stripe`` library and Authlib work against the sandbox unchanged."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import stripe
from _sandbox_helpers import read_all_app
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import OAuth2Session

from stripe_oauth_nb.sandbox import RegisteredApp, Sandbox


@pytest.fixture
def stripe_client(sb: Sandbox) -> Callable[[str], stripe.StripeClient]:
    def make(api_key: str) -> stripe.StripeClient:
        return stripe.StripeClient(
            api_key=api_key, base_addresses={"api": sb.api_base}, max_network_retries=0
        )

    return make


@pytest.fixture
def global_stripe(sb: Sandbox) -> Iterator[None]:
    """The module-level configuration style (``stripe.api_base``), restored afterwards."""
    saved = stripe.api_key, stripe.api_base, stripe.max_network_retries
    stripe.api_base = sb.api_base
    stripe.max_network_retries = 0
    yield
    stripe.api_key, stripe.api_base, stripe.max_network_retries = saved


@pytest.fixture(scope="module")
def charge_only_app(sandbox: Sandbox) -> RegisteredApp:
    return sandbox.register_app(
        {
            "id": "com.example.compat-charges",
            "name": "Charges Only",
            "permissions": [{"permission": "charge_read", "purpose": "p"}],
            "allowed_redirect_uris": ["http://127.0.0.1:8765/callback"],
        }
    )


# --- stripe-python (v16) ---------------------------------------------------------------------


@pytest.mark.parametrize("limit", [1, 4, 10, 100])
def test_stripe_client_auto_pagination_lists_every_customer(
    sb: Sandbox, stripe_client: Callable[[str], stripe.StripeClient], limit: int
) -> None:
    client = stripe_client(sb.mint_tokens()["access_token"])
    customers = list(client.v1.customers.list(params={"limit": limit}).auto_paging_iter())
    assert len(customers) == 25
    assert len({c.id for c in customers}) == 25
    assert all(isinstance(c, stripe.Customer) for c in customers)
    assert all(c.id.startswith("cus_") and c.email for c in customers)


def test_stripe_client_retrieves_account_and_customer(
    sb: Sandbox, stripe_client: Callable[[str], stripe.StripeClient]
) -> None:
    client = stripe_client(sb.mint_tokens()["access_token"])
    account = client.v1.accounts.retrieve_current()
    assert isinstance(account, stripe.Account)
    assert account.id == sb.account_id
    first = client.v1.customers.list(params={"limit": 1}).data[0]
    assert client.v1.customers.retrieve(first.id).email == first.email
    assert first.last_response is None or first.last_response.request_id.startswith("req_")


def test_global_style_configuration(sb: Sandbox, global_stripe: None) -> None:
    stripe.api_key = sb.mint_tokens()["access_token"]
    page = stripe.Customer.list(limit=3)
    assert page.last_response.request_id.startswith("req_")
    assert len(list(page.auto_paging_iter())) == 25
    assert stripe.Account.retrieve().id == sb.account_id


def test_expired_token_raises_authentication_error_with_code(
    sb: Sandbox, stripe_client: Callable[[str], stripe.StripeClient]
) -> None:
    token = sb.mint_tokens()["access_token"]
    client = stripe_client(token)
    client.v1.customers.list()
    sb.advance_clock(3601)
    with pytest.raises(stripe.AuthenticationError) as info:
        client.v1.customers.list()
    assert info.value.http_status == 401
    assert info.value.error is not None
    assert info.value.error.code == "api_key_expired"
    assert token not in str(info.value)


@pytest.mark.parametrize(
    ("key", "exception", "status"),
    [
        ("rk_test_EXAMPLEdoesnotexist000000", stripe.AuthenticationError, 401),
        ("charge_only", stripe.PermissionError, 403),
    ],
    ids=["unknown-key", "missing-permission"],
)
def test_errors_map_to_stripes_exceptions(
    sb: Sandbox,
    stripe_client: Callable[[str], stripe.StripeClient],
    charge_only_app: RegisteredApp,
    key: str,
    exception: type[stripe.StripeError],
    status: int,
) -> None:
    if key == "charge_only":
        key = sb.mint_tokens(app=charge_only_app)["access_token"]
    with pytest.raises(exception) as info:
        stripe_client(key).v1.customers.list()
    assert info.value.http_status == status
    if status == 403:
        assert "customer_read" in str(info.value.user_message)


@pytest.mark.parametrize(
    ("call", "exception", "code"),
    [
        ("missing", stripe.InvalidRequestError, "resource_missing"),
        ("bad_limit", stripe.InvalidRequestError, "parameter_invalid_integer"),
    ],
)
def test_invalid_requests_map_to_invalid_request_error(
    sb: Sandbox,
    stripe_client: Callable[[str], stripe.StripeClient],
    call: str,
    exception: type[stripe.StripeError],
    code: str,
) -> None:
    client = stripe_client(sb.mint_tokens()["access_token"])
    calls: dict[str, Callable[[], object]] = {
        "missing": lambda: client.v1.customers.retrieve("cus_missing"),
        "bad_limit": lambda: client.v1.customers.list(params={"limit": 1000}),
    }
    with pytest.raises(exception) as info:
        calls[call]()
    assert info.value.code == code


def test_rate_limit_fault_maps_to_rate_limit_error(
    sb: Sandbox, stripe_client: Callable[[str], stripe.StripeClient]
) -> None:
    client = stripe_client(sb.mint_tokens()["access_token"])
    sb.inject_fault("customers", "rate_limit", retry_after=2)
    with pytest.raises(stripe.RateLimitError) as info:
        client.v1.customers.list()
    assert info.value.headers is not None
    assert info.value.headers["Retry-After"] == "2"
    assert info.value.headers["Stripe-Should-Retry"] == "true"
    assert len(client.v1.customers.list().data) == 10


def test_stripe_retries_follow_should_retry(sb: Sandbox) -> None:
    client = stripe.StripeClient(
        api_key=sb.mint_tokens()["access_token"],
        base_addresses={"api": sb.api_base},
        max_network_retries=2,
    )
    sb.inject_fault("customers", "rate_limit", retry_after=0)
    assert len(client.v1.customers.list().data) == 10
    assert sb.stats()["requests"]["customers"] == 2


# --- Authlib (OAuth 2 client, client_secret_basic) -------------------------------------------


@pytest.fixture
def oauth(sb: Sandbox) -> Iterator[OAuth2Session]:
    session = OAuth2Session(
        client_id=sb.test.secret_key,
        client_secret="",
        token_endpoint_auth_method="client_secret_basic",
    )
    session.trust_env = False
    yield session
    session.close()


def test_authlib_fetch_and_refresh(
    sb: Sandbox, oauth: OAuth2Session, obtain_code: Callable[..., str]
) -> None:
    token_url = f"{sb.api_base}/v1/oauth/token"
    token: dict[str, Any] = dict(oauth.fetch_token(token_url, code=obtain_code()))
    assert token["access_token"].startswith("rk_test_")
    assert token["token_type"] == "bearer"
    assert "expires_in" not in token
    response = oauth.get(f"{sb.api_base}/v1/customers", params={"limit": 2}, timeout=5)
    assert response.status_code == 200
    assert len(response.json()["data"]) == 2

    refreshed: dict[str, Any] = dict(
        oauth.refresh_token(token_url, refresh_token=token["refresh_token"])
    )
    assert refreshed["refresh_token"] != token["refresh_token"]
    assert refreshed["access_token"] != token["access_token"]
    assert oauth.get(f"{sb.api_base}/v1/account", timeout=5).json()["id"] == sb.account_id
    assert sb.stats()["grants"] == {"authorization_code": 1, "refresh_token": 1}

    with pytest.raises(OAuthError) as info:
        oauth.refresh_token(token_url, refresh_token=token["refresh_token"])
    assert info.value.error == "invalid_grant"


def test_authlib_reused_code_is_invalid_grant(
    sb: Sandbox, oauth: OAuth2Session, obtain_code: Callable[..., str]
) -> None:
    token_url = f"{sb.api_base}/v1/oauth/token"
    code = obtain_code()
    oauth.fetch_token(token_url, code=code)
    with pytest.raises(OAuthError) as info:
        oauth.fetch_token(token_url, code=code)
    assert info.value.error == "invalid_grant"


# --- every resource through stripe-python --------------------------------------------------------

#: A resource and the fields to expand on its list (data.*) and retrieve.
EXPANSIONS = {
    "customers": [],
    "products": ["default_price"],
    "prices": ["product"],
    "subscriptions": ["customer", "latest_invoice"],
    "invoices": ["customer", "subscription"],
    "charges": ["customer", "balance_transaction", "payment_intent"],
    "payment_intents": ["customer", "latest_charge"],
    "refunds": ["charge", "balance_transaction"],
    "balance_transactions": ["source"],
    "payouts": ["balance_transaction"],
    "disputes": ["charge"],
    "events": [],
}


@pytest.fixture(scope="module")
def busy() -> Iterator[tuple[Sandbox, stripe.StripeClient]]:
    """A sandbox with some history, and a stripe client holding every read permission."""
    with Sandbox(customers=150, start=1_767_225_600, rate_limit=False) as sb:
        sb.simulate(5)
        token = sb.mint_tokens(app=read_all_app(sb))["access_token"]
        client = stripe.StripeClient(
            api_key=token, base_addresses={"api": sb.api_base}, max_network_retries=0
        )
        yield sb, client


@pytest.mark.slow
@pytest.mark.parametrize("resource", sorted(EXPANSIONS))
def test_stripe_auto_pages_every_resource_with_expand_and_created(
    busy: tuple[Sandbox, stripe.StripeClient], resource: str
) -> None:
    sb, client = busy
    service = getattr(client.v1, resource)
    fields = EXPANSIONS[resource]
    extra: dict[str, Any] = {"status": "all"} if resource == "subscriptions" else {}
    everything = list(service.list(params={"limit": 100, **extra}).auto_paging_iter())
    assert len(everything) == sb.counts()[resource]
    middle = everything[len(everything) // 2].created
    params: dict[str, Any] = {
        "limit": 7,
        "created": {"lte": middle},
        "expand": [f"data.{f}" for f in fields],
        **extra,
    }
    older = list(service.list(params=params).auto_paging_iter())
    assert [o.id for o in older] == [o.id for o in everything if o.created <= middle]
    for obj in older[:20]:
        for field in fields:
            value = obj[field]
            assert value is None or isinstance(value, stripe.StripeObject), (field, value)
    first = older[0]
    again = service.retrieve(first.id, params={"expand": fields} if fields else None)
    assert again.to_dict() == first.to_dict()


def test_stripe_reads_events_of_simulated_days(busy: tuple[Sandbox, stripe.StripeClient]) -> None:
    _, client = busy
    events = list(
        client.v1.events.list(params={"limit": 100, "types": ["invoice.paid"]}).auto_paging_iter()
    )
    assert events
    assert all(isinstance(e.data.object, stripe.Invoice) for e in events)
    assert all(e.data.object.status == "paid" for e in events)
