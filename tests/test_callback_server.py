"""The loopback callback server, against the real thing (state, loopback, ports, limits, pages).

Timings are deadlines generous for a loaded 2-core machine: where a blocked server would wait
for its connection timeout, that timeout is set far above the bound the test asserts.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import re
import signal
import socket
import threading
import time
import urllib.parse
from collections.abc import Iterator

import pytest
from _ports import free_port
from hypothesis import given, settings
from hypothesis import strategies as st

from stripe_oauth_nb._errors import (
    AccessDeniedError,
    CallbackError,
    CallbackPortInUseError,
    CallbackStateError,
    CallbackTimeoutError,
)
from stripe_oauth_nb._http import httpx
from stripe_oauth_nb.oauth._attempts import AttemptLog
from stripe_oauth_nb.oauth._callback import CallbackEvent, CallbackServer, running_servers
from stripe_oauth_nb.oauth._callback._protocol import MAX_CONNECTIONS, MAX_HEADERS, MAX_REQUEST_LINE
from stripe_oauth_nb.oauth._install_link import InstallLink, build_install_link

CODE = "ac_EXAMPLEZ9y8X7w6V5u4T3s2R1q0"


def port_is_free(port: int) -> bool:
    """What a new server would do: bind with SO_REUSEADDR (TIME_WAIT is not 'in use')."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
            probe.listen()
        except OSError:
            return False
        return True


def released_within(port: int, seconds: float) -> bool:
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        if port_is_free(port):
            return True
        time.sleep(0.02)
    return False


def raw(port: int, data: bytes, timeout: float = 5.0) -> tuple[int, dict[str, str], bytes]:
    """Send bytes, read until the server closes; (status, headers, body)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as conn:
        conn.sendall(data)
        chunks = []
        while True:
            try:
                chunk = conn.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            chunks.append(chunk)
    response = b"".join(chunks)
    head, _, body = response.partition(b"\r\n\r\n")
    lines = head.decode("iso-8859-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return status, headers, body


class Setup:
    def __init__(self, *, deadline: float = 60.0, connection_timeout: float = 5.0) -> None:
        self.port = free_port()
        self.redirect_uri = f"http://127.0.0.1:{self.port}/callback"
        self.log = AttemptLog()
        self.events: list[CallbackEvent] = []
        self.server = CallbackServer(
            self.log,
            self.redirect_uri,
            deadline=deadline,
            connection_timeout=connection_timeout,
        )
        self.server.add_listener(self.events.append)
        self.server.start()
        self.link = self.new_link()

    def new_link(self) -> InstallLink:
        return build_install_link(
            mode="test",
            log=self.log,
            client_id="ca_Test1234567890",
            redirect_uri=self.redirect_uri,
            allowed_redirect_uris=[self.redirect_uri],
        )

    @property
    def state(self) -> str:
        return self.link.state.reveal()

    def url(self, query: str = "", path: str = "/callback") -> str:
        return f"http://127.0.0.1:{self.port}{path}" + (f"?{query}" if query else "")

    def good_query(self) -> str:
        return f"code={CODE}&state={self.state}"


@pytest.fixture
def setup() -> Iterator[Setup]:
    made = Setup()
    yield made
    made.server.stop()


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5.0, trust_env=False) as c:
        yield c


def assert_still_serving(setup: Setup, client: httpx.Client) -> None:
    """The attempt is still open and a real callback still works."""
    assert setup.log.find(setup.state).completed_at is None
    assert client.get(setup.url(setup.good_query())).status_code == 200
    assert setup.server.wait(30).code.reveal() == CODE


# -- 1: state ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        f"code={CODE}",
        f"code={CODE}&state=",
        f"code={CODE}&state=test.not-the-state",
        "error=access_denied&state=test.not-the-state",
    ],
    ids=["missing", "empty", "different", "denied-different"],
)
def test_bad_state_is_refused_and_the_attempt_stays_open(
    setup: Setup, client: httpx.Client, query: str
) -> None:
    answer = client.get(setup.url(query))
    assert answer.status_code == 400
    assert "install link" in answer.text
    assert setup.server.running
    assert setup.server.rejected == 1
    assert [e.kind for e in setup.events] == ["waiting", "rejected"]
    assert_still_serving(setup, client)


def test_repeated_state_is_refused_by_a_later_server(client: httpx.Client) -> None:
    first = Setup()
    assert client.get(first.url(first.good_query())).status_code == 200
    first.server.wait(30)
    second = CallbackServer(first.log, first.redirect_uri, deadline=60).start()
    try:
        answer = client.get(first.url(first.good_query()))  # replay
        assert answer.status_code == 400
        assert "already used" in answer.text
        assert second.running
    finally:
        second.stop()


def test_success_delivers_the_code_with_the_recorded_mode(
    setup: Setup, client: httpx.Client
) -> None:
    answer = client.get(setup.url(setup.good_query()))
    assert answer.status_code == 200
    code = setup.server.wait(30)
    assert code.code.reveal() == CODE
    assert code.mode == "test"
    assert code.attempt.state == setup.link.state
    assert CODE not in answer.text
    assert setup.state not in answer.text
    assert [e.kind for e in setup.events] == ["waiting", "received"]
    with pytest.raises(CallbackStateError, match="already used"):
        setup.log.find(setup.state)


def test_second_callback_during_the_same_wait_gets_no_second_code(client: httpx.Client) -> None:
    made = Setup()
    results: list[int] = []
    barrier = threading.Barrier(8)

    def hit() -> None:
        barrier.wait()
        try:
            results.append(client.get(made.url(made.good_query())).status_code)
        except httpx.HTTPError:
            results.append(0)  # the server stopped after the winner

    threads = [threading.Thread(target=hit) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count(200) == 1
    made.server.wait(30)


# -- 2: loopback only ----------------------------------------------------------------------


def test_binds_127_0_0_1_only(setup: Setup) -> None:
    assert setup.server.address == ("127.0.0.1", setup.port)
    # Another loopback address reaches a 0.0.0.0 listener, but not this one.
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.2", setup.port), timeout=1).close()


# -- 3: port taken -------------------------------------------------------------------------


def test_port_taken_by_another_program_fails_at_once() -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        started = time.monotonic()
        with pytest.raises(CallbackPortInUseError, match=f"Port {port}") as info:
            CallbackServer(AttemptLog(), f"http://127.0.0.1:{port}/callback").start()
        assert time.monotonic() - started < 5.0  # at once: no waiting, no retrying
        assert "another port" in str(info.value)
    assert port not in running_servers()


def test_port_taken_on_all_interfaces_is_also_refused() -> None:
    with socket.socket() as squatter:
        squatter.bind(("0.0.0.0", 0))  # noqa: S104 - the squatter, not our server
        squatter.listen()
        port = squatter.getsockname()[1]
        with pytest.raises(CallbackPortInUseError):
            CallbackServer(AttemptLog(), f"http://127.0.0.1:{port}/callback").start()


# -- 4: method and path --------------------------------------------------------------------


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "FOO"])
def test_other_methods_get_405_and_use_nothing_up(
    setup: Setup, client: httpx.Client, method: str
) -> None:
    answer = client.request(method, setup.url(setup.good_query()))
    assert answer.status_code == 405
    assert answer.headers["allow"] == "GET"
    assert setup.server.running
    assert_still_serving(setup, client)


@pytest.mark.parametrize(
    "path", ["/favicon.ico", "/", "/callback/", "/Callback", "/callbackx", "/x/callback"]
)
def test_other_paths_get_404_and_use_nothing_up(
    setup: Setup, client: httpx.Client, path: str
) -> None:
    answer = client.get(setup.url(setup.good_query(), path=path))
    assert answer.status_code == 404
    assert setup.server.running
    assert_still_serving(setup, client)


def test_absolute_form_target_is_not_the_callback(setup: Setup) -> None:
    target = f"http://127.0.0.1:{setup.port}/callback?{setup.good_query()}"
    request = f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{setup.port}\r\n\r\n".encode()
    assert raw(setup.port, request)[0] == 404
    assert setup.log.find(setup.state).completed_at is None


# -- 5: Host -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "host_lines",
    [
        ["Host: evil.example:{port}"],
        ["Host: evil.example"],
        ["Host: 127.0.0.1:1"],
        ["Host: 127.0.0.1"],
        [],
        ["Host: 127.0.0.1:{port}", "Host: evil.example"],
    ],
    ids=["rebinding", "no-port", "other-port", "missing-port", "missing", "duplicate"],
)
def test_foreign_host_is_refused(setup: Setup, host_lines: list[str]) -> None:
    headers = "".join(line.format(port=setup.port) + "\r\n" for line in host_lines)
    request = f"GET /callback?{setup.good_query()} HTTP/1.1\r\n{headers}\r\n".encode()
    status, _, body = raw(setup.port, request)
    assert status == 403
    assert b"redirect URI" in body
    assert setup.log.find(setup.state).completed_at is None


@pytest.mark.parametrize("host", ["localhost:{port}", "127.0.0.1:{port}", "LOCALHOST:{port}"])
def test_loopback_hosts_are_accepted(setup: Setup, host: str) -> None:
    request = (
        f"GET /callback?{setup.good_query()} HTTP/1.1\r\nHost: {host.format(port=setup.port)}"
        "\r\n\r\n"
    ).encode()
    assert raw(setup.port, request)[0] == 200
    assert setup.server.wait(30).code.reveal() == CODE


# -- 6: size caps; bodies never read ---------------------------------------------------------


def _request(setup: Setup, target: str, extra: str = "") -> bytes:
    return f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{setup.port}\r\n{extra}\r\n".encode()


@pytest.mark.parametrize(
    ("build", "status"),
    [
        (lambda s: _request(s, "/callback?x=" + "a" * MAX_REQUEST_LINE), 414),
        (lambda s: _request(s, "/callback?x=" + "a" * 200_000), 414),
        (
            lambda s: _request(s, "/x", "".join(f"X-{i}: y\r\n" for i in range(MAX_HEADERS + 5))),
            431,
        ),
        (lambda s: _request(s, "/x", "X-Big: " + "b" * 20_000 + "\r\n"), 431),
        (lambda s: _request(s, "/x", "X-Huge: " + "b" * 100_000 + "\r\n"), 431),
    ],
    ids=["line-9k", "line-200k", "too-many-headers", "header-20k", "header-100k"],
)
def test_oversized_requests_get_414_or_431(
    setup: Setup, client: httpx.Client, build: object, status: int
) -> None:
    assert callable(build)
    got, headers, _ = raw(setup.port, build(setup))
    assert got == status
    assert headers["cache-control"] == "no-store"
    assert_still_serving(setup, client)


def test_a_body_is_never_awaited(client: httpx.Client) -> None:
    setup = Setup(connection_timeout=60.0)  # a server awaiting the body would wait this long
    request = (
        f"POST /callback?{setup.good_query()} HTTP/1.1\r\nHost: 127.0.0.1:{setup.port}\r\n"
        "Content-Length: 1000000\r\nExpect: 100-continue\r\n\r\n"
    ).encode()
    started = time.monotonic()
    status, _, body = raw(setup.port, request, timeout=30)
    assert status == 405
    assert b"100 Continue" not in body
    assert time.monotonic() - started < 10.0
    assert_still_serving(setup, client)


# -- 7: silent connections -------------------------------------------------------------------


def test_silent_preconnect_does_not_block_and_is_closed(client: httpx.Client) -> None:
    made = Setup(connection_timeout=60.0)  # blocked, the callback would wait this long
    silent = socket.create_connection(("127.0.0.1", made.port))
    half = socket.create_connection(("127.0.0.1", made.port))
    half.sendall(b"GET /callback?code=")  # a request that never ends
    try:
        started = time.monotonic()
        assert client.get(made.url(made.good_query())).status_code == 200
        assert made.server.wait(30).code.reveal() == CODE
        assert time.monotonic() - started < 10.0
    finally:
        silent.settimeout(10)
        half.settimeout(10)
        for conn in (silent, half):
            with contextlib.suppress(ConnectionResetError):
                assert conn.recv(1024) == b""  # closed by the server
            conn.close()


def test_silent_connection_is_closed_after_the_connection_timeout() -> None:
    made = Setup(connection_timeout=1.0)
    try:
        conn = socket.create_connection(("127.0.0.1", made.port))
        conn.settimeout(10)
        started = time.monotonic()
        try:
            data = conn.recv(1024)
        except ConnectionResetError:
            data = b""
        elapsed = time.monotonic() - started
        conn.close()
        assert data == b""
        assert 0.8 < elapsed < 10.0
        assert made.server.running
    finally:
        made.server.stop()


# -- 8: the port is released on every exit path ----------------------------------------------


def _interrupt_main_thread_soon(delay: float) -> threading.Timer:
    timer = threading.Timer(
        delay, signal.pthread_kill, (threading.main_thread().ident, signal.SIGINT)
    )
    timer.start()
    return timer


@pytest.mark.parametrize(
    "path", ["success", "refusal", "deadline", "wait-timeout", "error", "interrupt", "stop"]
)
def test_port_released_within_one_second_on_every_exit(client: httpx.Client, path: str) -> None:
    made = Setup(deadline=0.5 if path == "deadline" else 60.0)
    assert not port_is_free(made.port)
    expected: type[BaseException] | None = {
        "success": None,
        "refusal": AccessDeniedError,
        "deadline": CallbackTimeoutError,
        "wait-timeout": CallbackTimeoutError,
        "error": CallbackError,
        "interrupt": KeyboardInterrupt,
        "stop": CallbackError,
    }[path]
    if path == "success":
        client.get(made.url(made.good_query()))
    elif path == "refusal":
        client.get(made.url(f"error=access_denied&state={made.state}"))
    elif path == "error":
        client.get(made.url(f"error=server_error&state={made.state}"))
    elif path == "interrupt":
        _interrupt_main_thread_soon(0.2)
    elif path == "stop":
        threading.Timer(0.2, made.server.stop).start()
    try:
        if expected is None:
            made.server.wait(30)
        else:
            with pytest.raises(expected):
                made.server.wait(0.3 if path == "wait-timeout" else 60)
    finally:
        ended = time.monotonic()
    assert released_within(made.port, 1.0)
    assert time.monotonic() - ended < 1.0
    assert not made.server.running
    assert made.port not in running_servers()


def test_deadline_ends_the_wait_and_tells_listeners() -> None:
    made = Setup(deadline=0.3)
    with pytest.raises(CallbackTimeoutError, match="within 0 s"):  # the deadline, not wait()
        made.server.wait(60)
    assert made.events[-1].kind == "expired"


def test_starting_again_on_the_port_stops_the_old_server(client: httpx.Client) -> None:
    old = Setup()
    new = CallbackServer(old.log, old.redirect_uri, deadline=60).start()
    try:
        assert not old.server.running
        assert running_servers()[old.port] is new
        with pytest.raises(CallbackError, match="stopped before a code arrived"):
            old.server.wait(1)
        assert client.get(old.url(old.good_query())).status_code == 200
        assert new.wait(30).code.reveal() == CODE
    finally:
        new.stop()


def test_context_manager_stops(client: httpx.Client) -> None:
    port = free_port()
    with CallbackServer(AttemptLog(), f"http://127.0.0.1:{port}/callback") as server:
        assert server.running
    assert released_within(port, 1.0)


# -- 9: access denied, escaped ---------------------------------------------------------------


def test_access_denied_is_typed_and_its_description_escaped_and_capped(
    setup: Setup, client: httpx.Client
) -> None:
    description = '<script>alert("x")</script><img src=//evil.example/a>' + "z" * 2000
    query = urllib.parse.urlencode(
        {"error": "access_denied", "error_description": description, "state": setup.state}
    )
    answer = client.get(setup.url(query))
    assert answer.status_code == 200
    assert "<script" not in answer.text
    assert "<img" not in answer.text
    assert "&lt;script&gt;" in answer.text
    assert "z" * 300 not in answer.text
    with pytest.raises(AccessDeniedError) as info:
        setup.server.wait(30)
    assert "z" * 300 not in str(info.value)
    assert setup.events[-1].kind == "refused"


# -- 10: the page ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kind", ["success", "refused", "bad-state", "not-found", "method", "host", "414", "431"]
)
def test_every_page_is_self_contained_with_the_security_headers(setup: Setup, kind: str) -> None:
    host = f"127.0.0.1:{setup.port}"
    target = {
        "success": f"/callback?{setup.good_query()}",
        "refused": f"/callback?error=access_denied&state={setup.state}",
        "bad-state": f"/callback?code={CODE}&state=test.x",
        "not-found": "/favicon.ico",
        "method": "/callback",
        "host": "/callback",
        "414": "/callback?" + "a" * 10_000,
        "431": "/callback",
    }[kind]
    method = "POST" if kind == "method" else "GET"
    if kind == "host":
        host = "evil.example"
    extra = "".join(f"X-{i}: 1\r\n" for i in range(100)) if kind == "431" else ""
    request = f"{method} {target} HTTP/1.1\r\nHost: {host}\r\n{extra}\r\n".encode()
    status, headers, body = raw(setup.port, request)
    assert status in {200, 400, 403, 404, 405, 414, 431}
    assert headers["cache-control"] == "no-store"
    assert headers["referrer-policy"] == "no-referrer"
    policy = headers["content-security-policy"]
    assert policy.startswith("default-src 'none'")
    assert "unsafe-inline" not in policy
    assert re.search(r"style-src 'sha256-[A-Za-z0-9+/=]+'", policy)  # its one style sheet
    assert headers["content-type"] == "text/html; charset=utf-8"
    assert headers["x-content-type-options"] == "nosniff"
    assert int(headers["content-length"]) == len(body)
    lowered = body.lower()
    for external in (b"src=", b"href=", b"<link", b"<script", b"url(", b"@import"):
        assert external not in lowered
    assert lowered.count(b"<style") == 1  # the style sheet the policy's hash allows
    sheet = re.search(rb"<style>(.*?)</style>", body, re.DOTALL)
    assert sheet is not None
    digest = base64.b64encode(hashlib.sha256(sheet.group(1)).digest()).decode()
    assert f"style-src 'sha256-{digest}'" in policy  # a browser applies it


# -- 11: arbitrary queries against the running server ----------------------------------------


def test_arbitrary_queries_never_stop_the_server(client: httpx.Client) -> None:
    made = Setup()
    statuses: list[int] = []

    @settings(max_examples=150, deadline=None)
    @given(
        st.lists(
            st.tuples(
                st.sampled_from(["code", "state", "error", "error_description", "x"]),
                st.text(alphabet=st.characters(codec="utf-8"), max_size=30),
            ),
            max_size=6,
        )
    )
    def send(pairs: list[tuple[str, str]]) -> None:
        query = urllib.parse.urlencode(pairs)
        answer = client.get(made.url(query))
        statuses.append(answer.status_code)
        assert answer.status_code == 400  # none of them carries the real state
        assert made.server.running

    try:
        send()
        # raw bytes the URL encoder would never produce
        for junk in (b"%", b"%zz", b"\xff\xfe", b"a=1&&", b"code=1;state=2", b"\x00"):
            request = (
                b"GET /callback?"
                + junk
                + b" HTTP/1.1\r\nHost: 127.0.0.1:"
                + str(made.port).encode()
                + b"\r\n\r\n"
            )
            assert raw(made.port, request)[0] == 400
        assert made.server.running
        assert len(statuses) > 0
        assert_still_serving(made, client)
    finally:
        made.server.stop()


# -- held connections cannot keep the redirect out -------------------------------------------


def _hold(port: int, count: int, first_bytes: bytes = b"") -> list[socket.socket]:
    held = []
    for _ in range(count):
        conn = socket.create_connection(("127.0.0.1", port), timeout=30)
        if first_bytes:
            conn.sendall(first_bytes)
        held.append(conn)
    return held


def test_the_redirect_gets_through_fifty_idle_and_fifty_slow_connections(
    client: httpx.Client,
) -> None:
    # A connection timeout far above the bound: only a server that serves the redirect while
    # the others are held passes (the http.server one reset it past 32 connections).
    made = Setup(connection_timeout=120.0)
    idle = _hold(made.port, 50)
    slow = _hold(made.port, 50, b"GET /callback?code=")
    stop = threading.Event()

    def trickle() -> None:  # the slow ones keep sending, a byte at a time
        while not stop.wait(0.2):
            for conn in slow:
                with contextlib.suppress(OSError):
                    conn.sendall(b"a")

    dripper = threading.Thread(target=trickle, daemon=True)
    dripper.start()
    try:
        time.sleep(0.5)  # every held connection is accepted and waiting
        started = time.monotonic()
        answer = client.get(made.url(made.good_query()), timeout=30)
        elapsed = time.monotonic() - started
        assert answer.status_code == 200
        assert made.server.wait(30).code.reveal() == CODE
        assert elapsed < 10.0  # bench/bench_callback.py measures it: milliseconds
    finally:
        stop.set()
        dripper.join(10)
        for conn in idle + slow:
            conn.close()


def test_beyond_the_cap_the_oldest_waiting_connection_is_closed(client: httpx.Client) -> None:
    made = Setup(connection_timeout=120.0)
    held = _hold(made.port, MAX_CONNECTIONS + 10)
    try:
        oldest = held[0]
        oldest.settimeout(30)
        with contextlib.suppress(ConnectionResetError):
            assert oldest.recv(1) == b""  # closed to make room
        assert client.get(made.url(made.good_query()), timeout=30).status_code == 200
        assert made.server.wait(30).code.reveal() == CODE
    finally:
        for conn in held:
            conn.close()


# -- only /callback, only HTTP/1.x -------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    ["//callback?{q}", "/callback/..?{q}", "/%63allback?{q}", "/./callback?{q}", "*"],
)
def test_only_the_exact_path_is_the_callback(setup: Setup, target: str) -> None:
    request = _request(setup, target.format(q=setup.good_query()))
    assert raw(setup.port, request)[0] in (400, 404)
    assert setup.log.find(setup.state).completed_at is None
    assert setup.server.running


@pytest.mark.parametrize(
    ("line", "status"),
    [
        ("GET /callback?{q}\r\n", 400),  # HTTP/0.9: no version, no headers
        ("GET /callback?{q}\r\n\r\n", 400),
        ("GET /callback?{q} HTTP/2.0\r\nHost: {host}\r\n\r\n", 505),
        ("GET /callback?{q} HTTP/1.1 extra\r\nHost: {host}\r\n\r\n", 400),
        ("GET  /callback?{q} HTTP/1.1\r\nHost: {host}\r\n\r\n", 400),
        ("GET /callback?{q} HTTP/1.1\r\nHost: {host}\r\n: no-name\r\n\r\n", 400),
        ("GET /callback?{q} HTTP/1.1\r\nHost: {host}\r\n folded\r\n\r\n", 400),
        (
            "GET /callback?{q} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 1\r\n"
            "Content-Length: 2\r\n\r\n",
            400,
        ),
    ],
    ids=[
        "http-0.9",
        "http-0.9-blank",
        "http-2",
        "extra",
        "double-space",
        "no-name",
        "fold",
        "two-lengths",
    ],
)
def test_malformed_requests_get_a_whole_http_answer_and_use_nothing(
    setup: Setup, client: httpx.Client, line: str, status: int
) -> None:
    data = line.format(q=setup.good_query(), host=f"127.0.0.1:{setup.port}").encode()
    with socket.create_connection(("127.0.0.1", setup.port), timeout=30) as conn:
        conn.sendall(data)
        answer = b""
        with contextlib.suppress(ConnectionResetError):
            while chunk := conn.recv(65536):
                answer += chunk
    assert answer.startswith(f"HTTP/1.1 {status} ".encode())  # never a bare HTTP/0.9 body
    assert b"\r\ncache-control: no-store\r\n" in answer.lower()
    assert_still_serving(setup, client)


def test_a_refused_head_request_gets_no_body(setup: Setup) -> None:
    request = b"HEAD /callback HTTP/1.1\r\nHost: evil.example\r\n\r\n"
    status, headers, body = raw(setup.port, request)
    assert status == 403
    assert int(headers["content-length"]) > 0
    assert body == b""


# -- times that are not numbers ----------------------------------------------------------------


@pytest.mark.parametrize("value", [float("nan"), -1.0, 0.0, "5"])
def test_a_deadline_that_is_not_a_time_is_refused(value: object) -> None:
    with pytest.raises(CallbackError, match="seconds"):
        CallbackServer(AttemptLog(), f"http://127.0.0.1:{free_port()}/callback", deadline=value)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [float("nan"), -1.0])
def test_a_wait_that_is_not_a_time_is_refused_and_stops(setup: Setup, value: float) -> None:
    with pytest.raises(CallbackError, match="seconds"):
        setup.server.wait(value)
    assert not setup.server.running


def test_an_endless_deadline_is_allowed(client: httpx.Client) -> None:
    port = free_port()
    log = AttemptLog()
    server = CallbackServer(log, f"http://127.0.0.1:{port}/callback", deadline=float("inf"))
    with server, pytest.raises(CallbackTimeoutError):
        server.wait(0.2)
    assert released_within(port, 1.0)


# -- where it listens ----------------------------------------------------------------------------


def test_another_loopback_address_is_served_on_that_address(client: httpx.Client) -> None:
    port = free_port()
    redirect_uri = f"http://127.0.0.2:{port}/callback"
    log = AttemptLog()
    with CallbackServer(log, redirect_uri, deadline=60) as server:
        assert server.address == ("127.0.0.2", port)
        link = build_install_link(
            mode="test",
            log=log,
            client_id="ca_Test1234567890",
            redirect_uri=redirect_uri,
            allowed_redirect_uris=[redirect_uri],
        )
        answer = client.get(f"{redirect_uri}?code={CODE}&state={link.state.reveal()}")
        assert answer.status_code == 200
        assert server.wait(30).code.reveal() == CODE


def test_importing_the_callback_package_loads_no_server_library() -> None:
    import json
    import subprocess
    import sys

    probe = (
        "import json, sys; import stripe_oauth_nb.oauth._callback, "
        "stripe_oauth_nb.oauth._authorize; "
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'uvicorn', 'starlette', 'h11'})))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []
