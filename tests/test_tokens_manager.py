"""TokenManager in one process, against the sandbox: single-flight, proactive, lost answers."""

from __future__ import annotations

import dataclasses
import threading
import warnings
from pathlib import Path

import pytest
from _tokens_helpers import aged, disk_full, grants, lock_held_elsewhere, new_code, token_works

from stripe_oauth_nb._errors import (
    AuthorizeAgainError,
    RefreshResponseLostError,
    TokenError,
    TokenLockTimeoutError,
    TokenStoreError,
)
from stripe_oauth_nb._settings import Settings
from stripe_oauth_nb._tokenset import TokenSet
from stripe_oauth_nb.oauth._attempts import AttemptLog
from stripe_oauth_nb.sandbox import Sandbox
from stripe_oauth_nb.tokens import (
    FileTokenStore,
    MemoryTokenStore,
    RefreshTokenExpiringWarning,
    TokenManager,
    TokenStore,
)


@pytest.fixture(params=["file", "memory"])
def manager(
    request: pytest.FixtureRequest, sb: Sandbox, tmp_settings: Settings, tmp_path: Path
) -> TokenManager:
    store: TokenStore = (
        FileTokenStore(tmp_settings.token_store_path)
        if request.param == "file"
        else MemoryTokenStore()
    )
    log = AttemptLog(tmp_path / "attempts.json")
    manager = TokenManager(tmp_settings, store, log, clock=sb.now)
    manager.exchange(new_code(sb, log))
    return manager


def test_get_without_tokens_says_authorize_first(tmp_settings: Settings) -> None:
    manager = TokenManager(tmp_settings)
    with pytest.raises(AuthorizeAgainError, match="Authorize the app first"):
        manager.get()
    with pytest.raises(AuthorizeAgainError, match="acct_nope"):
        manager.access_token("acct_nope", False)


def test_get_picks_the_only_or_the_most_recently_authorized(
    sb: Sandbox, tmp_settings: Settings, tmp_path: Path
) -> None:
    log = AttemptLog(tmp_path / "attempts.json")
    manager = TokenManager(tmp_settings, attempts=log, clock=sb.now)
    test = manager.exchange(new_code(sb, log, "test"))
    assert manager.get() == test
    live = manager.exchange(new_code(sb, log, "live"))
    assert manager.get() == live
    assert manager.get(livemode=False) == test
    assert manager.get(sb.account_id, True) == live
    manager.refresh(sb.account_id, False, force=True)  # a refresh does not make it "recent"
    assert manager.get() == live
    assert [t.mode for t in manager.all()] == ["test", "live"]


@pytest.mark.parametrize(
    ("advance", "margin", "refreshed"),
    [
        (0, 300.0, False),
        (3600 - 301, 300.0, False),
        (3600 - 299, 300.0, True),
        (3600 + 5, 300.0, True),
        (1800, 2000.0, True),
        (1800, 0.0, False),
    ],
)
def test_access_token_refreshes_proactively_within_the_margin(
    sb: Sandbox, manager: TokenManager, advance: float, margin: float, refreshed: bool
) -> None:
    before = manager.get()
    sb.advance_clock(advance)
    token = manager.access_token(margin=margin)
    assert (token != before.access_token) is refreshed
    assert grants(sb)["refresh_token"] == int(refreshed)
    assert manager.store.load(*before.key).access_token == token  # persisted before returned
    assert token_works(sb, token)


def test_refresh_without_force_only_when_due(sb: Sandbox, manager: TokenManager) -> None:
    before = manager.get()
    assert manager.refresh() == before
    assert manager.refresh(force=True) != before
    assert grants(sb)["refresh_token"] == 1


def test_refresh_rotates_and_the_old_refresh_token_dies(sb: Sandbox, manager: TokenManager) -> None:
    old = manager.get()
    new = manager.refresh(force=True)
    assert new.refresh_token != old.refresh_token
    assert new.access_token != old.access_token
    with pytest.raises(AuthorizeAgainError):
        manager.client.refresh(old)


def test_eight_threads_one_refresh(sb: Sandbox, manager: TokenManager) -> None:
    old = manager.get()
    sb.advance_clock(3600)
    barrier = threading.Barrier(8)
    results: list[str] = []

    def work() -> None:
        barrier.wait()
        results.append(manager.access_token().reveal())

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert grants(sb)["refresh_token"] == 1
    assert len(results) == 8
    assert len(set(results)) == 1
    assert results[0] != old.access_token.reveal()


def test_stale_access_token_of_someone_who_already_refreshed_sends_nothing(
    sb: Sandbox, manager: TokenManager
) -> None:
    old = manager.get()
    new = manager.refresh(force=True)
    assert manager.refresh(stale_access_token=old.access_token) == new
    assert manager.refresh(stale_access_token=old.access_token, force=True) == new
    assert grants(sb)["refresh_token"] == 1
    third = manager.refresh(stale_access_token=new.access_token)  # mine just failed: refresh
    assert third != new
    assert grants(sb)["refresh_token"] == 2


def test_invalid_grant_rereads_the_store_once(
    sb: Sandbox, manager: TokenManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = manager.client.refresh
    rotated: list[TokenSet] = []

    def another_process_got_there_first(tokens: TokenSet) -> TokenSet:
        rotated.append(real(tokens))
        manager.store.save(rotated[0])
        return real(tokens)  # the old token again: invalid_grant

    monkeypatch.setattr(manager.client, "refresh", another_process_got_there_first)
    assert manager.refresh(force=True) == rotated[0]
    assert manager.inflight(*rotated[0].key) is None


def test_lost_answer_from_the_sandbox(sb: Sandbox, manager: TokenManager) -> None:
    old = manager.get()
    sb.inject_fault("token", "drop")
    with pytest.raises(RefreshResponseLostError, match="Token rotated, response lost") as info:
        manager.refresh(force=True)
    assert "authorize the app again" in str(info.value)
    assert manager.store.load(*old.key) == old  # the whole old pair, untouched
    assert grants(sb)["refresh_token"] == 1
    # next time: the record turns Stripe's invalid_grant into the same clear message ...
    with pytest.raises(RefreshResponseLostError, match="never stored its answer"):
        manager.refresh(force=True)
    assert grants(sb)["refresh_token"] == 2
    # ... and then knows it without asking again
    with pytest.raises(RefreshResponseLostError):
        manager.access_token(margin=4000)
    assert grants(sb)["refresh_token"] == 2
    assert manager.summary()[0]["state"] == "lost"
    # a new authorization replaces the pair and clears the record
    log = manager.attempts
    fresh = manager.exchange(new_code(sb, log))
    assert manager.inflight(*fresh.key) is None
    assert manager.refresh(force=True) != fresh


@pytest.mark.parametrize("status", [500, 503])
def test_server_error_on_refresh_then_a_retry_by_hand_works(
    sb: Sandbox, manager: TokenManager, status: int
) -> None:
    old = manager.get()
    sb.inject_fault("token", "error", status=status)
    with pytest.raises(TokenError, match=f"HTTP {status}") as info:
        manager.refresh(force=True)
    assert not isinstance(info.value, AuthorizeAgainError)
    assert sb.stats()["requests"]["token"] == 2  # the exchange, and this one: no retry
    assert manager.store.load(*old.key) == old
    assert manager.refresh(force=True).refresh_token != old.refresh_token


def test_rate_limited_refresh_is_not_retried(sb: Sandbox, manager: TokenManager) -> None:
    sb.inject_fault("token", "rate_limit", times=3)
    with pytest.raises(TokenError, match="429"):
        manager.refresh(force=True)
    assert sb.stats()["requests"]["token"] == 2  # the exchange, and this one


def test_failed_write_raises_but_keeps_the_new_tokens(
    sb: Sandbox, tmp_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = AttemptLog(tmp_path / "attempts.json")
    store = FileTokenStore(tmp_settings.token_store_path)
    manager = TokenManager(tmp_settings, store, log, clock=sb.now)
    old = manager.exchange(new_code(sb, log))

    with (
        disk_full(monkeypatch, store.path),
        pytest.raises(TokenStoreError, match="stay usable in this session"),
    ):
        manager.refresh(force=True)
    kept = manager.get()
    assert kept.refresh_token != old.refresh_token
    assert token_works(sb, kept.access_token)
    assert manager.access_token() == kept.access_token
    assert manager.summary()[0]["unsaved"] is True
    assert store.load(*old.key) == old
    assert manager.save_pending() == 1
    assert store.load(*old.key) == kept
    newest = manager.refresh(force=True)  # the stale record of the old pair is dropped
    assert newest.refresh_token != kept.refresh_token
    assert manager.inflight(*old.key) is None
    assert grants(sb)["refresh_token"] == 2


def test_refresh_lock_wait_is_bounded(sb: Sandbox, tmp_settings: Settings, tmp_path: Path) -> None:
    log = AttemptLog(tmp_path / "attempts.json")
    manager = TokenManager(tmp_settings, attempts=log, clock=sb.now, lock_timeout=0.3)
    manager.exchange(new_code(sb, log))
    with (
        lock_held_elsewhere(manager.store, manager.get().key),
        pytest.raises(TokenLockTimeoutError, match="try again in a minute"),
    ):
        manager.refresh(force=True)
    assert grants(sb)["refresh_token"] == 0


@pytest.mark.parametrize(
    ("days_old", "warns"), [(0, False), (334, False), (336, True), (364, True)]
)
def test_warning_as_the_refresh_token_nears_its_year(
    sb: Sandbox, manager: TokenManager, days_old: int, warns: bool
) -> None:
    tokens = manager.get()
    manager.store.save(
        dataclasses.replace(tokens, obtained_at=tokens.obtained_at - days_old * 86400)
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        manager.get()
    found = [w for w in caught if issubclass(w.category, RefreshTokenExpiringWarning)]
    assert bool(found) is warns
    if warns:
        assert "tokens refresh" in str(found[0].message)
        # access_token() rolls it for another year instead of only warning
        with warnings.catch_warnings(record=True) as after:
            warnings.simplefilter("always")
            manager.access_token(margin=0)
        assert not [w for w in after if issubclass(w.category, RefreshTokenExpiringWarning)]
        assert manager.get().refresh_expires_in(sb.now()) > 364 * 86400


def test_aged_store_tokens_are_refreshed_once(sb: Sandbox, manager: TokenManager) -> None:
    manager.store.save(aged(manager.get()))
    first = manager.access_token()
    assert manager.access_token() == first
    assert grants(sb)["refresh_token"] == 1
