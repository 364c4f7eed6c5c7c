"""``stripe-oauth-nb login`` against a sandbox configured like another process
(``STRIPE_OAUTH_NB_TARGET=sandbox``, its API base and keys), and with nothing configured."""

from __future__ import annotations

import io
import os
import re
import socket
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from _ports import free_port

import stripe_oauth_nb.sandbox
from stripe_oauth_nb._cli import main
from stripe_oauth_nb._errors import CodeAlreadyUsedError
from stripe_oauth_nb._masking import Secret
from stripe_oauth_nb._settings import Settings, load_settings
from stripe_oauth_nb.oauth._attempts import AttemptLog, AuthorizationCode
from stripe_oauth_nb.sandbox import Sandbox
from stripe_oauth_nb.tokens import FileTokenStore, TokenManager, default_attempts_path

STORE = Path("store") / "tokens.json"  # relative to tmp_path (the working folder)


@pytest.fixture(autouse=True)
def clean_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(("STRIPE_", "JUPYTERHUB_", "BINDER_")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def redirect_uri() -> str:
    return f"http://127.0.0.1:{free_port()}/callback"


@pytest.fixture
def landed(
    sb: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, redirect_uri: str
) -> list[str]:
    """The module's sandbox configured through the environment, with an app that allows
    ``redirect_uri``; every Location the sandbox's ``approve`` returns is recorded."""
    app = sb.register_app(
        {
            "id": "com.example.login-tests",
            "name": "Login Tests",
            "permissions": [{"permission": "customer_read", "purpose": "Tests."}],
            "allowed_redirect_uris": [redirect_uri, "https://127.0.0.1:8443/callback"],
            "stripe_api_access_type": "oauth",
            "distribution_type": "public",
        }
    )
    for name, value in {
        "STRIPE_OAUTH_NB_TARGET": "sandbox",
        "STRIPE_API_BASE": sb.api_base,
        "STRIPE_MARKETPLACE_BASE": sb.marketplace_base,
        "STRIPE_SECRET_KEY_TEST": sb.test.secret_key,
        "STRIPE_SECRET_KEY_LIVE": sb.live.secret_key,
        "STRIPE_CLIENT_ID_TEST": app.client_id("test"),
        "STRIPE_CLIENT_ID_LIVE": app.client_id("live"),
        "STRIPE_REDIRECT_URI": redirect_uri,
        "STRIPE_OAUTH_NB_TOKEN_STORE": str(tmp_path / STORE),
    }.items():
        monkeypatch.setenv(name, value)
    recorded: list[str] = []
    public_approve = stripe_oauth_nb.sandbox.approve

    def recording(install_url: str, **kwargs: Any) -> str:
        location = public_approve(install_url, **kwargs)
        recorded.append(location)
        return location

    monkeypatch.setattr(stripe_oauth_nb.sandbox, "approve", recording)
    return recorded


def test_nothing_configured_says_what_to_run(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["login", "--approve"]) == 1
    err = capsys.readouterr().err
    assert "stripe-oauth-nb sandbox --port 8700" in err
    assert "STRIPE_OAUTH_NB_SANDBOX_URL=http://127.0.0.1:8700" in err
    assert "Traceback" not in err


@pytest.mark.usefixtures("landed")
def test_login_approve_catches_the_code_on_the_callback_server(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main(["login", "--approve", "--timeout", "10"]) == 0
    out = capsys.readouterr().out
    assert "sandbox" in out
    assert "Listening on http://127.0.0.1:" in out
    assert "/oauth/v2/authorize?client_id=ca_" in out
    assert re.search(r"Received code ac_…\w{4}; exchanging", out)
    assert re.search(r"\bac_[A-Za-z0-9]{6,}", out) is None  # never the whole code
    (tokens,) = FileTokenStore(tmp_path / STORE).all()
    assert f"Authorized: account {tokens.account_id} (test mode)" in out
    assert re.search(r"access token   rk_test_…\w{4}, expires \d{4}-\d\d-\d\dT.* \(in 60 min", out)
    assert str(tmp_path / STORE) in out
    for secret in (tokens.access_token, tokens.refresh_token):
        assert secret.reveal() not in out
    assert re.search(r"\b(ac|rk_test|rt)_[A-Za-z0-9]{6,}", out) is None  # only masked forms
    # Recorded where TokenManager looks by default: the code is marked as sent there.
    (attempt,) = AttemptLog((tmp_path / STORE).with_name("attempts.json")).all()
    assert attempt.completed_at is not None
    assert attempt.code_sent_at is not None


@pytest.mark.usefixtures("landed")
def test_login_live_mode_wants_https(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["login", "--mode", "live", "--approve"]) == 1
    assert "HTTPS" in capsys.readouterr().err


@pytest.mark.usefixtures("landed")
def test_login_paste_approve(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["login", "--paste", "--approve"]) == 0
    out = capsys.readouterr().out
    assert "Listening" not in out
    assert "(test mode)" in out


@pytest.mark.slow
@pytest.mark.usefixtures("landed")
def test_login_paste_reads_stdin_through_the_same_checks(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("http://127.0.0.1:1/callback?code=ac_x&state=x\n"))
    assert main(["login", "--paste", "--timeout", "2"]) == 1
    captured = capsys.readouterr()
    assert "paste the address" in captured.out
    assert "does not match any install link" in captured.out  # refused, and still waiting
    assert "No redirect arrived within 2 s" in captured.err


@pytest.mark.usefixtures("landed")
def test_login_port_taken_fails_before_the_link_is_shown(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, redirect_uri: str
) -> None:
    port = int(urlsplit(redirect_uri).port or 0)
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", port))
        squatter.listen()
        code = main(["login", "--approve"])
    captured = capsys.readouterr()
    assert code == 1
    assert "already in use" in captured.err
    assert "oauth/v2/authorize" not in captured.out


@pytest.mark.usefixtures("landed")
def test_login_timeout(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["login", "--timeout", "0.3"]) == 1
    assert "No redirect arrived" in capsys.readouterr().err


@pytest.mark.parametrize("value", ["nan", "inf", "-1", "0", "1e400", "901", "soon"])
def test_login_refuses_a_timeout_that_is_not_a_positive_number(
    value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as caught:  # refused while the command line is read
        main(["login", "--timeout", value])
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert "argument --timeout: expected" in err
    assert "seconds" in err
    assert "Traceback" not in err


@pytest.mark.usefixtures("landed")
def test_login_checks_the_manifest_redirect_uris(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "stripe-app.json").write_text(
        '{"allowed_redirect_uris": ["http://127.0.0.1:1/cb"]}'
    )
    assert main(["login", "--timeout", "1"]) == 1
    err = capsys.readouterr().err
    assert "not one of the app's allowed_redirect_uris" in err
    assert "  - http://127.0.0.1:1/cb" in err


def test_login_approve_needs_the_sandbox(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("STRIPE_OAUTH_NB_TARGET", "stripe")
    monkeypatch.setenv("STRIPE_SECRET_KEY_TEST", "sk_test_EXAMPLE" + "a" * 24)
    monkeypatch.setenv("STRIPE_CLIENT_ID_TEST", "ca_Configured1234")
    monkeypatch.setenv("STRIPE_OAUTH_NB_TOKEN_STORE", str(tmp_path / STORE))
    assert main(["login", "--approve", "--timeout", "1"]) == 1
    assert "only works with the sandbox" in capsys.readouterr().err


def test_login_refused_consent_exits_1_and_stores_nothing(
    landed: list[str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    recording = stripe_oauth_nb.sandbox.approve

    def decline(install_url: str, **kwargs: Any) -> str:
        return recording(install_url, **{**kwargs, "decision": "deny"})

    monkeypatch.setattr(stripe_oauth_nb.sandbox, "approve", decline)
    assert main(["login", "--approve", "--timeout", "10"]) == 1
    captured = capsys.readouterr()
    assert "declined on Stripe's consent page" in captured.err
    assert "Authorized" not in captured.out
    assert not (tmp_path / STORE).exists()


@pytest.mark.slow
def test_a_second_run_cannot_resend_the_code(
    sb: Sandbox,
    landed: list[str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before = sb.stats()["grants"]["authorization_code"]
    assert main(["login", "--paste", "--approve"]) == 0
    out = capsys.readouterr().out
    store = tmp_path / STORE
    assert str(store) in out  # the configured store
    assert "Next: `stripe-oauth-nb validate`" in out
    (tokens,) = FileTokenStore(store).all()
    assert sb.stats()["grants"]["authorization_code"] == before + 1
    (location,) = landed

    # A second run handed the same redirect: the state is used up, nothing is sent.
    monkeypatch.setattr("sys.stdin", io.StringIO(location + "\n"))
    assert main(["login", "--paste", "--timeout", "2"]) == 1
    assert "already used once" in capsys.readouterr().out

    # And the code itself, tried through the default TokenManager (another process would do
    # this), is refused before any request: login recorded it where TokenManager looks.
    settings = load_settings()
    query = parse_qs(urlsplit(location).query)
    code, state = query["code"][0], query["state"][0]
    recorded = AttemptLog(default_attempts_path(settings)).all()
    (attempt,) = [a for a in recorded if a.state.reveal() == state]
    assert attempt.code_sent_at is not None
    with TokenManager(settings) as manager, pytest.raises(CodeAlreadyUsedError):
        manager.exchange(AuthorizationCode(Secret(code), attempt))
    assert sb.stats()["grants"]["authorization_code"] == before + 1
    assert [t.access_token for t in FileTokenStore(store).all()] == [tokens.access_token]
    assert TokenManager(Settings(token_store_path=store)).get().account_id == tokens.account_id
