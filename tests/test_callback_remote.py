"""Remote kernels: detection from the environment, and the proxy route for real."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from _ports import free_port

from stripe_oauth_nb._errors import CallbackError
from stripe_oauth_nb._http import httpx
from stripe_oauth_nb.oauth._attempts import AttemptLog
from stripe_oauth_nb.oauth._callback import (
    CallbackServer,
    detect_remote,
    hub_redirect_uri,
    local_endpoint,
)
from stripe_oauth_nb.oauth._install_link import build_install_link

CODE = "ac_EXAMPLEPr0xyC0de1234567890"


# -- detection -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("environ", "proxy", "kind", "uri"),
    [
        ({}, True, "local", None),
        (
            {"JUPYTERHUB_SERVICE_PREFIX": "/user/ann/", "JUPYTERHUB_API_URL": "http://hub:8081"},
            True,
            "jupyterhub",
            None,  # the public address is not in the environment
        ),
        (
            {
                "JUPYTERHUB_SERVICE_PREFIX": "/user/ann/",
                "JUPYTERHUB_PUBLIC_URL": "https://hub.example.org/",
            },
            True,
            "jupyterhub",
            "https://hub.example.org/hub/user-redirect/proxy/8765/callback",
        ),
        (
            {
                "JUPYTERHUB_USER": "ann",
                "JUPYTERHUB_PUBLIC_HUB_URL": "https://example.org/jhub/hub/",
                "JUPYTERHUB_BASE_URL": "/jhub/",
            },
            True,
            "jupyterhub",
            "https://example.org/jhub/hub/user-redirect/proxy/8765/callback",
        ),
        (
            {"JUPYTERHUB_SERVICE_PREFIX": "/user/ann/", "JUPYTERHUB_HOST": "https://h.example"},
            False,
            "jupyterhub",
            None,  # no jupyter-server-proxy: nothing reaches the port
        ),
        (
            {"BINDER_LAUNCH_HOST": "https://mybinder.org/", "JUPYTERHUB_SERVICE_PREFIX": "/u/"},
            True,
            "binder",
            None,
        ),
        ({"BINDER_SERVICE_HOST": "10.0.0.1"}, True, "binder", None),
    ],
    ids=["local", "hub-no-url", "hub", "hub-base-url", "hub-no-proxy", "binder", "binder-svc"],
)
def test_detection(environ: dict[str, str], proxy: bool, kind: str, uri: str | None) -> None:
    found = detect_remote(environ, proxy_available=proxy)
    assert found.kind == kind
    assert found.redirect_uri(8765) == uri
    advice = found.advice(8765)
    assert advice
    if uri:
        assert uri in advice
    if kind == "binder" or (kind == "jupyterhub" and not proxy):
        assert "paste" in advice


def test_proxy_installed_is_detected_here() -> None:
    assert detect_remote({}).proxy_available  # jupyter-server-proxy is a test dependency


def test_hub_redirect_uri_form() -> None:
    assert (
        hub_redirect_uri("https://hub.example.org/", 9001)
        == "https://hub.example.org/hub/user-redirect/proxy/9001/callback"
    )


@pytest.mark.parametrize(
    ("uri", "port", "path", "proxied", "host"),
    [
        ("http://127.0.0.1:8765/callback", 8765, "/callback", False, None),
        ("https://localhost:8443/cb", 8443, "/cb", False, None),
        (
            "https://hub.example.org/hub/user-redirect/proxy/8765/callback",
            8765,
            "/callback",
            True,
            "hub.example.org",
        ),
        ("https://h.example:444/user/ann/proxy/9000/a/b", 9000, "/a/b", True, "h.example:444"),
    ],
)
def test_local_endpoint(uri: str, port: int, path: str, proxied: bool, host: str | None) -> None:
    endpoint = local_endpoint(uri)
    assert (endpoint.port, endpoint.path, endpoint.proxied) == (port, path, proxied)
    assert endpoint.forwarded_host == host
    if proxied:
        assert endpoint.scheme == "http"  # the proxy speaks plain HTTP to the kernel


@pytest.mark.parametrize(
    ("uri", "host"),
    [
        ("http://127.0.0.1:8765/callback", "127.0.0.1"),
        ("http://localhost:8765/callback", "127.0.0.1"),
        ("http://127.0.0.2:8765/callback", "127.0.0.2"),
        ("http://[::1]:8765/callback", "::1"),
    ],
)
def test_every_loopback_host_is_served_on_its_own_address(uri: str, host: str) -> None:
    endpoint = local_endpoint(uri)
    assert endpoint.host == host
    assert not endpoint.proxied


@pytest.mark.parametrize(
    "uri",
    [
        "https://example.com/callback",
        "http://10.0.0.1:8765/callback",
        "http://localhost.evil.example:8765/callback",
        "http://x:bad/cb",
        "http://127.0.0.1:0/cb",
    ],
)
def test_unreachable_redirect_uris_say_to_paste(uri: str) -> None:
    with pytest.raises(CallbackError):
        local_endpoint(uri)


# -- the proxy route, for real -----------------------------------------------------------------


@pytest.fixture(scope="module")
def jupyter(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Jupyter server with jupyter-server-proxy, token disabled, on a free loopback port."""
    root = tmp_path_factory.mktemp("jupyter-root")
    port = free_port()
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(root / "runtime")}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyter_server",
            "--no-browser",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={port}",
            "--ServerApp.port_retries=0",
            "--IdentityProvider.token=",
            "--ServerApp.password=",
            f"--ServerApp.root_dir={root}",
            "--ServerApp.allow_root=True",
            "--ServerApp.jpserver_extensions={'jupyter_server_proxy': True}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
        cwd=Path(root),
    )
    base = f"http://127.0.0.1:{port}"
    try:
        until = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/api", timeout=1, trust_env=False).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert process.poll() is None, "jupyter server exited"
            assert time.monotonic() < until, "jupyter server did not start"
            time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.mark.slow
def test_code_is_caught_through_jupyter_server_proxy(jupyter: str) -> None:
    port = free_port()
    # What the user puts in the manifest on a server reached at `jupyter` (on a hub it is
    # https://<hub>/hub/user-redirect/proxy/<port>/callback, which lands on the same route).
    redirect_uri = f"{jupyter}/proxy/{port}/callback"
    log = AttemptLog()
    server = CallbackServer(log, redirect_uri, deadline=30).start()
    try:
        assert server.endpoint.proxied
        assert server.local_url == f"http://127.0.0.1:{port}/callback"
        link = build_install_link(
            mode="test",
            log=log,
            client_id="ca_Proxy1234567",
            redirect_uri=redirect_uri,
            allowed_redirect_uris=[redirect_uri],
        )
        state = link.state.reveal()
        with httpx.Client(timeout=10, trust_env=False) as client:
            stray = client.get(f"{redirect_uri}?code={CODE}&state=test.wrong")
            assert stray.status_code == 400  # through the proxy, refused, still waiting
            assert client.get(f"{jupyter}/proxy/{port}/favicon.ico").status_code == 404
            answer = client.get(f"{redirect_uri}?code={CODE}&state={state}")
        assert answer.status_code == 200
        assert answer.headers["content-security-policy"].startswith("default-src 'none'")
        code = server.wait(5)
        assert code.code.reveal() == CODE
        assert code.attempt.redirect_uri == redirect_uri
    finally:
        server.stop()


@pytest.mark.slow
def test_proxy_forwards_the_servers_host_which_a_loopback_only_server_refuses(
    jupyter: str,
) -> None:
    port = free_port()
    log = AttemptLog()
    server = CallbackServer(log, f"http://127.0.0.1:{port}/callback", deadline=30).start()
    try:
        with httpx.Client(timeout=10, trust_env=False) as client:
            answer = client.get(f"{jupyter}/proxy/{port}/callback?code={CODE}&state=test.x")
        # jupyter-server-proxy passes the browser's Host (the Jupyter server's) through.
        assert answer.status_code == 403
        assert server.running
    finally:
        server.stop()
