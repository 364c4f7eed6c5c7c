"""``stripe-oauth-nb login`` against an in-process sandbox (nothing configured), and against a
sandbox configured like another process (``STRIPE_OAUTH_NB_TARGET=sandbox`` and its keys)."""

from __future__ import annotations

import io
import os
import re
import socket
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

import stripe_oauth_nb.sandbox
from stripe_oauth_nb._attempts import AttemptLog, AuthorizationCode
from stripe_oauth_nb._cli import main
from stripe_oauth_nb._errors import CodeAlreadyUsedError
from stripe_oauth_nb._masking import Secret
from stripe_oauth_nb._settings import Settings, load_settings
from stripe_oauth_nb._tokens import FileTokenStore, TokenManager, default_attempts_path
from stripe_oauth_nb.sandbox import Sandbox


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(autouse=True)
def nothing_configured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(("STRIPE_", "JUPYTERHUB_", "BINDER_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("STRIPE_OAUTH_NB_TOKEN_STORE", str(tmp_path / "store" / "tokens.json"))
    monkeypatch.chdir(tmp_path)
    # The in-process sandbox's temporary token folders land here, not in the system's /tmp.
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))


CONFIGURED_STORE = Path("store") / "tokens.json"  # relative to tmp_path (the cwd)


def _login(*args: str) -> list[str]:
    return ["login", "--redirect-uri", f"http://127.0.0.1:{free_port()}/callback", *args]


def test_login_approve_catches_the_code_on_the_callback_server(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(_login("--approve", "--timeout", "10")) == 0
    out = capsys.readouterr().out
    assert "embedded sandbox" in out
    assert "Listening on http://127.0.0.1:" in out
    assert "/oauth/v2/authorize?client_id=ca_" in out
    assert re.search(r"Received authorization code ac_…\w{4} \(test mode", out)
    assert re.search(r"\bac_[A-Za-z0-9]{6,}", out) is None  # never the whole code


def test_login_live_mode_uses_the_live_record(capsys: pytest.CaptureFixture[str]) -> None:
    port = free_port()
    args = ["login", "--mode", "live", "--redirect-uri", f"http://127.0.0.1:{port}/callback"]
    assert main([*args, "--approve"]) == 1  # live mode wants HTTPS
    assert "HTTPS" in capsys.readouterr().err


def test_login_paste_approve(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(_login("--paste", "--approve")) == 0
    out = capsys.readouterr().out
    assert "Listening" not in out
    assert "(test mode" in out


def test_login_paste_reads_stdin_through_the_same_checks(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("http://127.0.0.1:1/callback?code=ac_x&state=x\n"))
    assert main(_login("--paste")) == 1
    captured = capsys.readouterr()
    assert "paste the address" in captured.out
    assert "does not match any install link" in captured.err


def test_login_port_taken_fails_before_the_link_is_shown(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        code = main(["login", "--approve", "--redirect-uri", f"http://127.0.0.1:{port}/callback"])
    captured = capsys.readouterr()
    assert code == 1
    assert "already in use" in captured.err
    assert "oauth/v2/authorize" not in captured.out


def test_login_timeout(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(_login("--timeout", "0.3")) == 1
    assert "No redirect arrived" in capsys.readouterr().err


def test_login_checks_the_manifest_redirect_uris(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STRIPE_OAUTH_NB_TARGET", "sandbox")
    monkeypatch.setenv("STRIPE_CLIENT_ID_TEST", "ca_Configured1234")
    monkeypatch.setenv("STRIPE_MARKETPLACE_BASE", "http://127.0.0.1:9")
    (tmp_path / "stripe-app.json").write_text(
        '{"allowed_redirect_uris": ["http://127.0.0.1:1/cb"]}'
    )
    assert main(_login("--timeout", "1")) == 1
    err = capsys.readouterr().err
    assert "not one of the app's allowed_redirect_uris" in err
    assert "  - http://127.0.0.1:1/cb" in err


def test_login_approve_needs_the_sandbox(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STRIPE_OAUTH_NB_TARGET", "stripe")
    monkeypatch.setenv("STRIPE_SECRET_KEY_TEST", "sk_test_" + "a" * 24)
    monkeypatch.setenv("STRIPE_CLIENT_ID_TEST", "ca_Configured1234")
    assert main(_login("--approve", "--timeout", "1")) == 1
    assert "only works with the sandbox" in capsys.readouterr().err


def _printed_store(out: str) -> Path:
    found = re.search(r"^Tokens stored in (.+)\.$", out, re.MULTILINE)
    assert found, out
    return Path(found.group(1))


def test_login_approve_exchanges_and_stores_the_tokens(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "mine" / "tokens.json"
    assert main(_login("--approve", "--timeout", "10", "--store", str(store))) == 0
    out = capsys.readouterr().out
    assert re.search(r"Received authorization code ac_…\w{4} \(test mode", out)
    stored = FileTokenStore(store).all()
    assert len(stored) == 1
    tokens = stored[0]
    assert not tokens.livemode
    assert TokenManager(Settings(token_store_path=store)).get().account_id == tokens.account_id
    assert f"Authorized: account {tokens.account_id} (test mode)." in out
    assert re.search(r"access token   rk_test_…\w{4}, expires \d{4}-\d\d-\d\dT.* \(in 60 min", out)
    assert _printed_store(out) == store
    assert "in-process sandbox, which stops with this command" in out
    for secret in (tokens.access_token, tokens.refresh_token):
        assert secret.reveal() not in out
    assert re.search(r"\b(ac|rk_test|rt)_[A-Za-z0-9]{6,}", out) is None  # only masked forms
    # Recorded where TokenManager looks by default: the code is marked as sent there.
    (attempt,) = AttemptLog(store.with_name("attempts.json")).all()
    assert attempt.completed_at is not None
    assert attempt.code_sent_at is not None
    assert not (tmp_path / CONFIGURED_STORE).exists()


def test_login_in_process_sandbox_never_uses_the_real_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(_login("--paste", "--approve")) == 0
    store = _printed_store(capsys.readouterr().out)
    assert store.parent.parent == tmp_path / "tmp"  # a new temporary folder
    assert store.parent.name.startswith("stripe-oauth-nb-login-")
    assert len(FileTokenStore(store).all()) == 1
    assert not (tmp_path / CONFIGURED_STORE).exists()  # STRIPE_OAUTH_NB_TOKEN_STORE untouched


def test_login_refused_consent_exits_1_and_stores_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def decline(self: Sandbox, install_url: str, decision: str = "accept", **kw: Any) -> str:
        return original(self, install_url, "deny", **kw)

    original = Sandbox.approve
    monkeypatch.setattr(Sandbox, "approve", decline)
    store = tmp_path / "mine" / "tokens.json"
    assert main(_login("--approve", "--timeout", "10", "--store", str(store))) == 1
    captured = capsys.readouterr()
    assert "declined on Stripe's consent page" in captured.err
    assert "build a new install link" in captured.err
    assert "Authorized" not in captured.out
    assert not store.exists()


@pytest.fixture
def configured(
    sb: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Sandbox, list[str]]:
    """The module's sandbox configured through the environment (as for a sandbox in another
    process); every Location the public ``approve`` returns is recorded in the list."""
    for name, value in {
        "STRIPE_OAUTH_NB_TARGET": "sandbox",
        "STRIPE_API_BASE": sb.api_base,
        "STRIPE_MARKETPLACE_BASE": sb.marketplace_base,
        "STRIPE_SECRET_KEY_TEST": sb.test.secret_key,
        "STRIPE_CLIENT_ID_TEST": sb.test.client_id,
        "STRIPE_REDIRECT_URI": sb.demo_app.redirect_uris[0],
    }.items():
        monkeypatch.setenv(name, value)
    landed: list[str] = []
    public_approve = stripe_oauth_nb.sandbox.approve

    def recording(install_url: str, **kwargs: Any) -> str:
        location = public_approve(install_url, **kwargs)
        landed.append(location)
        return location

    monkeypatch.setattr(stripe_oauth_nb.sandbox, "approve", recording)
    return sb, landed


def test_a_second_run_cannot_resend_the_code(
    configured: tuple[Sandbox, list[str]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sb, landed = configured
    assert main(["login", "--paste", "--approve"]) == 0
    out = capsys.readouterr().out
    store = tmp_path / CONFIGURED_STORE
    assert _printed_store(out) == store  # the configured store, not a temporary one
    assert "Next: `stripe-oauth-nb validate`" in out
    (tokens,) = FileTokenStore(store).all()
    assert sb.stats()["grants"]["authorization_code"] == 1
    (location,) = landed  # via the public stripe_oauth_nb.sandbox.approve

    # A second run handed the same redirect: the state is used up, nothing is sent.
    monkeypatch.setattr("sys.stdin", io.StringIO(location + "\n"))
    assert main(["login", "--paste"]) == 1
    assert "already used once" in capsys.readouterr().err

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
    assert sb.stats()["grants"]["authorization_code"] == 1
    assert [t.access_token for t in FileTokenStore(store).all()] == [tokens.access_token]
