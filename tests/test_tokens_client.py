"""The token endpoint client against the sandbox: a code leaves at most once, typed errors."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from _tokens_helpers import grants, new_code

from stripe_oauth_nb._errors import (
    AuthorizeAgainError,
    CodeAlreadyUsedError,
    ConfigError,
    ModeMismatchError,
    NetworkError,
    StripeOAuthNBError,
    TokenError,
)
from stripe_oauth_nb._http import httpx
from stripe_oauth_nb._masking import Secret
from stripe_oauth_nb._settings import ModeCredentials, Settings
from stripe_oauth_nb.oauth._attempts import AttemptLog
from stripe_oauth_nb.sandbox import Sandbox
from stripe_oauth_nb.tokens import MemoryTokenStore, TokenClient, TokenManager

FAST = httpx.Timeout(connect=2.0, read=0.5, write=2.0, pool=2.0)


@pytest.fixture
def log(tmp_path: Path) -> AttemptLog:
    return AttemptLog(tmp_path / "attempts.json")


@pytest.fixture
def manager(sb: Sandbox, tmp_settings: Settings, log: AttemptLog) -> TokenManager:
    return TokenManager(tmp_settings, attempts=log, clock=sb.now, timeout=FAST)


@pytest.mark.parametrize("mode", ["test", "live"])
def test_exchange_returns_and_stores_a_token_set(
    sb: Sandbox, tmp_settings: Settings, log: AttemptLog, mode: str
) -> None:
    manager = TokenManager(tmp_settings, attempts=log, clock=sb.now)
    tokens = manager.exchange(new_code(sb, log, mode))  # type: ignore[arg-type]
    assert tokens.account_id == sb.account_id
    assert tokens.mode == mode
    assert tokens.access_token.reveal().startswith(f"rk_{mode}_")
    assert tokens.refresh_token.reveal().startswith("rt_")
    assert tokens.publishable_key.startswith(f"pk_{mode}_")
    assert manager.store.load(*tokens.key) == tokens
    assert abs(tokens.access_expires_at - (sb.now() + 3600)) < 5
    assert grants(sb)["authorization_code"] == 1


def test_second_exchange_of_a_code_sends_nothing(
    sb: Sandbox, tmp_settings: Settings, tmp_path: Path
) -> None:
    log = AttemptLog(tmp_path / "attempts.json")
    code = new_code(sb, log)
    TokenManager(tmp_settings, attempts=log).exchange(code)
    assert grants(sb)["authorization_code"] == 1
    # the same manager, and a fresh one over the same attempt file (a re-run cell, a new kernel)
    again = [
        TokenManager(tmp_settings, attempts=log),
        TokenManager(tmp_settings, attempts=AttemptLog(tmp_path / "attempts.json")),
    ]
    for manager in again:
        with pytest.raises(CodeAlreadyUsedError, match="install link again"):
            manager.exchange(code)
    assert grants(sb)["authorization_code"] == 1


@pytest.mark.parametrize(
    ("kind", "options", "error", "message"),
    [
        ("delay", {"seconds": 1.5}, NetworkError, "never sent twice"),
        ("drop", {}, NetworkError, "never sent twice"),
        ("error", {"status": 500}, TokenError, "not sent again"),
        ("error", {"status": 503}, TokenError, "not sent again"),
    ],
)
def test_exchange_is_never_retried(
    sb: Sandbox,
    manager: TokenManager,
    log: AttemptLog,
    kind: str,
    options: dict[str, float],
    error: type[Exception],
    message: str,
) -> None:
    code = new_code(sb, log)
    sb.inject_fault("token", kind, times=5, **options)  # type: ignore[arg-type]
    with pytest.raises(error, match=message):
        manager.exchange(code)
    assert sb.stats()["requests"]["token"] == 1
    with pytest.raises(CodeAlreadyUsedError):
        manager.exchange(code)  # and not by hand either
    assert sb.stats()["requests"]["token"] == 1


def test_expired_code_is_code_already_used(
    sb: Sandbox, manager: TokenManager, log: AttemptLog
) -> None:
    code = new_code(sb, log)
    sb.advance_clock(301)
    with pytest.raises(CodeAlreadyUsedError, match="already used or has expired"):
        manager.exchange(code)


def _live_key_in_test_slot(settings: Settings) -> Settings:
    # Refused where credentials are made (ModeCredentials), the one check of a key's mode.
    test = ModeCredentials("test", settings.live.secret_key, settings.test.client_id)
    return dataclasses.replace(settings, test=test)


MISMATCHES: list[tuple[str, Callable[[Settings], Settings], str]] = [
    ("attempt-says-test-client-is-live", lambda s: s, "live-mode client id"),
    ("live-key-configured-for-test", _live_key_in_test_slot, "live-mode key"),
]


@pytest.mark.parametrize(("case", "change", "message"), MISMATCHES, ids=[m[0] for m in MISMATCHES])
def test_exchange_mode_mismatch_is_refused_before_any_request(
    sb: Sandbox,
    tmp_settings: Settings,
    log: AttemptLog,
    case: str,
    change: Callable[[Settings], Settings],
    message: str,
) -> None:
    code = new_code(sb, log, "live" if case.startswith("attempt") else "test")
    if case.startswith("attempt"):  # a test attempt carrying the live client id
        attempt = dataclasses.replace(code.attempt, mode="test")
        code = dataclasses.replace(code, attempt=attempt)
    before = sb.stats()["requests"].get("token", 0)
    with pytest.raises(ModeMismatchError, match=message):
        TokenManager(change(tmp_settings), attempts=log).exchange(code)
    assert sb.stats()["requests"].get("token", 0) == before
    assert log.find(code.attempt.state.reveal()).code_sent_at is None  # still usable


@pytest.mark.parametrize(
    ("livemode", "access_prefix"), [(False, "rk_live_"), (True, "rk_test_")], ids=["t", "l"]
)
def test_refresh_mode_mismatch_is_refused_before_any_request(
    sb: Sandbox, tmp_settings: Settings, livemode: bool, access_prefix: str
) -> None:
    from stripe_oauth_nb._tokenset import TokenSet

    tokens = TokenSet(
        access_token=Secret(access_prefix + "x" * 40),
        refresh_token=Secret("rt_" + "y" * 40),
        account_id=sb.account_id,
        livemode=livemode,
        obtained_at=0.0,
    )
    manager = TokenManager(tmp_settings, MemoryTokenStore(tokens), clock=sb.now)
    with pytest.raises(ModeMismatchError):
        manager.refresh(force=True)
    with pytest.raises(ModeMismatchError):
        manager.access_token()
    assert sb.stats()["requests"].get("token", 0) == 0
    assert manager.inflight(*tokens.key) is None


def test_unknown_secret_key_is_a_config_error_naming_the_setting(
    sb: Sandbox, tmp_settings: Settings, log: AttemptLog
) -> None:
    wrong = "sk_test_" + "Z" * 30
    settings = dataclasses.replace(
        tmp_settings, test=ModeCredentials("test", Secret(wrong), tmp_settings.test.client_id)
    )
    with pytest.raises(ConfigError, match="STRIPE_SECRET_KEY_TEST") as info:
        TokenManager(settings, attempts=log).exchange(new_code(sb, log))
    assert wrong not in str(info.value)
    assert "sk_test_…ZZZZ" in str(info.value)


def test_refresh_with_a_dead_refresh_token_says_authorize_again(
    sb: Sandbox, manager: TokenManager, log: AttemptLog
) -> None:
    tokens = manager.exchange(new_code(sb, log))
    manager.client.refresh(tokens)  # rotate behind the manager's back
    with pytest.raises(AuthorizeAgainError, match="authorize the app again") as info:
        manager.refresh(force=True)
    assert type(info.value) is AuthorizeAgainError
    assert manager.inflight(*tokens.key) is None  # a clear answer: nothing in flight


def test_connect_failure_sends_nothing_and_keeps_the_tokens(
    sb: Sandbox, tmp_settings: Settings, log: AttemptLog
) -> None:
    manager = TokenManager(tmp_settings, attempts=log, clock=sb.now)
    tokens = manager.exchange(new_code(sb, log))
    closed = dataclasses.replace(tmp_settings, api_base="http://127.0.0.1:9")
    offline = TokenManager(closed, manager.store, clock=sb.now)
    with pytest.raises(NetworkError, match="nothing was sent"):
        offline.refresh(force=True)
    assert offline.inflight(*tokens.key) is None
    assert manager.refresh(force=True).refresh_token != tokens.refresh_token


def test_no_secret_in_any_repr_str_or_error(
    sb: Sandbox, manager: TokenManager, log: AttemptLog
) -> None:
    code = new_code(sb, log)
    tokens = manager.exchange(code)
    secrets = [
        code.code.reveal(),
        tokens.access_token.reveal(),
        tokens.refresh_token.reveal(),
        sb.test.secret_key,
    ]
    shown = [repr(tokens), str(tokens), repr(code), repr(manager), repr(manager.client)]
    shown += [repr(manager.summary()), repr(manager.store)]
    errors: list[StripeOAuthNBError] = []
    for attempt in (lambda: manager.exchange(code), lambda: manager.client.exchange(code, log)):
        try:
            attempt()
        except StripeOAuthNBError as exc:
            errors.append(exc)
    manager.client.refresh(tokens)
    try:
        manager.refresh(force=True)
    except StripeOAuthNBError as exc:
        errors.append(exc)
    assert len(errors) == 3
    shown += [repr(e) + str(e) + repr(e.args) for e in errors]
    for text in shown:
        for secret in secrets:
            assert secret not in text


def test_client_reuses_a_given_http_client_and_closes_only_its_own(
    sb: Sandbox, tmp_settings: Settings
) -> None:
    with httpx.Client() as shared:
        client = TokenClient(tmp_settings, http=shared)
        client.close()
        assert not shared.is_closed
    own = TokenClient(tmp_settings)
    assert own.url == f"{sb.api_base}/v1/oauth/token"
    own.close()


# -- a total deadline per request -----------------------------------------------------------
class Trickle:
    """A loopback server that reads the request, then sends one byte a second, forever."""

    def __init__(self) -> None:
        import socket
        import threading

        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        import contextlib

        self.server.settimeout(0.2)
        while not self.stop.is_set():
            try:
                conn, _ = self.server.accept()
            except OSError:
                continue
            with conn, contextlib.suppress(OSError):
                conn.recv(65536)
                for byte in b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" * 100:
                    if self.stop.wait(1.0):
                        return
                    conn.sendall(bytes([byte]))

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        self.server.close()


@pytest.fixture
def trickle() -> Iterator[Trickle]:
    server = Trickle()
    yield server
    server.close()


@pytest.mark.slow
def test_a_trickling_server_cannot_hold_a_refresh_or_its_lock_past_the_deadline(
    sb: Sandbox, tmp_settings: Settings, log: AttemptLog, trickle: Trickle
) -> None:
    import threading
    import time

    from stripe_oauth_nb._errors import RefreshResponseLostError
    from stripe_oauth_nb.tokens import DEFAULT_DEADLINE, DEFAULT_LOCK_TIMEOUT

    assert DEFAULT_DEADLINE < DEFAULT_LOCK_TIMEOUT  # a waiter always outlasts a holder
    stored = TokenManager(tmp_settings, attempts=log, clock=sb.now).exchange(new_code(sb, log))
    slow = dataclasses.replace(tmp_settings, api_base=f"http://127.0.0.1:{trickle.port}")
    manager = TokenManager(slow, attempts=log, clock=sb.now, deadline=2.0, lock_timeout=8.0)
    waiter = TokenManager(slow, attempts=log, clock=sb.now, deadline=2.0, lock_timeout=8.0)
    outcome: list[BaseException] = []

    def second() -> None:  # another refresh of the same set, waiting for the lock meanwhile
        time.sleep(0.3)
        try:
            waiter.refresh(force=True)
        except Exception as exc:
            outcome.append(exc)

    other = threading.Thread(target=second)
    other.start()
    started = time.monotonic()
    with pytest.raises(RefreshResponseLostError, match=r"within the 2 s deadline"):
        manager.refresh(force=True)
    assert time.monotonic() - started < 6.0  # per-read timeouts alone: forever
    other.join(20)
    assert outcome, "the second refresh never finished"
    # it got the lock (no TokenLockTimeoutError) and met the interrupted record in turn
    assert type(outcome[0]).__name__ != "TokenLockTimeoutError", outcome[0]
    assert manager.inflight(*stored.key) is not None  # sent, answer unknown: recorded


def test_a_trickling_server_cannot_hold_a_code_exchange_past_the_deadline(
    sb: Sandbox, tmp_settings: Settings, log: AttemptLog, trickle: Trickle
) -> None:
    import time

    slow = dataclasses.replace(tmp_settings, api_base=f"http://127.0.0.1:{trickle.port}")
    manager = TokenManager(slow, attempts=log, clock=sb.now, deadline=1.5)
    started = time.monotonic()
    with pytest.raises(NetworkError, match=r"deadline.*install link again"):
        manager.exchange(new_code(sb, log))
    assert time.monotonic() - started < 5.0


def test_a_429_on_the_code_exchange_says_to_authorize_again(
    sb: Sandbox, manager: TokenManager, log: AttemptLog
) -> None:
    code = new_code(sb, log)
    sb.inject_fault("token", "rate_limit")
    with pytest.raises(TokenError, match="429") as info:
        manager.exchange(code)
    message = str(info.value)
    assert "authorize again" in message
    assert "open the install link again" in message
    assert "try again" not in message.replace("authorize again", "")
    with pytest.raises(CodeAlreadyUsedError):  # and the code is indeed never sent again
        manager.exchange(code)
    assert sb.stats()["requests"]["token"] == 1
