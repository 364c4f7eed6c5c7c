"""The consent page (marketplace.stripe.com/oauth/v2/…/authorize), over real HTTP."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stripe_oauth_nb._errors import SandboxError
from stripe_oauth_nb._http import httpx
from stripe_oauth_nb.sandbox import RegisteredApp, Sandbox

LIVE_MANIFEST: dict[str, Any] = {
    "id": "com.example.live-consent",
    "name": "Live <Consent> & Co",
    "permissions": [{"permission": "customer_read", "purpose": "Read <b>customers</b>"}],
    "allowed_redirect_uris": ["https://example.com/callback", "http://example.com/callback"],
    "stripe_api_access_type": "oauth",
}


@pytest.fixture(scope="module")
def live_app(sandbox: Sandbox) -> RegisteredApp:
    return sandbox.register_app(LIVE_MANIFEST)


def query(location: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(location).query, keep_blank_values=True)


def form_fields(html: str) -> dict[str, str]:
    """Hidden fields of the consent form, via the same parser a script would use."""
    from stripe_oauth_nb.sandbox._browser import _ConsentForm

    parser = _ConsentForm()
    parser.feed(html)
    return parser.fields


@pytest.mark.parametrize(
    "path",
    ["/oauth/v2/authorize", "/oauth/v2/chnlink_Ab12Cd34/authorize"],
    ids=["plain", "chnlink"],
)
def test_page_shows_app_mode_permissions_and_one_form(
    sb: Sandbox, client: httpx.Client, install_url: Callable[..., str], path: str
) -> None:
    response = client.get(install_url(path=path))
    assert response.status_code == 200
    html = response.text
    assert "Sandbox Demo App" in html
    assert "test mode" in html
    assert "customer_read" in html
    assert html.count("<form") == 1
    assert 'name="decision" value="accept" id="sandbox-accept"' in html
    assert 'name="decision" value="deny" id="sandbox-decline"' in html
    assert 'class="sandbox-accept"' in html
    assert 'class="sandbox-decline"' in html
    assert "<script" not in html
    assert f'action="{path}"' in html
    assert response.headers["cache-control"] == "no-store"
    assert form_fields(html)["redirect_uri"] == sb.demo_app.redirect_uris[0]


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"client_id": "ca_doesnotexist000000000000"}, "No app has the client id"),
        ({"client_id": ""}, "no client_id"),
        ({"redirect_uri": "http://127.0.0.1:8766/callback"}, "not one of the app"),
        ({"redirect_uri": "http://127.0.0.1:8765/callback/"}, "not one of the app"),
        ({"redirect_uri": "http://127.0.0.1:8765/Callback"}, "not one of the app"),
        ({"redirect_uri": "https://127.0.0.1:8765/callback"}, "not one of the app"),
        ({"redirect_uri": "http://evil.example/callback"}, "not one of the app"),
    ],
    ids=["unknown-client", "empty-client", "other-port", "slash", "case", "scheme", "host"],
)
def test_bad_links_get_an_error_page_and_no_redirect(
    sb: Sandbox, client: httpx.Client, change: dict[str, str], needle: str
) -> None:
    params = {"client_id": sb.test.client_id, "state": "s1", **change}
    response = client.get(f"/oauth/v2/authorize?{urlencode(params)}")
    assert response.status_code == 400
    assert "location" not in response.headers
    assert needle in response.text
    assert "<form" not in response.text
    assert response.headers["cache-control"] == "no-store"


def test_repeated_parameter_is_refused(sb: Sandbox, client: httpx.Client) -> None:
    cid = sb.test.client_id
    response = client.get(f"/oauth/v2/authorize?client_id={cid}&state=a&state=b")
    assert response.status_code == 400
    assert "repeats" in response.text


@pytest.mark.parametrize("link", ["chnlink_", "notalink", "chnlink_a-b"])
def test_bad_channel_segment_is_not_found(sb: Sandbox, client: httpx.Client, link: str) -> None:
    response = client.get(f"/oauth/v2/{link}/authorize?client_id={sb.test.client_id}")
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("redirect_uri", "status"),
    [("http://example.com/callback", 400), ("https://example.com/callback", 200), (None, 200)],
    ids=["live-http", "live-https", "live-default-https"],
)
def test_live_mode_needs_https(
    sb: Sandbox,
    client: httpx.Client,
    install_url: Callable[..., str],
    live_app: RegisteredApp,
    redirect_uri: str | None,
    status: int,
) -> None:
    response = client.get(install_url("live", app=live_app, redirect_uri=redirect_uri))
    assert response.status_code == status
    if status == 400:
        assert "https://" in response.text
    else:
        assert "live mode" in response.text


def test_demo_app_live_link_with_http_default_is_refused(
    client: httpx.Client, install_url: Callable[..., str]
) -> None:
    response = client.get(install_url("live"))
    assert response.status_code == 400
    assert "location" not in response.headers


def test_everything_is_escaped(
    client: httpx.Client, install_url: Callable[..., str], live_app: RegisteredApp
) -> None:
    evil_state = '"><script>alert(1)</script>'
    response = client.get(install_url("live", app=live_app, state=evil_state))
    html = response.text
    assert "<script>" not in html
    assert "<b>" not in html
    assert "Live &lt;Consent&gt; &amp; Co" in html
    assert form_fields(html)["state"] == evil_state  # escaped in HTML, intact when parsed


@pytest.mark.parametrize(
    ("decision", "expected"),
    [
        ("accept", {"code", "state"}),
        ("deny", {"error", "error_description", "state"}),
    ],
)
def test_decision_redirects(
    sb: Sandbox,
    client: httpx.Client,
    install_url: Callable[..., str],
    decision: str,
    expected: set[str],
) -> None:
    page = client.get(install_url(state="xyz"))
    fields = {**form_fields(page.text), "decision": decision}
    response = client.post("/oauth/v2/authorize", data=fields)
    assert response.status_code == 302
    location = response.headers["location"]
    assert location.startswith(sb.demo_app.redirect_uris[0] + "?")
    params = query(location)
    assert set(params) == expected
    assert params["state"] == ["xyz"]
    if decision == "accept":
        assert params["code"][0].startswith("ac_")
        assert len(params["code"][0]) >= 27
    else:
        assert params["error"] == ["access_denied"]
        assert params["error_description"][0]
    assert response.headers["cache-control"] == "no-store"


def test_missing_state_is_allowed_and_not_invented(
    sb: Sandbox, install_url: Callable[..., str]
) -> None:
    location = sb.approve(install_url(state=None), follow=False)
    assert set(query(location)) == {"code"}


def test_redirect_keeps_an_existing_query(sb: Sandbox, install_url: Callable[..., str]) -> None:
    app = sb.register_app(
        {"id": "com.example.query", "name": "Q", "allowed_redirect_uris": ["http://h.test/cb?x=1"]}
    )
    location = sb.approve(install_url(app=app), follow=False)
    assert location.startswith("http://h.test/cb?x=1&code=ac_")


@pytest.mark.parametrize(
    ("tamper", "needle"),
    [
        ({"redirect_uri": "http://evil.example/callback"}, "not one of the app"),
        ({"client_id": "ca_forged0000000000000000000"}, "No app has the client id"),
        ({"client_id": ""}, "no client_id"),
        ({"decision": "maybe"}, "decision=accept"),
        ({"account": "acct_unknown"}, "Unknown installing account"),
    ],
    ids=["redirect", "client", "no-client", "decision", "account"],
)
def test_post_revalidates_hidden_fields(
    client: httpx.Client, install_url: Callable[..., str], tamper: dict[str, str], needle: str
) -> None:
    page = client.get(install_url())
    fields = {**form_fields(page.text), "decision": "accept", **tamper}
    response = client.post("/oauth/v2/authorize", data=fields)
    assert response.status_code == 400
    assert "location" not in response.headers
    assert needle in response.text


def test_post_live_client_with_http_redirect_is_refused(
    client: httpx.Client, live_app: RegisteredApp
) -> None:
    fields = {
        "client_id": live_app.client_id("live"),
        "redirect_uri": "http://example.com/callback",
        "decision": "accept",
    }
    response = client.post("/oauth/v2/chnlink_x1/authorize", data=fields)
    assert response.status_code == 400
    assert "location" not in response.headers


def test_account_picker_chooses_the_installing_account(
    sb: Sandbox, exchange: Callable[..., dict[str, Any]], install_url: Callable[..., str]
) -> None:
    other = sb.create_account("Second Shop", customers=3)
    page = httpx.get(install_url(), trust_env=False).text
    assert "Second Shop" in page
    location = sb.approve(install_url(), follow=False, account=other)
    code = query(location)["code"][0]
    with httpx.Client(base_url=sb.api_base, trust_env=False) as c:
        body = c.post(
            "/v1/oauth/token",
            data={"grant_type": "authorization_code", "code": code},
            auth=(sb.test.secret_key, ""),
        ).json()
        assert body["stripe_user_id"] == other
        customers = c.get("/v1/customers", auth=(body["access_token"], "")).json()
        assert len(customers["data"]) == 3
    assert exchange()["stripe_user_id"] == sb.account_id  # the default stays the default


class _Callback(BaseHTTPRequestHandler):
    seen: list[str] = []  # noqa: RUF012 - one test's sink

    def do_GET(self) -> None:
        type(self).seen.append(self.path)
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def callback_server() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), _Callback)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/callback"
    server.shutdown()
    server.server_close()


def test_approve_follow_delivers_the_code_to_the_callback(callback_server: str) -> None:
    _Callback.seen.clear()
    with Sandbox(customers=0, redirect_uris=[callback_server]) as sb:
        url = build_url(sb, state="follow-me")
        location = sb.approve(url, follow=True)
    assert _Callback.seen == [urlsplit(location).path + "?" + urlsplit(location).query]
    assert query(location)["state"] == ["follow-me"]


def test_approve_follow_without_callback_server_raises(sb: Sandbox) -> None:
    other = Sandbox(customers=0, redirect_uris=["http://127.0.0.1:9/callback"])
    with other, pytest.raises(SandboxError, match="callback server") as info:
        other.approve(build_url(other), follow=True, timeout=2.0)
    assert "ac_" not in str(info.value).replace("ac_…", "")


@pytest.mark.parametrize(
    ("link", "match"),
    [
        ("?client_id=ca_nope000000000000000", "No app has the client id"),
        ("?client_id={cid}&redirect_uri=http://x.test/cb", "not one of the app"),
    ],
)
def test_approve_reports_a_refused_link(sb: Sandbox, link: str, match: str) -> None:
    url = sb.marketplace_base + "/oauth/v2/authorize" + link.format(cid=sb.test.client_id)
    with pytest.raises(SandboxError, match=match):
        sb.approve(url)


def test_approve_rejects_unknown_decision(sb: Sandbox, install_url: Callable[..., str]) -> None:
    with pytest.raises(SandboxError, match="accept"):
        sb.approve(install_url(), decision="later")


def build_url(sb: Sandbox, state: str = "s") -> str:
    params = {"client_id": sb.test.client_id, "state": state}
    return f"{sb.marketplace_base}/oauth/v2/authorize?{urlencode(params)}"


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    client_id=st.one_of(st.none(), st.text(max_size=40), st.just("CLIENT")),
    redirect_uri=st.one_of(st.none(), st.text(max_size=60), st.just("http://127.0.0.1:8765/cb")),
    state=st.one_of(st.none(), st.text(max_size=60)),
)
def test_arbitrary_links_never_redirect_or_crash(
    sandbox: Sandbox, client_id: str | None, redirect_uri: str | None, state: str | None
) -> None:
    params = {
        k: (sandbox.test.client_id if v == "CLIENT" else v)
        for k, v in (("client_id", client_id), ("redirect_uri", redirect_uri), ("state", state))
        if v is not None
    }
    with httpx.Client(base_url=sandbox.api_base, trust_env=False, timeout=5) as c:
        response = c.get("/oauth/v2/authorize", params=params)
        assert response.status_code in (200, 400)
        assert "location" not in response.headers
        if response.status_code == 200:
            fields = {**form_fields(response.text), "decision": "accept"}
            answer = c.post("/oauth/v2/authorize", data=fields)
            assert answer.status_code == 302
            assert answer.headers["location"].startswith(fields["redirect_uri"])
