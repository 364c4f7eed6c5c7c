"""``stripe-oauth-nb validate``: the same summary as the panel, exit codes, ``--pull``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stripe_oauth_nb._cli import main
from stripe_oauth_nb._errors import NetworkError
from stripe_oauth_nb._tokenset import ACCESS_TOKEN_LIFETIME, TokenSet
from stripe_oauth_nb.api import ApiClient
from stripe_oauth_nb.sandbox import RegisteredApp, Sandbox
from stripe_oauth_nb.tokens import FileTokenStore

CUSTOMERS = 120


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(customers=CUSTOMERS) as sb:
        yield sb


def environment(sb: Sandbox, store: Path) -> dict[str, str]:
    return {
        "STRIPE_OAUTH_NB_TARGET": "sandbox",
        "STRIPE_API_BASE": sb.api_base,
        "STRIPE_MARKETPLACE_BASE": sb.marketplace_base,
        "STRIPE_SECRET_KEY_TEST": sb.test.secret_key,
        "STRIPE_CLIENT_ID_TEST": sb.test.client_id,
        "STRIPE_OAUTH_NB_TOKEN_STORE": str(store),
    }


@pytest.fixture
def store(sb: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # no stray .env from the repository
    path = tmp_path / "tokens" / "tokens.json"
    for name, value in environment(sb, path).items():
        monkeypatch.setenv(name, value)
    return path


def install(sb: Sandbox, store: Path, app: RegisteredApp | None = None) -> TokenSet:
    tokens = TokenSet.from_response(sb.mint_tokens("test", app), obtained_at=sb.now())
    FileTokenStore(store).save(tokens, authorized=True)
    return tokens


def test_success_prints_the_summary_and_exits_0(
    sb: Sandbox, store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tokens = install(sb, store)
    assert main(["validate"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("The access token works.")
    assert sb.account_id in out
    assert "[ok  ] GET /v1/customers?limit=1" in out
    assert tokens.access_token.reveal() not in out + err
    assert err == ""


def test_account_and_mode_select_the_tokens(
    sb: Sandbox, store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    install(sb, store)
    assert main(["validate", "--account", sb.account_id, "--mode", "test"]) == 0
    assert main(["validate", "--account", "acct_NotInstalledHere1", "--mode", "test"]) == 1
    out, _err = capsys.readouterr()
    assert "Validation FAILED." in out
    assert "Authorize the app first" in out


def test_a_403_exits_1_naming_the_permission(
    sb: Sandbox, store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app = sb.register_app(
        {
            "id": "com.example.cli403",
            "name": "CLI 403",
            "allowed_redirect_uris": ["http://127.0.0.1:8765/callback"],
            "permissions": [{"permission": "balance_read", "purpose": "Balance"}],
        }
    )
    install(sb, store, app)
    assert main(["validate"]) == 1
    out, _err = capsys.readouterr()
    assert "Missing permission(s): customer_read" in out


def test_an_expired_token_is_refreshed_and_stored(
    sb: Sandbox, store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = install(sb, store)
    sb.advance_clock(ACCESS_TOKEN_LIFETIME + 1)
    assert main(["validate"]) == 0
    stored = FileTokenStore(store).load(old.account_id, False)
    assert stored is not None
    assert stored.access_token != old.access_token
    assert sb.stats()["grants"]["refresh_token"] == 1
    capsys.readouterr()


def test_pull_writes_json_lines_with_a_bar_on_stderr(
    sb: Sandbox, store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    install(sb, store)
    output = tmp_path / "customers.jsonl"
    assert main(["validate", "--pull", "customers", "--output", str(output)]) == 0
    out, err = capsys.readouterr()
    lines = output.read_text().splitlines()
    assert len(lines) == CUSTOMERS
    assert json.loads(lines[0])["object"] == "customer"
    assert f"Read {CUSTOMERS:,} objects from /v1/customers into {output}." in out
    assert "/v1/customers" in err  # tqdm's bar
    assert f"{CUSTOMERS}/{CUSTOMERS}" in err


@pytest.mark.slow
def test_the_installed_command_runs_in_a_subprocess(sb: Sandbox, tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    install(sb, path)
    env = {**os.environ, **environment(sb, path)}
    result = subprocess.run(
        [sys.executable, "-m", "stripe_oauth_nb", "validate", "--pull", "/v1/customers"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "The access token works." in result.stdout
    assert f"Read {CUSTOMERS:,} objects from /v1/customers." in result.stdout


def test_no_token_store_exits_1(
    sb: Sandbox, store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["validate"]) == 1
    out, _err = capsys.readouterr()
    assert "Authorize the app first" in out


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["--output", "{tmp}/missing/customers.jsonl"], "does not exist"),
        (["--output", "{tmp}"], "folder"),
        (["--output", "{tmp}/"], "file name"),
        (["--output", "~nosuchuser-EXAMPLE/x.jsonl"], "no user"),
        (["--timeout", "1e400"], "at most"),
        (["--timeout", "nan"], "at most"),
        (["--timeout", "-1"], "at most"),
        (["--timeout", "soon"], "number of seconds"),
    ],
)
def test_bad_arguments_are_refused_before_any_call(
    sb: Sandbox,
    store: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    words: str,
) -> None:
    install(sb, store)
    before = sb.stats()["requests"]
    with pytest.raises(SystemExit) as caught:
        main(["validate", "--pull", "customers", *(a.format(tmp=tmp_path) for a in argv)])
    assert caught.value.code == 2
    _out, err = capsys.readouterr()
    assert words in err
    assert "Traceback" not in err
    assert sb.stats()["requests"] == before


def test_a_failed_pull_leaves_the_existing_output_alone(
    sb: Sandbox,
    store: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    install(sb, store)
    output = tmp_path / "customers.jsonl"
    output.write_text("the previous pull\n")
    real = ApiClient.list_all

    def fails_on_page_two(self: ApiClient, *args: Any, **kwargs: Any) -> Iterator[dict[str, Any]]:
        for index, row in enumerate(real(self, *args, **kwargs)):
            if index == 100:  # the second page
                raise NetworkError("the connection dropped (made up by the test)")
            yield row

    monkeypatch.setattr(ApiClient, "list_all", fails_on_page_two)
    assert main(["validate", "--pull", "customers", "--output", str(output)]) == 1
    assert "connection dropped" in capsys.readouterr().err
    assert output.read_text() == "the previous pull\n"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".customers")] == []
