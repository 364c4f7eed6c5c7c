"""Controls (clock, faults, reset, apps, stats), in-process and over /_sandbox/, and lifecycle."""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from _sandbox_helpers import token_request

from stripe_oauth_nb._errors import SandboxError
from stripe_oauth_nb._http import httpx
from stripe_oauth_nb._settings import DEFAULT_REDIRECT_URI, Settings, default_token_store_path
from stripe_oauth_nb.sandbox import Sandbox


def refresh(c: httpx.Client, sb: Sandbox, token: str) -> httpx.Response:
    return c.post(
        "/v1/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": token},
        auth=(sb.test.secret_key, ""),
    )


# --- faults -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("endpoint", "path"),
    [("account", "/v1/account"), ("customers", "/v1/customers"), ("*", "/v1/customers/cus_x")],
)
@pytest.mark.parametrize("status", [500, 503])
def test_error_fault_answers_5xx_in_stripes_shape(
    sb: Sandbox, client: httpx.Client, endpoint: Any, path: str, status: int
) -> None:
    token = sb.mint_tokens()["access_token"]
    sb.inject_fault(endpoint, "error", status=status)
    response = client.get(path, auth=(token, ""))
    assert response.status_code == status
    assert response.json()["error"]["type"] == "api_error"
    assert response.headers["request-id"].startswith("req_")
    assert client.get("/v1/account", auth=(token, "")).status_code == 200  # times=1 used up


def test_rate_limit_fault(sb: Sandbox, client: httpx.Client) -> None:
    sb.inject_fault("token", "rate_limit", retry_after=7)
    response = refresh(client, sb, "rt_whatever")
    assert response.status_code == 429
    assert response.headers["retry-after"] == "7"
    assert response.headers["stripe-should-retry"] == "true"
    assert response.json()["error"]["code"] == "rate_limit"
    assert sb.stats()["grants"]["refresh_token"] == 0  # refused before processing


@pytest.mark.parametrize("seconds", [0.3])
def test_delay_fault_delays_then_answers(sb: Sandbox, client: httpx.Client, seconds: float) -> None:
    token = sb.mint_tokens()["access_token"]
    sb.inject_fault("account", "delay", seconds=seconds)
    started = time.perf_counter()
    response = client.get("/v1/account", auth=(token, ""))
    assert response.status_code == 200
    assert time.perf_counter() - started >= seconds
    sb.inject_fault("account", "delay", seconds=1.0)
    with pytest.raises(httpx.ReadTimeout):
        client.get("/v1/account", auth=(token, ""), timeout=0.2)


def test_drop_fault_loses_the_answer_after_rotating(sb: Sandbox, client: httpx.Client) -> None:
    """The "lost response" of a refresh: the server rotated, the client saw nothing usable."""
    tokens = sb.mint_tokens()
    sb.inject_fault("token", "drop")
    with pytest.raises(httpx.RemoteProtocolError):
        refresh(client, sb, tokens["refresh_token"])
    assert sb.stats()["issued"]["refresh_token"] == 1
    retry = refresh(client, sb, tokens["refresh_token"])
    assert retry.status_code == 400
    assert retry.json()["error"] == "invalid_grant"


def test_drop_fault_on_the_api(sb: Sandbox, client: httpx.Client) -> None:
    token = sb.mint_tokens()["access_token"]
    sb.inject_fault("customers", "drop", times=2)
    for _ in range(2):
        with pytest.raises(httpx.RemoteProtocolError):
            client.get("/v1/customers", auth=(token, ""))
    assert client.get("/v1/customers", auth=(token, "")).status_code == 200


@pytest.mark.parametrize("times", [1, 3])
def test_fault_applies_times_then_stops(sb: Sandbox, client: httpx.Client, times: int) -> None:
    token = sb.mint_tokens()["access_token"]
    sb.inject_fault("customers", "error", times=times)
    statuses = [client.get("/v1/customers", auth=(token, "")).status_code for _ in range(times + 2)]
    assert statuses == [500] * times + [200, 200]


def test_star_fault_spares_the_consent_page(
    sb: Sandbox, client: httpx.Client, install_url: Callable[..., str]
) -> None:
    sb.inject_fault("*", "error")
    assert client.get(install_url()).status_code == 200
    assert refresh(client, sb, "rt_x").status_code == 500


def test_authorize_fault(sb: Sandbox, install_url: Callable[..., str]) -> None:
    sb.inject_fault("authorize", "error", status=502)
    with pytest.raises(SandboxError, match="502"):
        sb.approve(install_url(), follow=False)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"endpoint": "quotes", "kind": "error"}, "endpoint"),
        ({"endpoint": "token", "kind": "explode"}, "kind"),
        ({"endpoint": "token", "kind": "error", "times": 0}, "times"),
        ({"endpoint": "token", "kind": "error", "status": 404}, "5xx"),
        ({"endpoint": "token", "kind": "delay", "seconds": -1}, "delay"),
        ({"endpoint": "token", "kind": "delay", "seconds": 3600}, "delay"),
        ({"endpoint": "token", "kind": "rate_limit", "retry_after": -1}, "retry_after"),
    ],
)
def test_bad_faults_are_refused(sb: Sandbox, kwargs: dict[str, Any], match: str) -> None:
    endpoint, kind = kwargs.pop("endpoint"), kwargs.pop("kind")
    with pytest.raises(SandboxError, match=match):
        sb.inject_fault(endpoint, kind, **kwargs)
    assert sb.state.faults() == []


# --- clock, stats, reset ----------------------------------------------------------------------


def test_clock_moves_forward_only(sb: Sandbox) -> None:
    before = sb.now()
    assert sb.advance_clock(100) >= before + 100
    with pytest.raises(SandboxError):
        sb.advance_clock(-1)
    with pytest.raises(SandboxError):
        sb.advance_clock(float("nan"))


def test_stats_count_endpoints_and_grants(
    sb: Sandbox, client: httpx.Client, obtain_code: Callable[..., str]
) -> None:
    code = obtain_code()
    token_request(client, sb.test.secret_key, grant_type="authorization_code", code=code)
    token_request(client, sb.test.secret_key, grant_type="authorization_code", code=code)
    token_request(client, sb.test.secret_key, grant_type="refresh_token", refresh_token="rt_x")
    token_request(client, sb.test.secret_key, grant_type="bogus")
    client.get("/v1/nowhere")
    stats = sb.stats()
    assert stats["requests"] == {"authorize": 2, "token": 4, "not_found": 1}
    assert stats["grants"] == {"authorization_code": 2, "refresh_token": 1, "other": 1}
    assert stats["issued"] == {"authorization_code": 1, "refresh_token": 0}


def test_reset_forgets_tokens_but_keeps_keys_and_apps(sb: Sandbox, client: httpx.Client) -> None:
    token = sb.mint_tokens()["access_token"]
    key, client_id = sb.test.secret_key, sb.test.client_id
    sb.advance_clock(10)
    sb.inject_fault("token", "error")
    sb.reset()
    assert client.get("/v1/account", auth=(token, "")).status_code == 401
    assert sb.stats()["requests"] == {"account": 1}
    assert sb.state.faults() == []
    assert abs(sb.now() - time.time()) < 1
    assert (sb.test.secret_key, sb.test.client_id) == (key, client_id)


# --- the same controls over HTTP --------------------------------------------------------------


def test_http_controls(sb: Sandbox, client: httpx.Client) -> None:
    now = client.get("/_sandbox/clock").json()["now"]
    moved = client.post("/_sandbox/clock", json={"seconds": 3600}).json()["now"]
    assert moved >= now + 3600
    fault = {"endpoint": "customers", "kind": "error", "times": 2, "status": 503}
    listed = client.post("/_sandbox/faults", json=fault).json()["faults"]
    assert listed == [{**fault, "seconds": 0.0, "retry_after": 1}]
    assert client.get("/_sandbox/faults").json()["faults"] == listed
    token = sb.mint_tokens()["access_token"]
    assert client.get("/v1/customers", auth=(token, "")).status_code == 503
    stats = client.get("/_sandbox/stats").json()
    assert stats["requests"] == {"customers": 1}
    assert set(stats["grants"]) >= {"authorization_code", "refresh_token"}
    assert client.post("/_sandbox/reset").json() == {"reset": True}
    assert client.get("/_sandbox/faults").json()["faults"] == []
    assert client.get("/_sandbox/stats").json()["requests"] == {}


def test_http_app_registration(sb: Sandbox, client: httpx.Client) -> None:
    manifest = {
        "id": "com.example.http-upload",
        "name": "Uploaded Over HTTP",
        "permissions": [{"permission": "customer_read", "purpose": "p"}],
        "allowed_redirect_uris": ["http://127.0.0.1:9999/cb"],
    }
    app = client.post("/_sandbox/apps", json=manifest).json()
    assert app["client_ids"]["test"].startswith("ca_")
    assert app["client_ids"]["test"] != app["client_ids"]["live"]
    assert app["redirect_uris"] == ["http://127.0.0.1:9999/cb"]
    assert app["permissions"] == ["customer_read"]
    names = [a["name"] for a in client.get("/_sandbox/apps").json()["apps"]]
    assert "Sandbox Demo App" in names
    assert "Uploaded Over HTTP" in names


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/_sandbox/clock", {"seconds": -5}),
        ("/_sandbox/faults", {"endpoint": "token"}),
        ("/_sandbox/faults", {"endpoint": "token", "kind": "error", "colour": "red"}),
        ("/_sandbox/apps", {"name": "No Redirects"}),
        ("/_sandbox/apps", [1, 2]),
    ],
)
def test_http_controls_refuse_bad_input(
    client: httpx.Client, path: str, body: dict[str, Any] | list[int]
) -> None:
    response = client.post(path, json=body)
    assert response.status_code == 400
    assert response.json()["error"]["message"]


def test_http_control_body_must_be_json(client: httpx.Client) -> None:
    response = client.post("/_sandbox/clock", content=b"seconds=5")
    assert response.status_code == 400


def test_unknown_control_is_404(client: httpx.Client) -> None:
    assert client.get("/_sandbox/nope").status_code == 404
    assert client.get("/_sandbox/reset").status_code == 404


# --- apps -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("manifest", "match"),
    [
        ({"name": "x"}, "allowed_redirect_uris"),
        ({"name": "x", "allowed_redirect_uris": []}, "allowed_redirect_uris"),
        ({"name": "x", "allowed_redirect_uris": ["https://example.com"]}, "with a path"),
        ({"name": "x", "allowed_redirect_uris": ["ftp://example.com/cb"]}, "http"),
        ({"name": "", "allowed_redirect_uris": ["https://e.com/cb"]}, "name"),
        (
            {"name": "x", "allowed_redirect_uris": ["https://e.com/cb"], "permissions": [1]},
            "permission",
        ),
        (
            {
                "name": "x",
                "allowed_redirect_uris": ["https://e.com/cb"],
                "stripe_api_access_type": "platform",
            },
            "oauth",
        ),
    ],
)
def test_register_app_refuses_unusable_manifests(
    sb: Sandbox, manifest: dict[str, Any], match: str
) -> None:
    with pytest.raises(SandboxError, match=match):
        sb.register_app(manifest)


def test_demo_app(sb: Sandbox) -> None:
    app = sb.demo_app
    assert app.name == "Sandbox Demo App"
    assert "customer_read" in app.permissions
    assert app.redirect_uris == (
        "http://127.0.0.1:8765/callback",
        "http://localhost:8765/callback",
    )
    assert all(cid.startswith("ca_") for cid in app.client_ids.values())


def test_demo_app_redirect_uris_are_configurable() -> None:
    sb = Sandbox(customers=0, redirect_uris=["http://127.0.0.1:9000/cb"])
    assert sb.demo_app.redirect_uris == ("http://127.0.0.1:9000/cb",)


# --- settings ---------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["test", "live"])
def test_settings_point_here(sb: Sandbox, mode: Any) -> None:
    settings = sb.settings(mode=mode)
    assert isinstance(settings, Settings)
    assert settings.target == "sandbox"
    assert settings.mode == mode
    assert settings.api_base == settings.marketplace_base == sb.api_base
    assert settings.test.secret_key is not None
    assert settings.test.secret_key.reveal() == sb.test.secret_key
    assert settings.live.secret_key is not None
    assert settings.live.secret_key.reveal() == sb.live.secret_key
    assert settings.test.client_id == sb.test.client_id
    assert settings.live.client_id == sb.live.client_id
    assert settings.redirect_uri == DEFAULT_REDIRECT_URI
    # Sandbox tokens stay in the sandbox's own folder, never in the user's real store.
    assert settings.token_store_path == sb.store_dir / "tokens.json"
    assert settings.token_store_path != default_token_store_path()
    assert sb.test.secret_key not in repr(settings)


def test_settings_for_another_app_and_redirect(sb: Sandbox, tmp_path: Path) -> None:
    app = sb.register_app(
        {"id": "com.example.settings", "name": "S", "allowed_redirect_uris": ["https://s.test/cb"]}
    )
    settings = sb.settings(
        "live", app, redirect_uri="https://s.test/cb", token_store_path=tmp_path / "t.json"
    )
    assert settings.live.client_id == app.client_id("live")
    assert settings.redirect_uri == "https://s.test/cb"
    assert settings.token_store_path == tmp_path / "t.json"
    assert sb.settings(app=app).redirect_uri == "https://s.test/cb"


def test_tmp_settings_fixture(tmp_settings: Settings, tmp_path: Path) -> None:
    assert tmp_settings.target == "sandbox"
    assert tmp_settings.token_store_path.parent == tmp_path


# --- lifecycle --------------------------------------------------------------------------------


def port_is_free(port: int) -> bool:
    """Bindable by a new server (SO_REUSEADDR, as servers do: closed keep-alive connections
    may sit in TIME_WAIT on the server side)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def test_start_and_stop_are_fast_and_free_the_port() -> None:
    started = time.perf_counter()
    sb = Sandbox(customers=25).start()
    assert time.perf_counter() - started < 1.0
    port = sb.port
    assert sb.api_base == f"http://127.0.0.1:{port}"
    with httpx.Client(base_url=sb.api_base, trust_env=False) as c:
        assert c.get("/_sandbox/stats").status_code == 200  # keep-alive connection stays open
        stopping = time.perf_counter()
        sb.stop()
        assert time.perf_counter() - stopping < 1.0
    assert not sb.running
    assert port_is_free(port)
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/_sandbox/stats", trust_env=False)


def test_a_taken_port_is_a_clear_error() -> None:
    with Sandbox(customers=0) as first, pytest.raises(SandboxError, match="cannot listen"):
        Sandbox(customers=0, port=first.port).start()


def test_fixed_port_and_restart() -> None:
    with Sandbox(customers=0) as sb:
        port = sb.port
    with Sandbox(customers=0, port=port) as again:
        assert again.port == port
        assert httpx.get(f"{again.api_base}/_sandbox/stats", trust_env=False).status_code == 200


def test_base_urls_need_a_started_sandbox() -> None:
    sb = Sandbox(customers=0)
    with pytest.raises(SandboxError, match="not started"):
        _ = sb.api_base
    assert "not started" in repr(sb)


def test_reprs_mask_keys(sandbox: Sandbox) -> None:
    for text in (repr(sandbox), repr(sandbox.test), str(sandbox.live), repr(sandbox.demo_app)):
        assert sandbox.test.secret_key not in text
        assert sandbox.live.secret_key not in text


# --- logs -------------------------------------------------------------------------------------


def test_logs_hold_no_secrets_and_no_query_strings(
    sb: Sandbox, client: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    tokens = sb.mint_tokens()
    with caplog.at_level(logging.DEBUG):
        with httpx.Client(base_url=sb.api_base, trust_env=False) as fresh:  # new connection
            fresh.get("/v1/customers", params={"leak": tokens["access_token"]})
            fresh.get("/v1/account", auth=(tokens["access_token"], ""))
        sb.inject_fault("token", "drop")
        with pytest.raises(httpx.RemoteProtocolError):
            refresh(client, sb, tokens["refresh_token"])
        time.sleep(0.05)
    # the server's records only (httpx's own INFO line shows the client's full URL)
    text = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("uvicorn"))
    assert '"GET /v1/customers HTTP/1.1" 401' in text  # the access log was on, query stripped
    for secret in (tokens["access_token"], tokens["refresh_token"], sb.test.secret_key):
        assert secret not in text
    assert "without completing response" not in text  # the deliberate drop is not an error
