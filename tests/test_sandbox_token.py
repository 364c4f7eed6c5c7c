"""POST /v1/oauth/token: Stripe's rules for codes, access tokens and rotating refresh tokens."""

from __future__ import annotations

import base64
import threading
from collections.abc import Callable
from typing import Any

import pytest
from _sandbox_helpers import token_request

from stripe_oauth_nb._http import httpx
from stripe_oauth_nb.sandbox import RegisteredApp, Sandbox

HOUR = 3600
YEAR = 365 * 24 * 3600
RESPONSE_FIELDS = {
    "access_token",
    "livemode",
    "refresh_token",
    "scope",
    "stripe_publishable_key",
    "stripe_user_id",
    "token_type",
}


@pytest.fixture(scope="module")
def live_app(sandbox: Sandbox) -> RegisteredApp:
    return sandbox.register_app(
        {
            "id": "com.example.live-token",
            "name": "Live Token App",
            "permissions": [{"permission": "customer_read", "purpose": "p"}],
            "allowed_redirect_uris": ["https://example.com/callback"],
        }
    )


def key_of(sb: Sandbox, mode: str) -> str:
    return sb.test.secret_key if mode == "test" else sb.live.secret_key


def api_status(c: httpx.Client, token: str) -> tuple[int, dict[str, Any]]:
    response = c.get("/v1/account", headers={"Authorization": f"Bearer {token}"})
    return response.status_code, response.json()


@pytest.mark.parametrize("mode", ["test", "live"])
def test_exchange_answers_exactly_stripes_fields(
    sb: Sandbox,
    client: httpx.Client,
    obtain_code: Callable[..., str],
    live_app: RegisteredApp,
    mode: str,
) -> None:
    code = obtain_code(mode, live_app if mode == "live" else None)
    status, body, response = token_request(
        client, key_of(sb, mode), grant_type="authorization_code", code=code
    )
    assert status == 200
    assert set(body) == RESPONSE_FIELDS  # no expires_in
    assert body["access_token"].startswith(f"rk_{mode}_")
    assert len(body["access_token"]) - len(f"rk_{mode}_") >= 24
    assert body["refresh_token"].startswith("rt_")
    assert body["stripe_publishable_key"].startswith(f"pk_{mode}_")
    assert body["stripe_user_id"] == sb.account_id
    assert body["livemode"] is (mode == "live")
    assert body["scope"] == "stripe_apps"
    assert body["token_type"] == "bearer"
    assert response.headers["request-id"].startswith("req_")
    assert "no-store" in response.headers["cache-control"]


def test_developer_keys_look_like_stripes(sb: Sandbox) -> None:
    for mode, keys in (("test", sb.test), ("live", sb.live)):
        assert keys.secret_key.startswith(f"sk_{mode}_")
        assert len(keys.secret_key) - len(f"sk_{mode}_") >= 24
        assert keys.client_id.startswith("ca_")
        assert keys.secret_key not in repr(keys)
    assert sb.test.client_id != sb.live.client_id
    assert sb.account_id.startswith("acct_")


@pytest.mark.parametrize(
    ("auth", "message"),
    [
        (None, "You did not provide an API key"),
        ("sk_test_notarealkey0000000000000000", "Invalid API Key provided: sk_test_****0000"),
        ("rk_test_abcdefghijklmnopqrstuvwxyz", "Invalid API Key provided: rk_test_****wxyz"),
        ("pk_test_abcdefghijklmnopqrstuvwxyz", "Invalid API Key provided: pk_test_****wxyz"),
        ("garbage", "Invalid API Key provided"),
    ],
    ids=["missing", "unknown-sk", "restricted", "publishable", "garbage"],
)
def test_bad_key_is_a_401_in_stripes_api_error_shape(
    sb: Sandbox,
    client: httpx.Client,
    obtain_code: Callable[..., str],
    auth: str | None,
    message: str,
) -> None:
    code = obtain_code()
    status, body, _ = token_request(client, auth, grant_type="authorization_code", code=code)
    assert status == 401
    assert body["error"]["type"] == "invalid_request_error"
    assert body["error"]["message"].startswith(message)
    # the refused request did not use up the code
    status, _, _ = token_request(
        client, sb.test.secret_key, grant_type="authorization_code", code=code
    )
    assert status == 200


def test_access_token_is_not_accepted_by_the_token_endpoint(
    client: httpx.Client, exchange: Callable[..., dict[str, Any]]
) -> None:
    tokens = exchange()
    status, body, _ = token_request(
        client,
        tokens["access_token"],
        grant_type="refresh_token",
        refresh_token=tokens["refresh_token"],
    )
    assert status == 401
    assert tokens["access_token"] not in body["error"]["message"]


@pytest.mark.parametrize(
    ("code_mode", "key_mode"), [("test", "live"), ("live", "test")], ids=["test-code", "live-code"]
)
def test_valid_key_of_the_other_mode_is_invalid_grant(
    sb: Sandbox,
    client: httpx.Client,
    obtain_code: Callable[..., str],
    live_app: RegisteredApp,
    code_mode: str,
    key_mode: str,
) -> None:
    """Documented choice: a real developer key of the wrong mode gets 400 invalid_grant."""
    code = obtain_code(code_mode, live_app if code_mode == "live" else None)
    status, body, _ = token_request(
        client, key_of(sb, key_mode), grant_type="authorization_code", code=code
    )
    assert status == 400
    assert body["error"] == "invalid_grant"
    assert f"sk_{code_mode}_" in body["error_description"]
    status, tokens, _ = token_request(
        client, key_of(sb, code_mode), grant_type="authorization_code", code=code
    )
    assert status == 200
    status, body, _ = token_request(
        client,
        key_of(sb, key_mode),
        grant_type="refresh_token",
        refresh_token=tokens["refresh_token"],
    )
    assert (status, body["error"]) == (400, "invalid_grant")


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({}, "invalid_request"),
        ({"grant_type": ""}, "invalid_request"),
        ({"grant_type": "authorization_code"}, "invalid_request"),
        ({"grant_type": "authorization_code", "code": ""}, "invalid_request"),
        ({"grant_type": "refresh_token"}, "invalid_request"),
        ({"grant_type": "client_credentials"}, "unsupported_grant_type"),
        ({"grant_type": "password", "username": "u"}, "unsupported_grant_type"),
        ({"grant_type": "authorization_code", "code": "ac_EXAMPLEunknown00000"}, "invalid_grant"),
        ({"grant_type": "refresh_token", "refresh_token": "rt_unknown0000000000"}, "invalid_grant"),
    ],
    ids=[
        "nothing",
        "empty-grant",
        "no-code",
        "empty-code",
        "no-refresh",
        "client-credentials",
        "password",
        "unknown-code",
        "unknown-refresh",
    ],
)
def test_oauth_errors(
    sb: Sandbox, client: httpx.Client, fields: dict[str, str], error: str
) -> None:
    status, body, response = token_request(client, sb.test.secret_key, **fields)
    assert status == 400
    assert set(body) == {"error", "error_description"}
    assert body["error"] == error
    assert response.headers["request-id"].startswith("req_")


def test_repeated_form_field_is_invalid_request(sb: Sandbox, client: httpx.Client) -> None:
    response = client.post(
        "/v1/oauth/token",
        content=b"grant_type=authorization_code&code=ac_a&code=ac_b",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        auth=(sb.test.secret_key, ""),
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


@pytest.mark.parametrize(("age", "ok"), [(0, True), (299, True), (301, False), (3600, False)])
def test_code_is_valid_five_minutes(
    sb: Sandbox, client: httpx.Client, obtain_code: Callable[..., str], age: int, ok: bool
) -> None:
    code = obtain_code()
    sb.advance_clock(age)
    status, body, _ = token_request(
        client, sb.test.secret_key, grant_type="authorization_code", code=code
    )
    assert (status == 200) is ok
    if not ok:
        assert body["error"] == "invalid_grant"
        assert "expired" in body["error_description"]


def test_reused_code_fails_and_revokes_every_token_from_it(
    sb: Sandbox, client: httpx.Client, obtain_code: Callable[..., str]
) -> None:
    code = obtain_code()
    key = sb.test.secret_key
    _, first, _ = token_request(client, key, grant_type="authorization_code", code=code)
    _, rotated, _ = token_request(
        client, key, grant_type="refresh_token", refresh_token=first["refresh_token"]
    )
    assert api_status(client, rotated["access_token"])[0] == 200
    status, body, _ = token_request(client, key, grant_type="authorization_code", code=code)
    assert (status, body["error"]) == (400, "invalid_grant")
    assert "already been used" in body["error_description"]
    for token in (first["access_token"], rotated["access_token"]):
        status, err = api_status(client, token)
        assert status == 401
        assert err["error"]["message"].startswith("Invalid API Key provided: rk_test_****")
    status, body, _ = token_request(
        client, key, grant_type="refresh_token", refresh_token=rotated["refresh_token"]
    )
    assert (status, body["error"]) == (400, "invalid_grant")


def test_other_installs_survive_a_reused_code(
    sb: Sandbox, client: httpx.Client, obtain_code: Callable[..., str]
) -> None:
    key = sb.test.secret_key
    bystander = token_request(client, key, grant_type="authorization_code", code=obtain_code())[1]
    code = obtain_code()
    token_request(client, key, grant_type="authorization_code", code=code)
    token_request(client, key, grant_type="authorization_code", code=code)
    assert api_status(client, bystander["access_token"])[0] == 200


@pytest.mark.parametrize(
    ("age", "status", "code"),
    [(0, 200, None), (HOUR - 1, 200, None), (HOUR + 1, 401, "api_key_expired")],
)
def test_access_token_lives_one_hour(
    sb: Sandbox,
    client: httpx.Client,
    exchange: Callable[..., dict[str, Any]],
    age: int,
    status: int,
    code: str | None,
) -> None:
    tokens = exchange()
    sb.advance_clock(age)
    got, body = api_status(client, tokens["access_token"])
    assert got == status
    if code:
        assert body["error"]["code"] == code
        assert body["error"]["message"].startswith("Expired API Key provided: rk_test_****")
        assert tokens["access_token"] not in body["error"]["message"]


def test_refresh_rotates_and_the_old_token_dies_at_once(
    sb: Sandbox, client: httpx.Client, exchange: Callable[..., dict[str, Any]]
) -> None:
    key = sb.test.secret_key
    first = exchange()
    status, second, _ = token_request(
        client, key, grant_type="refresh_token", refresh_token=first["refresh_token"]
    )
    assert status == 200
    assert set(second) == RESPONSE_FIELDS
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    assert second["stripe_user_id"] == first["stripe_user_id"]
    status, body, _ = token_request(
        client, key, grant_type="refresh_token", refresh_token=first["refresh_token"]
    )
    assert (status, body["error"]) == (400, "invalid_grant")
    assert "already been used" in body["error_description"]
    # replaying the old token does not revoke the new pair
    status, third, _ = token_request(
        client, key, grant_type="refresh_token", refresh_token=second["refresh_token"]
    )
    assert status == 200
    assert api_status(client, third["access_token"])[0] == 200


@pytest.mark.parametrize(("age", "ok"), [(YEAR - 60, True), (YEAR + 60, False)])
def test_refresh_token_lives_one_year_from_issue(
    sb: Sandbox, client: httpx.Client, exchange: Callable[..., dict[str, Any]], age: int, ok: bool
) -> None:
    tokens = exchange()
    sb.advance_clock(age)
    status, body, _ = token_request(
        client,
        sb.test.secret_key,
        grant_type="refresh_token",
        refresh_token=tokens["refresh_token"],
    )
    assert (status == 200) is ok
    if ok:  # the rotated token lives another full year
        sb.advance_clock(YEAR - 60)
        status, _, _ = token_request(
            client,
            sb.test.secret_key,
            grant_type="refresh_token",
            refresh_token=body["refresh_token"],
        )
        assert status == 200
    else:
        assert body["error"] == "invalid_grant"


def test_old_access_token_keeps_working_until_it_expires(
    sb: Sandbox, client: httpx.Client, exchange: Callable[..., dict[str, Any]]
) -> None:
    first = exchange()
    token_request(
        client, sb.test.secret_key, grant_type="refresh_token", refresh_token=first["refresh_token"]
    )
    assert api_status(client, first["access_token"])[0] == 200


def test_bearer_developer_key_also_works_on_the_token_endpoint(
    sb: Sandbox, client: httpx.Client, obtain_code: Callable[..., str]
) -> None:
    response = client.post(
        "/v1/oauth/token",
        data={"grant_type": "authorization_code", "code": obtain_code()},
        headers={"Authorization": f"Bearer {sb.test.secret_key}"},
    )
    assert response.status_code == 200


def test_malformed_basic_auth_is_401(sb: Sandbox, client: httpx.Client) -> None:
    response = client.post(
        "/v1/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": "rt_x"},
        headers={"Authorization": "Basic !!!notbase64"},
    )
    assert response.status_code == 401
    encoded = base64.b64encode(b":").decode()
    response = client.post(
        "/v1/oauth/token", data={"grant_type": "x"}, headers={"Authorization": f"Basic {encoded}"}
    )
    assert response.status_code == 401


@pytest.mark.parametrize("threads", [8])
def test_concurrent_refreshes_rotate_exactly_once(
    sb: Sandbox, exchange: Callable[..., dict[str, Any]], threads: int
) -> None:
    tokens = exchange()
    barrier = threading.Barrier(threads)
    results: list[int] = []
    lock = threading.Lock()

    def refresh() -> None:
        with httpx.Client(base_url=sb.api_base, trust_env=False, timeout=10) as c:
            barrier.wait()
            status, _, _ = token_request(
                c,
                sb.test.secret_key,
                grant_type="refresh_token",
                refresh_token=tokens["refresh_token"],
            )
        with lock:
            results.append(status)

    workers = [threading.Thread(target=refresh) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(10)
    assert sorted(results) == [200] + [400] * (threads - 1)
    assert sb.stats()["issued"]["refresh_token"] == 1


def test_concurrent_in_process_refreshes_rotate_exactly_once(sb: Sandbox) -> None:
    tokens = sb.mint_tokens()
    outcomes: list[str] = []
    barrier = threading.Barrier(8)

    def refresh() -> None:
        barrier.wait()
        try:
            sb.state.refresh(sb.test.secret_key, tokens["refresh_token"])
            outcomes.append("ok")
        except Exception as exc:
            outcomes.append(type(exc).__name__)

    workers = [threading.Thread(target=refresh) for _ in range(8)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(10)
    assert sorted(outcomes) == ["OAuthFailure"] * 7 + ["ok"]
