"""HTTPS loopback redirect URIs (self-signed, stored 0600) and the paste fallback."""

from __future__ import annotations

import socket
import ssl
import stat
import time
import urllib.parse
from pathlib import Path

import pytest
from _ports import free_port

from stripe_oauth_nb._errors import (
    AccessDeniedError,
    CallbackRequestError,
    CallbackStateError,
)
from stripe_oauth_nb._http import httpx
from stripe_oauth_nb.oauth._attempts import AttemptLog
from stripe_oauth_nb.oauth._callback import (
    CallbackServer,
    code_from_pasted_url,
    loopback_certificate,
)
from stripe_oauth_nb.oauth._install_link import InstallLink, build_install_link

CODE = "ac_EXAMPLETls0rPaste1234567890"


def _link(log: AttemptLog, redirect_uri: str, mode: str = "test") -> InstallLink:
    return build_install_link(
        mode="live" if mode == "live" else "test",
        log=log,
        client_id="ca_TlsPaste12345",
        redirect_uri=redirect_uri,
        allowed_redirect_uris=[redirect_uri],
    )


# -- TLS -----------------------------------------------------------------------------------


def test_certificate_files_are_private_and_reused(tmp_path: Path) -> None:
    folder = tmp_path / "tls"
    cert = loopback_certificate(folder)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    for path in (cert.server_path, cert.ca_path):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert b"PRIVATE KEY" in cert.server_path.read_bytes()
    assert b"PRIVATE KEY" not in cert.ca_path.read_bytes()  # the authority's key is not kept
    before = cert.server_path.read_bytes()
    assert loopback_certificate(folder).server_path.read_bytes() == before


def test_a_key_readable_by_others_is_replaced(tmp_path: Path) -> None:
    cert = loopback_certificate(tmp_path / "tls")
    before = cert.server_path.read_bytes()
    cert.server_path.chmod(0o644)
    again = loopback_certificate(tmp_path / "tls")
    assert again.server_path.read_bytes() != before
    assert stat.S_IMODE(again.server_path.stat().st_mode) == 0o600


def test_https_loopback_redirect_is_served_with_the_certificate(tmp_path: Path) -> None:
    port = free_port()
    redirect_uri = f"https://127.0.0.1:{port}/callback"
    log = AttemptLog()
    # A silent connection blocking the server would hold it this long.
    server = CallbackServer(log, redirect_uri, tls_dir=tmp_path / "tls", connection_timeout=60.0)
    server.start()
    try:
        assert server.certificate is not None
        link = _link(log, redirect_uri, mode="live")  # live mode needs HTTPS
        silent = socket.create_connection(("127.0.0.1", port))  # no TLS handshake ever
        with pytest.raises(httpx.ConnectError):  # untrusted without the CA
            httpx.get(redirect_uri, timeout=5, trust_env=False)
        with httpx.Client(verify=server.certificate.client_context(), timeout=30) as client:
            started = time.monotonic()
            answer = client.get(f"{redirect_uri}?code={CODE}&state={link.state.reveal()}")
            assert time.monotonic() - started < 10.0  # the silent connection did not block
        assert answer.status_code == 200
        assert answer.headers["cache-control"] == "no-store"
        code = server.wait(30)
        assert code.code.reveal() == CODE
        assert code.mode == "live"
        silent.close()
    finally:
        server.stop()


def test_plain_http_to_the_https_port_is_dropped_quietly(tmp_path: Path) -> None:
    port = free_port()
    log = AttemptLog()
    server = CallbackServer(
        log, f"https://127.0.0.1:{port}/callback", tls_dir=tmp_path / "tls"
    ).start()
    try:
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"http://127.0.0.1:{port}/callback?code=x", timeout=5, trust_env=False)
        assert server.running
    finally:
        server.stop()


def test_tls_context_has_a_modern_minimum(tmp_path: Path) -> None:
    context = loopback_certificate(tmp_path / "tls").server_context()
    assert context.minimum_version >= ssl.TLSVersion.TLSv1_2


# -- paste ---------------------------------------------------------------------------------

REDIRECT = "http://127.0.0.1:8765/callback"


def test_pasted_url_gives_the_code_and_uses_the_attempt_up() -> None:
    log = AttemptLog()
    link = _link(log, REDIRECT)
    landed = f"{REDIRECT}?code={CODE}&state={link.state.reveal()}"
    code = code_from_pasted_url(f"  {landed}\n", log)
    assert code.code.reveal() == CODE
    assert code.mode == "test"
    with pytest.raises(CallbackStateError, match="already used"):
        code_from_pasted_url(landed, log)


@pytest.mark.parametrize(
    ("make", "error"),
    [
        (lambda s: f"{REDIRECT}?code={CODE}", CallbackStateError),
        (lambda s: f"{REDIRECT}?code={CODE}&state=test.other", CallbackStateError),
        (lambda s: f"{REDIRECT}?code={CODE}&state={s}&state={s}", CallbackRequestError),
        (lambda s: f"{REDIRECT}?code={CODE}&code={CODE}&state={s}", CallbackRequestError),
        (lambda s: f"{REDIRECT}?state={s}", CallbackRequestError),
        (lambda s: f"{REDIRECT}?code={CODE}&state={s}&x=" + "a" * 5000, CallbackRequestError),
        (lambda s: "", CallbackRequestError),
        (lambda s: "not a url at all", CallbackRequestError),
    ],
    ids=[
        "no-state",
        "other-state",
        "dup-state",
        "dup-code",
        "no-code",
        "too-long",
        "empty",
        "junk",
    ],
)
def test_pasted_url_goes_through_the_same_checks(make: object, error: type[Exception]) -> None:
    assert callable(make)
    log = AttemptLog()
    link = _link(log, REDIRECT)
    with pytest.raises(error):
        code_from_pasted_url(make(link.state.reveal()), log)
    assert log.find(link.state.reveal()).completed_at is None  # the attempt stays open


def test_pasted_refusal_is_typed_and_capped() -> None:
    log = AttemptLog()
    link = _link(log, REDIRECT)
    query = urllib.parse.urlencode(
        {
            "error": "access_denied",
            "error_description": "<i>" + "n" * 1000,
            "state": link.state.reveal(),
        }
    )
    with pytest.raises(AccessDeniedError) as info:
        code_from_pasted_url(f"{REDIRECT}?{query}", log)
    assert "n" * 300 not in str(info.value)


def test_paste_and_server_share_one_attempt_log() -> None:
    port = free_port()
    redirect_uri = f"http://127.0.0.1:{port}/callback"
    log = AttemptLog()
    server = CallbackServer(log, redirect_uri).start()
    try:
        link = _link(log, redirect_uri)
        landed = f"{redirect_uri}?code={CODE}&state={link.state.reveal()}"
        assert code_from_pasted_url(landed, log).code.reveal() == CODE
        # the browser's own redirect, arriving later, can no longer use the attempt
        answer = httpx.get(landed, timeout=5, trust_env=False)
        assert answer.status_code == 400
        assert "already used" in answer.text
        assert server.running
    finally:
        server.stop()


@pytest.mark.parametrize(
    "address",
    [
        "http://evil.example/elsewhere",
        "http://evil.example/callback",
        "http://127.0.0.1:8766/callback",
        "https://127.0.0.1:8765/callback",
        "http://127.0.0.1:8765/callback/",
        "http://127.0.0.1:8765/other",
    ],
)
def test_a_pasted_address_other_than_the_redirect_uri_is_refused(address: str) -> None:
    log = AttemptLog()
    link = _link(log, REDIRECT)
    with pytest.raises(CallbackStateError, match="not the redirect URI") as caught:
        code_from_pasted_url(f"{address}?code={CODE}&state={link.state.reveal()}", log)
    assert CODE not in str(caught.value)
    assert link.state.reveal() not in str(caught.value)
    assert log.find(link.state.reveal()).completed_at is None  # the attempt stays open


def test_a_bare_query_string_is_not_enough() -> None:
    log = AttemptLog()
    link = _link(log, REDIRECT)
    with pytest.raises(CallbackRequestError, match="whole address"):
        code_from_pasted_url(f"code={CODE}&state={link.state.reveal()}", log)
    assert log.find(link.state.reveal()).completed_at is None


def test_a_hub_redirect_pasted_from_the_users_own_server_is_accepted() -> None:
    hub = "https://hub.example.org/hub/user-redirect/proxy/8765/callback"
    log = AttemptLog()
    link = _link(log, hub)
    # JupyterHub forwards /hub/user-redirect/... to the user's server: the address bar shows it.
    landed = f"https://hub.example.org/user/ann/proxy/8765/callback?code={CODE}"
    code = code_from_pasted_url(f"{landed}&state={link.state.reveal()}", log)
    assert code.code.reveal() == CODE


def test_the_certificate_is_made_for_loopback_only(tmp_path: Path) -> None:
    from cryptography import x509

    cert = loopback_certificate(tmp_path / "tls")
    pem = cert.server_path.read_bytes()
    leaf = x509.load_pem_x509_certificate(pem[pem.index(b"-----BEGIN CERTIFICATE-----") :])
    names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    shown = {str(ip) for ip in names.get_values_for_type(x509.IPAddress)}
    assert shown == {"127.0.0.1", "::1"}
    assert names.get_values_for_type(x509.DNSName) == ["localhost"]
    assert not leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    authority = x509.load_pem_x509_certificate(cert.ca_path.read_bytes())
    assert authority.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert leaf.issuer == authority.subject
    # A client trusting only this authority accepts the leaf for 127.0.0.1 (the TLS tests
    # above) and the authority's key is nowhere on disk.
    assert pem.count(b"PRIVATE KEY-----") == 2  # BEGIN and END of the leaf key only


@pytest.mark.parametrize("pasted", ["garbage", "hello world", "ac_EXAMPLEcode", ""])
def test_pasted_text_that_is_no_address_says_what_to_copy(pasted: str) -> None:
    with pytest.raises(CallbackRequestError) as caught:
        code_from_pasted_url(pasted, AttemptLog())
    message = str(caught.value)
    assert "copy the whole address from the browser's address bar" in message
    assert "field" not in message  # not the parser's words about query fields
