"""Every command names the same target and token store in the same situation.

The order (``stripe_oauth_nb._target``): ``--store`` > ``STRIPE_OAUTH_NB_TOKEN_STORE`` > the
running sandbox's token folder (``STRIPE_OAUTH_NB_SANDBOX_URL``) > the default folder. Each case
puts the tokens in one place only; every command then works (so it read that store) and its
requests reach the sandbox (counted there), never api.stripe.com (unreachable offline).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from _ports import free_port

from stripe_oauth_nb._cli import main
from stripe_oauth_nb._target import NO_TARGET_HELP
from stripe_oauth_nb.sandbox import Sandbox

pytest.importorskip("dlt")

CASES = ["--store", "env", "sandbox-url", "default"]


@pytest.fixture(scope="module")
def world() -> Iterator[Sandbox]:
    callback = f"http://127.0.0.1:{free_port()}/callback"
    with Sandbox(customers=5, rate_limit=False, redirect_uris=[callback]) as sb:
        yield sb


def _requests(sb: Sandbox) -> int:
    return sum(sb.stats()["requests"].values())


def _environment(case: str, sb: Sandbox, tmp_path: Path) -> tuple[dict[str, str], list[str], Path]:
    """Environment variables, the ``--store`` arguments, and where the tokens must be."""
    env = {"HOME": str(tmp_path / "home"), "XDG_CONFIG_HOME": str(tmp_path / "home" / ".config")}
    env["STRIPE_REDIRECT_URI"] = sb.demo_app.redirect_uris[0]
    argv: list[str] = []
    if case == "default":  # a sandbox configured by hand, like real Stripe: no store named
        env |= {
            "STRIPE_OAUTH_NB_TARGET": "sandbox",
            "STRIPE_API_BASE": sb.api_base,
            "STRIPE_MARKETPLACE_BASE": sb.marketplace_base,
            "STRIPE_SECRET_KEY_TEST": sb.test.secret_key,
            "STRIPE_CLIENT_ID_TEST": sb.demo_app.client_id("test"),
        }
        return env, argv, tmp_path / "home" / ".config" / "stripe-oauth-nb" / "tokens.json"
    env["STRIPE_OAUTH_NB_SANDBOX_URL"] = sb.api_base
    if case == "sandbox-url":
        return env, argv, sb.store_dir / "tokens.json"
    env["STRIPE_OAUTH_NB_TOKEN_STORE"] = str(tmp_path / "env-store" / "tokens.json")
    if case == "env":
        return env, argv, tmp_path / "env-store" / "tokens.json"
    argv = ["--store", str(tmp_path / "flag-store" / "tokens.json")]
    return env, argv, tmp_path / "flag-store" / "tokens.json"


@pytest.fixture
def clean(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("STRIPE_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@pytest.mark.usefixtures("clean")
@pytest.mark.parametrize("case", CASES)
def test_every_command_uses_the_same_store_and_host(
    case: str,
    world: Sandbox,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    env, store_args, expected = _environment(case, world, tmp_path)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    (world.store_dir / "tokens.json").unlink(missing_ok=True)

    def run(*argv: str) -> str:
        before = _requests(world)
        code = main(list(argv))
        out, err = capsys.readouterr()
        assert code == 0, f"{argv}: {out}{err}"
        if "list" not in argv:
            assert _requests(world) > before, f"{argv} sent nothing to the sandbox"
        return out

    out = run("login", "--approve", *store_args)
    assert str(expected) in out
    assert expected.is_file()
    listed = json.loads(run("tokens", "list", "--json", *store_args))
    assert listed["store"] == str(expected)
    assert len(listed["tokens"]) == 1
    assert json.loads(run("tokens", *store_args, "list", "--json"))["store"] == str(expected)
    before = world.stats()["grants"]["refresh_token"]
    run("tokens", "refresh", "--force", *store_args)
    assert world.stats()["grants"]["refresh_token"] == before + 1
    run("validate", *store_args)
    out = run("sync", "--resources", "customers", "--db", str(tmp_path / "s.duckdb"), *store_args)
    assert "customers" in out
    out = run(
        "sql",
        "SELECT count(*) FROM customers",
        "--db",
        str(tmp_path / "s.duckdb"),
        "--fresh",
        "0",
        *store_args,
    )
    assert "(1 row)" in out

    from stripe_oauth_nb import connect

    with connect(store=store_args[1] if store_args else None) as conn:
        assert conn.tokens.location == str(expected)
        assert conn.settings.api_base == world.api_base


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES)
def test_serve_names_the_same_store_and_host(case: str, world: Sandbox, tmp_path: Path) -> None:
    env, store_args, expected = _environment(case, world, tmp_path)
    full = {k: v for k, v in os.environ.items() if not k.startswith("STRIPE_")} | env
    port = free_port()
    folder = tmp_path / "app"
    folder.mkdir()
    from _serve_helpers import manifest_for

    manifest_for(folder, f"http://127.0.0.1:{port}/callback")
    process = subprocess.Popen(
        [sys.executable, "-m", "stripe_oauth_nb", "serve", "--port", str(port), *store_args],
        cwd=folder,
        env=full,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = json.loads(process.stdout.readline() or "{}")
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=30)
    assert line.get("api_base") == world.api_base, err
    assert line["token_store"] == str(expected)
    assert line["sandbox"] is False


@pytest.mark.usefixtures("clean")
@pytest.mark.parametrize(
    "argv",
    [
        ["login", "--approve"],
        ["validate"],
        ["sync"],
        ["tokens", "refresh"],
        ["sql", "SELECT count(*) FROM charges"],
    ],
)
def test_with_nothing_configured_every_command_says_the_same(
    argv: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "home" / ".config"))
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err == f"error: {NO_TARGET_HELP}\n"


@pytest.mark.usefixtures("clean")
def test_tokens_list_with_nothing_configured_reads_the_default_folder_and_says_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "home" / ".config"))
    assert main(["tokens", "list"]) == 0
    out = capsys.readouterr().out
    assert str(tmp_path / "home" / ".config" / "stripe-oauth-nb" / "tokens.json") in out
    assert out.rstrip().endswith(NO_TARGET_HELP.rstrip())


@pytest.mark.slow
def test_serve_with_nothing_configured_says_where_the_tokens_are(tmp_path: Path) -> None:
    """Its in-process sandbox keeps tokens in a folder `tokens list` does not read and that goes
    when serve stops: serve names it, and how to keep them; a local try is not warned about
    STRIPE_OAUTH_NB_SERVE_SECRET."""
    from _serve_helpers import manifest_for

    env = {k: v for k, v in os.environ.items() if not k.startswith("STRIPE_")}
    env["HOME"] = str(tmp_path / "home")
    port = free_port()
    folder = tmp_path / "app"
    manifest_for(folder, f"http://127.0.0.1:{port}/callback")
    process = subprocess.Popen(
        [sys.executable, "-m", "stripe_oauth_nb", "serve", "--port", str(port)],
        cwd=folder,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = json.loads(process.stdout.readline() or "{}")
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=30)
    assert line.get("sandbox") is True, err
    store = line["token_store"]
    assert f"{store} is the in-process sandbox's folder, removed when serve stops" in err
    assert f"stripe-oauth-nb tokens --store {store} list" in err
    assert "--store PATH to keep them" in err
    assert "STRIPE_OAUTH_NB_SERVE_SECRET" not in err
