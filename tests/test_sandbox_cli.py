"""``stripe-oauth-nb sandbox``: one JSON line, serves, masks its logs, exits 0 on a signal."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from stripe_oauth_nb._http import httpx


@pytest.fixture
def cli() -> Iterator[Any]:
    started: list[subprocess.Popen[str]] = []

    def run(*args: str) -> tuple[subprocess.Popen[str], dict[str, Any]]:
        proc = subprocess.Popen(
            [sys.executable, "-m", "stripe_oauth_nb", "sandbox", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        started.append(proc)
        assert proc.stdout is not None
        line = proc.stdout.readline()
        return proc, json.loads(line)

    yield run
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_cli_prints_one_json_line_serves_and_exits_cleanly(cli: Any, sig: signal.Signals) -> None:
    proc, info = cli("--customers", "7")
    assert set(info) >= {"api_base", "marketplace_base", "redirect_uris", "test", "live"}
    assert info["api_base"].startswith("http://127.0.0.1:")
    assert info["redirect_uris"] == [
        "http://127.0.0.1:8765/callback",
        "http://localhost:8765/callback",
    ]
    for mode in ("test", "live"):
        assert info[mode]["secret_key"].startswith(f"sk_{mode}_")
        assert info[mode]["client_id"].startswith("ca_")
    base = info["api_base"]
    with httpx.Client(base_url=base, trust_env=False, timeout=5) as c:
        params = {"client_id": info["test"]["client_id"], "state": "cli"}
        page = c.get("/oauth/v2/authorize", params=params)
        assert page.status_code == 200
        response = c.post(
            "/oauth/v2/authorize",
            data={**params, "redirect_uri": info["redirect_uris"][0], "decision": "accept"},
        )
        code = response.headers["location"].split("code=")[1].split("&")[0]
        tokens = c.post(
            "/v1/oauth/token",
            data={"grant_type": "authorization_code", "code": code},
            auth=(info["test"]["secret_key"], ""),
        ).json()
        # a token in a query string must not reach the access log
        customers = c.get(
            "/v1/customers",
            params={"limit": 100, "leak": tokens["access_token"]},
            auth=(tokens["access_token"], ""),
        )
        assert customers.status_code == 400  # unknown parameter, but the request was logged
        listed = c.get("/v1/customers", params={"limit": 100}, auth=(tokens["access_token"], ""))
        assert len(listed.json()["data"]) == 7
    proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=10)
    assert proc.returncode == 0
    assert '"GET /v1/customers HTTP/1.1" 200' in stderr  # the access log is on
    for secret in (
        tokens["access_token"],
        tokens["refresh_token"],
        code,
        info["test"]["secret_key"],
        info["live"]["secret_key"],
    ):
        assert secret not in stderr
    assert "leak=" not in stderr


def test_cli_fixed_port(cli: Any) -> None:
    with httpx.Client(trust_env=False) as probe:
        proc, first = cli()
        port = int(first["api_base"].rsplit(":", 1)[1])
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=10)
        proc, info = cli("--port", str(port))
        assert info["api_base"] == f"http://127.0.0.1:{port}"
        assert probe.get(f"{info['api_base']}/_sandbox/stats").status_code == 200
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=10)
        assert proc.returncode == 0


def test_cli_port_in_use_fails_with_a_message() -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "stripe_oauth_nb", "sandbox", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=20,
        )
    assert result.returncode == 1
    assert "cannot listen" in result.stderr
    assert result.stdout == ""
