"""The URL rules: one loopback definition, base URLs, redirect URIs and landed addresses."""

from __future__ import annotations

import pytest

from stripe_oauth_nb._urls import (
    base_url_problem,
    host_headers,
    is_loopback_host,
    landed_on,
    matches_manifest_redirect_pattern,
    parse_redirect_uri,
    redirect_uri_problem,
)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("localhost", True),
        ("LOCALHOST", True),
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("127.255.255.254", True),
        ("::1", True),
        ("[::1]", True),
        ("::ffff:127.0.0.1", True),
        ("128.0.0.1", False),
        ("0.0.0.0", False),  # noqa: S104 - every interface is not loopback
        ("::", False),
        ("localhost.evil.example", False),
        ("127.0.0.1.nip.io", False),
        ("evil.example", False),
        ("", False),
        (None, False),
    ],
)
def test_one_loopback_definition(host: str | None, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback


@pytest.mark.parametrize(
    "url",
    [
        "https://api.stripe.com",
        "https://api.stripe.com/",
        "https://stripe.internal.example:8443/base",
        "http://127.0.0.1:12111",
        "http://localhost:8080",
        "http://[::1]:9000",
        "http://127.0.0.9:80",
    ],
)
def test_usable_base_urls(url: str) -> None:
    assert base_url_problem(url) is None


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("http://some-host:18899", "plain http"),
        ("http://10.0.0.5", "plain http"),
        ("http://localhost.evil.example", "plain http"),
        ("::::", "not an http(s) address"),
        ("", "not an http(s) address"),
        ("ftp://api.stripe.com", "not an http(s) address"),
        ("api.stripe.com", "not an http(s) address"),
        ("https://api.stripe.com:99999", "not a URL"),
        ("https://[::1", "not a URL"),
        ("https://user:pw@api.stripe.com", "user name or password"),
        ("https://api.stripe.com/?x=1", "query string"),
        (" https://api.stripe.com", "spaces"),
        ("https://" + "a" * 3000 + ".example", "not a URL"),
    ],
)
def test_refused_base_urls_say_why(url: str, words: str) -> None:
    problem = base_url_problem(url)
    assert problem is not None
    assert words in problem


@pytest.mark.parametrize(
    ("uri", "problem"),
    [
        ("http://127.0.0.1:8765/callback", None),
        ("https://hub.example.org/hub/user-redirect/proxy/8765/callback", None),
        ("http://127.0.0.1:8765/", "does not look like"),
        ("http://127.0.0.1:8765", "does not look like"),
        ("myapp://cb/x", "does not look like"),
        ("http://127.0.0.1:8765/callback?code=x", "query string"),
        ("http://127.0.0.1:8765/callback#x", "query string"),
        ("http://127.0.0.1:99999/callback", "not a URL"),
        ("http://127.0.0.1:0/callback", "port 0"),
        (" http://127.0.0.1:8765/callback", "spaces"),
        ("http://u:p@127.0.0.1:8765/callback", "user name"),
    ],
)
def test_what_a_redirect_uri_is(uri: str, problem: str | None) -> None:
    found = redirect_uri_problem(uri)
    if problem is None:
        assert found is None
    else:
        assert found is not None
        assert problem in found


def test_manifest_pattern_is_stripes_schema() -> None:
    assert matches_manifest_redirect_pattern("https://e.com:8443/cb?x=1")
    assert not matches_manifest_redirect_pattern("https://example.com/")
    assert not matches_manifest_redirect_pattern(42)


@pytest.mark.parametrize(
    ("uri", "port", "path", "proxy", "loopback"),
    [
        ("http://127.0.0.1:8765/callback", 8765, "/callback", None, True),
        ("https://localhost/cb", 443, "/cb", None, True),
        ("http://[::1]:9000/cb", 9000, "/cb", None, True),
        ("https://example.com/cb", 443, "/cb", None, False),
        ("https://hub.example.org/hub/user-redirect/proxy/8765/callback", 443, None, 8765, False),
        ("http://127.0.0.1:8765/proxy/8765/x", 8765, "/proxy/8765/x", None, True),
    ],
)
def test_parse_redirect_uri(
    uri: str, port: int, path: str | None, proxy: int | None, loopback: bool
) -> None:
    parsed = parse_redirect_uri(uri)
    assert parsed is not None
    assert parsed.port == port
    assert parsed.proxy_port == proxy
    assert parsed.loopback is loopback
    assert parsed.reaches_kernel is (loopback or proxy is not None)
    if path is not None:
        assert parsed.path == path


@pytest.mark.parametrize("uri", ["http://127.0.0.1:0/cb", "x://h/cb", "http:///cb", "::::"])
def test_unparseable_redirect_uris(uri: str) -> None:
    assert parse_redirect_uri(uri) is None


REDIRECT = "http://127.0.0.1:8765/callback"
HUB = "https://hub.example.org/hub/user-redirect/proxy/8765/callback"


@pytest.mark.parametrize(
    ("landed", "redirect_uri", "bound"),
    [
        (f"{REDIRECT}?code=ac_x&state=s", REDIRECT, True),
        (f"  {REDIRECT}?code=ac_x&state=s\n", REDIRECT, True),
        ("http://127.0.0.1:80/callback?code=x", "http://127.0.0.1/callback", True),
        ("HTTP://127.0.0.1:8765/callback?code=x", REDIRECT, True),
        ("http://evil.example/elsewhere?code=ac_x&state=s", REDIRECT, False),
        ("http://evil.example/callback?code=ac_x&state=s", REDIRECT, False),
        ("http://127.0.0.1:8766/callback?code=ac_x", REDIRECT, False),
        ("https://127.0.0.1:8765/callback?code=ac_x", REDIRECT, False),
        ("http://127.0.0.1:8765/callback/?code=ac_x", REDIRECT, False),
        ("http://localhost:8765/callback?code=ac_x", REDIRECT, False),
        ("code=ac_x&state=s", REDIRECT, False),
        ("https://hub.example.org/user/ann/proxy/8765/callback?code=x", HUB, True),
        (f"{HUB}?code=x", HUB, True),
        ("https://hub.example.org/user/ann/proxy/8766/callback?code=x", HUB, False),
        ("https://evil.example/user/ann/proxy/8765/callback?code=x", HUB, False),
    ],
)
def test_landed_address_is_bound_to_the_redirect_uri(
    landed: str, redirect_uri: str, bound: bool
) -> None:
    assert landed_on(landed, redirect_uri) is bound


@pytest.mark.parametrize(
    ("host", "port", "scheme", "also", "wanted"),
    [
        ("127.0.0.1", None, "http", (), {"127.0.0.1", "localhost", "[::1]"}),
        (
            "127.0.0.1",
            8765,
            "http",
            (),
            {"127.0.0.1:8765", "localhost:8765", "[::1]:8765"},
        ),
        (
            "::1",
            443,
            "https",
            (),
            {"[::1]:443", "127.0.0.1:443", "localhost:443"} | {"[::1]", "127.0.0.1", "localhost"},
        ),
        ("10.1.2.3", None, "http", ("Install.Example.com",), {"10.1.2.3", "install.example.com"}),
    ],
)
def test_one_host_allow_list(
    host: str, port: int | None, scheme: str, also: tuple[str, ...], wanted: set[str]
) -> None:
    assert host_headers(host, port, scheme=scheme, also=also) == wanted
