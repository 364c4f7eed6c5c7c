"""``stripe-oauth-nb serve`` as a real process: offline with nothing configured, against a
running sandbox, refusing what it must, and two processes behind one address (a load balancer)
sharing the signing key, the token store and the attempt log."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from _serve_helpers import browser, free_port, manifest_for, start_install

from stripe_oauth_nb._http import httpx
from stripe_oauth_nb.sandbox import Sandbox
from stripe_oauth_nb.tokens import FileTokenStore

#: Real processes or kernels in most tests here: out of the fast loop (`-m "not slow"`).
pytestmark = pytest.mark.slow

SECRET = "EXAMPLE-shared-signing-key-0123456789abcdef"


def _env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("STRIPE_", "STRIPE_OAUTH_NB_"))
        or k == "STRIPE_OAUTH_NB_SANDBOX_SECRETS_FILE"
    }
    return {**env, **extra}


class Served:
    """A ``serve`` process; ``info`` is its first stdout line."""

    def __init__(self, args: list[str], cwd: Path, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "stripe_oauth_nb", "serve", *args],
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        line = self.process.stdout.readline() if self.process.stdout else ""
        if not line:
            _, err = self.process.communicate(timeout=60)
            raise AssertionError(f"serve did not start: {err}")
        self.info: dict[str, Any] = json.loads(line)

    @property
    def url(self) -> str:
        return str(self.info["url"])

    def wait_ready(self) -> None:
        for _ in range(300):
            try:
                if httpx.get(self.url + "/healthz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            threading.Event().wait(0.1)
        raise AssertionError("serve did not answer /healthz")

    def stop(self) -> str:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        _, err = self.process.communicate(timeout=60)
        return err


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., Served]]:
    started: list[Served] = []

    def run(*args: str, env: dict[str, str] | None = None) -> Served:
        served = Served(list(args), tmp_path / "app", env or _env())
        started.append(served)
        served.wait_ready()
        return served

    yield run
    for served in started:
        served.stop()


def _run(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "stripe_oauth_nb", "serve", *args],
        cwd=cwd,
        env=env or _env(),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_serve_with_nothing_configured_runs_the_whole_loop_offline(
    serve: Callable[..., Served], tmp_path: Path
) -> None:
    port = free_port()
    manifest_for(tmp_path / "app", f"http://127.0.0.1:{port}/callback")
    store = tmp_path / "tokens" / "tokens.json"
    served = serve("--port", str(port), "--store", str(store))
    assert served.info["sandbox"] is True
    assert served.info["callback_url"] == f"http://127.0.0.1:{port}/callback"
    with browser() as b:
        home = b.get(served.url + "/")
        visit = start_install(b, served.url, None)
        done = b.get(visit.callback_url)
    assert "Install Reports Sync" in home.text
    assert done.status_code == 200
    assert [t.account_id for t in FileTokenStore(store).all()] != []
    logged = served.stop()
    assert "install completed" in logged
    assert visit.code not in logged
    assert visit.state not in logged


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--host", "0.0.0.0"], "reverse proxy that terminates TLS"),  # noqa: S104
        (["--public-url", "http://install.example.com"], "plain HTTP to another host"),
        (["--port", "8799"], "not one of the app's allowed_redirect_uris"),
        (["--port", "0"], "is not a port"),
        (["--manifest", "missing.json"], "does not exist"),
    ],
)
def test_serve_refuses_at_start_with_a_clear_message(
    tmp_path: Path, args: list[str], words: str
) -> None:
    manifest_for(tmp_path / "app", "http://127.0.0.1:8765/callback")
    result = _run(*args, cwd=tmp_path / "app")
    assert result.returncode == 1
    assert words in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


@pytest.fixture(scope="module")
def shared_sandbox() -> Iterator[Sandbox]:
    with Sandbox(customers=3) as sb:
        yield sb


def _behind_one_address(
    sb: Sandbox, tmp_path: Path, serve: Callable[..., Served], *, secret: str | None
) -> tuple[Served, Served, Path]:
    """Two serve processes, one public address (the first's), one store and attempt log."""
    public_port, other_port = free_port(), free_port()
    public = f"http://127.0.0.1:{public_port}"
    manifest_for(tmp_path / "app", f"{public}/callback")
    store = tmp_path / "shared" / "tokens.json"
    extra = {  # a sandbox configured by hand (its address and key), as Target documents
        "STRIPE_OAUTH_NB_TARGET": "sandbox",
        "STRIPE_API_BASE": sb.api_base,
        "STRIPE_MARKETPLACE_BASE": sb.marketplace_base,
        "STRIPE_SECRET_KEY_TEST": sb.test.secret_key,
        "STRIPE_OAUTH_NB_TOKEN_STORE": str(store),
    }
    if secret is not None:
        extra["STRIPE_OAUTH_NB_SERVE_SECRET"] = secret
    env = _env(**extra)
    first = serve("--port", str(public_port), env=env)
    second = serve("--port", str(other_port), "--public-url", public, env=env)
    assert first.info["sandbox"] is second.info["sandbox"] is False
    return first, second, store


def test_two_processes_behind_one_address_exchange_each_code_once(
    shared_sandbox: Sandbox, tmp_path: Path, serve: Callable[..., Served]
) -> None:
    sb = shared_sandbox
    sb.reset()
    first, second, store = _behind_one_address(sb, tmp_path, serve, secret=SECRET)
    accounts = [sb.create_account(f"Shop {n}") for n in range(10)]

    def one(account: str) -> list[int]:
        with browser() as b:
            visit = start_install(b, first.url, account)  # Install on one process...
            barrier = threading.Barrier(2)

            def land(base: str) -> int:  # ...the redirect reaches both at once
                barrier.wait(timeout=60)
                return b.get(visit.callback_url.replace(first.url, base)).status_code

            with ThreadPoolExecutor(2) as pool:
                return sorted(pool.map(land, [first.url, second.url]))

    with ThreadPoolExecutor(10) as pool:
        results = list(pool.map(one, accounts))
    assert results == [[200, 400]] * 10
    assert sb.stats()["grants"]["authorization_code"] == 10
    assert sorted(t.account_id for t in FileTokenStore(store).all()) == sorted(accounts)


def test_without_a_shared_key_another_process_refuses_the_cookie(
    shared_sandbox: Sandbox, tmp_path: Path, serve: Callable[..., Served]
) -> None:
    sb = shared_sandbox
    sb.reset()
    first, second, _ = _behind_one_address(sb, tmp_path, serve, secret=None)
    with browser() as b:
        visit = start_install(b, first.url, None)
        page = b.get(visit.callback_url.replace(first.url, second.url))
    assert page.status_code == 400
    assert "signed by another server key" in page.text
    assert sb.stats()["grants"]["authorization_code"] == 0
    assert "STRIPE_OAUTH_NB_SERVE_SECRET is not set" in second.stop()


def test_serve_help_names_every_option() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "stripe_oauth_nb", "serve", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0
    for option in ("--host", "--port", "--public-url", "--manifest", "--mode", "--store"):
        assert option in result.stdout
