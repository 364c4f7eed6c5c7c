"""``stripe-oauth-nb login`` against an in-process sandbox (nothing configured)."""

from __future__ import annotations

import io
import os
import re
import socket
from pathlib import Path

import pytest

from stripe_oauth_nb._cli import main


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
