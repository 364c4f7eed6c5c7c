"""API calls end at a total deadline; plain HTTP only to loopback; Stripe's Request-Id is kept.

The slow servers here are real sockets on loopback that answer one byte at a time, the way a
hostile or broken server can keep a per-read timeout from ever firing.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Generator, Iterator

import pytest

from stripe_oauth_nb._errors import (
    AuthenticationError,
    ConfigError,
    NetworkError,
    PermissionDeniedError,
    StripeAPIError,
)
from stripe_oauth_nb._http import deadline, httpx, time_left
from stripe_oauth_nb.api import ApiClient, validate

TOKEN = "rk_test_EXAMPLEdeadline00000000001"
#: How long the slow-server tests allow a call (seconds), and the most a test may then take:
#: generous for a loaded 2-core machine, and still far from "minutes".
DEADLINE = 2.0
BOUND = 15.0


class StaticAuth(httpx.Auth):
    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {TOKEN}"
        yield request


Behaviour = Callable[[socket.socket, threading.Event], None]


@contextlib.contextmanager
def slow_server(behaviour: Behaviour) -> Iterator[str]:
    """A loopback server running ``behaviour(conn, stop)`` for every connection."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.settimeout(0.2)
    stop = threading.Event()
    threads: list[threading.Thread] = []

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            thread = threading.Thread(target=_run, args=(conn,), daemon=True)
            threads.append(thread)
            thread.start()

    def _run(conn: socket.socket) -> None:
        with contextlib.suppress(OSError), conn:
            behaviour(conn, stop)

    acceptor = threading.Thread(target=serve, daemon=True)
    acceptor.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        acceptor.join(5)
        listener.close()
        for thread in threads:
            thread.join(5)


def _read_head(conn: socket.socket) -> None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            return
        data += chunk


def trickle_body(conn: socket.socket, stop: threading.Event) -> None:
    """Headers at once, then a promised 100 kB body one byte every 0.2 s."""
    _read_head(conn)
    conn.sendall(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n"
    )
    while not stop.wait(0.2):
        conn.sendall(b" ")


def trickle_headers(conn: socket.socket, stop: threading.Event) -> None:
    """A status line and headers that never end, one byte every 0.2 s."""
    _read_head(conn)
    for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 100_000:
        if stop.wait(0.2):
            return
        conn.sendall(bytes([byte]))


def unavailable_for_a_minute(conn: socket.socket, stop: threading.Event) -> None:
    """503 asking for a retry after 50 s (within the policy's limit, far past the deadline)."""
    _read_head(conn)
    conn.sendall(
        b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 50\r\nContent-Length: 2\r\n"
        b"Connection: close\r\n\r\n{}"
    )


@pytest.mark.slow
@pytest.mark.parametrize("behaviour", [trickle_body, trickle_headers], ids=["body", "headers"])
def test_a_trickling_server_cannot_hold_a_call_past_its_deadline(behaviour: Behaviour) -> None:
    with (
        slow_server(behaviour) as base,
        ApiClient(StaticAuth(), base_url=base, call_deadline=DEADLINE) as client,
    ):
        started = time.monotonic()
        with pytest.raises(NetworkError, match="did not finish in time") as caught:
            client.get("/v1/account")
        elapsed = time.monotonic() - started
    assert DEADLINE * 0.9 < elapsed < BOUND
    assert TOKEN not in str(caught.value)


@pytest.mark.slow
@pytest.mark.parametrize("behaviour", [trickle_body, trickle_headers], ids=["body", "headers"])
def test_validate_has_one_deadline_for_the_whole_check(behaviour: Behaviour) -> None:
    with slow_server(behaviour) as base, ApiClient(StaticAuth(), base_url=base) as client:
        started = time.monotonic()
        report = validate(client, deadline=DEADLINE)
        elapsed = time.monotonic() - started
    assert not report.ok
    assert [check.ok for check in report.checks] == [False, False]
    assert "NetworkError" in report.summary()
    # Both calls together, not one deadline each (and nowhere near the 400 s of a trickle).
    assert elapsed < DEADLINE + BOUND / 2


def test_no_retry_wait_runs_past_the_deadline() -> None:
    with (
        slow_server(unavailable_for_a_minute) as base,
        ApiClient(StaticAuth(), base_url=base, call_deadline=DEADLINE) as client,
    ):
        started = time.monotonic()
        with pytest.raises(StripeAPIError) as caught:
            client.get("/v1/account")
        assert caught.value.status == 503
        assert time.monotonic() - started < BOUND


def test_nested_deadlines_keep_the_earlier_end() -> None:
    assert time_left() is None
    with deadline(100):
        outer = time_left()
        with deadline(1):
            inner = time_left()
            with deadline(50):
                assert (time_left() or 0) <= 1.0
        assert outer is not None
        assert inner is not None
        assert inner <= 1.0 < outer
    assert time_left() is None


@pytest.mark.parametrize("seconds", [0, -1, float("nan"), float("inf")])
def test_a_deadline_must_be_a_positive_finite_time(seconds: float) -> None:
    with pytest.raises(ValueError, match="positive"), deadline(seconds):
        pass


# -- plain HTTP only to loopback, refused before any request ---------------------------------


@pytest.mark.parametrize(
    "base_url", ["http://some-host:18899", "http://10.0.0.1", "::::", "https://h:99999"]
)
def test_api_client_refuses_a_base_url_before_any_request(base_url: str) -> None:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={})

    with pytest.raises(ConfigError, match="https://"):
        ApiClient(StaticAuth(), base_url=base_url, transport=httpx.MockTransport(handler))
    assert sent == []


@pytest.mark.parametrize("base_url", ["http://127.0.0.1:9", "http://localhost:9", "http://[::1]:9"])
def test_api_client_accepts_loopback_http(base_url: str) -> None:
    with ApiClient(StaticAuth(), base_url=base_url) as client:
        assert client.base_url == base_url


# -- Stripe's Request-Id on every API error --------------------------------------------------


@pytest.mark.parametrize(
    ("status", "code", "kind"),
    [
        (401, "api_key_expired", AuthenticationError),
        (403, "insufficient_permissions", PermissionDeniedError),
        (404, "resource_missing", StripeAPIError),
        (400, "parameter_missing", StripeAPIError),
        (500, "api_error", StripeAPIError),
    ],
)
def test_request_id_is_kept_and_quoted(status: int, code: str, kind: type[StripeAPIError]) -> None:
    request_id = "req_EXAMPLE1a2B3c4D5e"

    def handler(request: httpx.Request) -> httpx.Response:
        body = {"error": {"code": code, "message": "nope"}}
        return httpx.Response(status, json=body, headers={"Request-Id": request_id})

    client = ApiClient(
        StaticAuth(), base_url="https://api.stripe.com", transport=httpx.MockTransport(handler)
    )
    client.retry.sleep = lambda _seconds: None
    with client, pytest.raises(kind) as caught:
        client.get("/v1/customers")
    assert caught.value.request_id == request_id
    assert request_id in str(caught.value)
    assert "Stripe support" in str(caught.value)


@pytest.mark.parametrize(
    "header", [None, "", "not-a-request-id", "req_<script>", "req_" + "a" * 200]
)
def test_a_missing_or_odd_request_id_is_not_quoted(header: str | None) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        headers = {"Request-Id": header} if header is not None else {}
        return httpx.Response(404, json={"error": {"message": "nope"}}, headers=headers)

    client = ApiClient(
        StaticAuth(), base_url="https://api.stripe.com", transport=httpx.MockTransport(handler)
    )
    with client, pytest.raises(StripeAPIError) as caught:
        client.get("/v1/x")
    assert caught.value.request_id is None
    assert "request id" not in str(caught.value)


@pytest.mark.parametrize(
    "path", ["https://evil.example/v1/x", "http://evil.example/v1/x", "//evil.example/x", "v1/x"]
)
def test_the_token_never_goes_to_another_host(path: str) -> None:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={})

    client = ApiClient(
        StaticAuth(), base_url="https://api.stripe.com", transport=httpx.MockTransport(handler)
    )
    with client, pytest.raises(ValueError, match="not an API path"):
        client.get(path)
    assert sent == []
