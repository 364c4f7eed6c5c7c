"""What every answer looks like on the wire: ``Request-Id``, ``Stripe-Version`` (validated and
echoed), ``request_log_url`` on errors, Stripe's 404s."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from _sandbox_helpers import read_all_app

from stripe_oauth_nb._http import httpx
from stripe_oauth_nb.sandbox import Sandbox
from stripe_oauth_nb.sandbox._versions import API_VERSION, KNOWN_VERSIONS, valid_version


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    with Sandbox(customers=10, rate_limit=False) as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def token(sb: Sandbox) -> str:
    """An app that may read customers only (so charges answer 403)."""
    return str(sb.mint_tokens(app=read_all_app(sb, ("customer_read",)))["access_token"])


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/v1/customers", 200),
        ("GET", "/v1/customers/cus_missing", 404),
        ("GET", "/v1/charges", 403),
        ("GET", "/v1/customers?limit=0", 400),
        ("GET", "/v1/nothing", 404),
        ("GET", "/v1/quotes", 404),
        ("POST", "/v1/oauth/token", 400),
    ],
)
def test_every_api_answer_has_a_request_id(
    sb: Sandbox, token: str, method: str, path: str, status: int
) -> None:
    key = sb.test.secret_key if "oauth" in path else token
    response = httpx.request(method, f"{sb.api_base}{path}", auth=(key, ""), trust_env=False)
    assert response.status_code == status
    request_id = response.headers["request-id"]
    assert request_id.startswith("req_")
    assert len(request_id) >= 18
    assert response.headers["stripe-version"] == API_VERSION
    error = response.json().get("error")
    if isinstance(error, dict) and status in (400, 403) and "oauth" not in path:
        assert error["request_log_url"] == f"https://dashboard.stripe.com/test/logs/{request_id}"


def test_live_errors_link_the_live_dashboard(sb: Sandbox) -> None:
    live = sb.mint_tokens("live")["access_token"]
    response = httpx.get(f"{sb.api_base}/v1/customers/cus_x", auth=(live, ""), trust_env=False)
    url = response.json()["error"]["request_log_url"]
    assert url == f"https://dashboard.stripe.com/logs/{response.headers['request-id']}"


@pytest.mark.parametrize(
    "version", ["2020-08-27", "2023-08-16", "2025-03-31.basil", API_VERSION, "2026-10-28.endive"]
)
def test_stripes_versions_are_accepted_and_echoed(sb: Sandbox, token: str, version: str) -> None:
    response = httpx.get(
        f"{sb.api_base}/v1/customers",
        headers={"Stripe-Version": version},
        auth=(token, ""),
        trust_env=False,
    )
    assert response.status_code == 200
    assert response.headers["stripe-version"] == version


@pytest.mark.parametrize(
    "version",
    ["2020-08-28", "2020-13-01", "latest", "", "2026-07-29.", "2026-02-30.dahlia", "x" * 300],
)
def test_unknown_versions_are_stripes_400(sb: Sandbox, token: str, version: str) -> None:
    response = httpx.get(
        f"{sb.api_base}/v1/customers",
        headers={"Stripe-Version": version},
        auth=(token, ""),
        trust_env=False,
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["message"].startswith(f"Invalid Stripe API version: {version[:60]}")


def test_the_version_list() -> None:
    assert API_VERSION in KNOWN_VERSIONS
    assert "2023-08-16" in KNOWN_VERSIONS
    assert valid_version("2027-01-27.falcon")  # later than the sandbox: well-formed, accepted
    assert not valid_version("2027-01-27")  # later releases carry a name
    assert not valid_version("2019-01-01")  # no such release


def test_the_consent_page_ignores_the_version_header(sb: Sandbox) -> None:
    response = httpx.get(
        f"{sb.marketplace_base}/oauth/v2/authorize",
        params={"client_id": sb.test.client_id},
        headers={"Stripe-Version": "nonsense"},
        trust_env=False,
    )
    assert response.status_code == 200


@pytest.mark.parametrize("path", ["/v1/customers/", "/v1/account/", "/v1/charges/ch_1/"])
def test_a_trailing_slash_is_404_not_a_redirect(sb: Sandbox, token: str, path: str) -> None:
    response = httpx.get(f"{sb.api_base}{path}", auth=(token, ""), trust_env=False)
    assert response.status_code == 404
    assert "location" not in response.headers
    assert response.json()["error"]["message"].startswith(f"Unrecognized request URL (GET: {path})")
