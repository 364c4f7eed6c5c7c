"""TokenManager: how often a refresh reads the store, tokens carried by "not stored" errors,
one freshness rule (``TokenSet.is_due``) and one cleaner for server text."""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path
from typing import Any

import pytest
from _tokens_helpers import aged, grants, lock_held_elsewhere, new_code, token_works

from stripe_oauth_nb._attempts import AttemptLog
from stripe_oauth_nb._errors import AuthorizeAgainError, TokenStoreError
from stripe_oauth_nb._masking import Secret, clean_server_text
from stripe_oauth_nb._settings import DEFAULT_MARGIN, REFRESH_WARNING_WINDOW, Settings
from stripe_oauth_nb._tokens import FileTokenStore, TokenManager
from stripe_oauth_nb._tokens._refresh import InflightLog
from stripe_oauth_nb._tokenset import ACCESS_TOKEN_LIFETIME, REFRESH_TOKEN_LIFETIME, TokenSet
from stripe_oauth_nb.sandbox import Sandbox


class Counter:
    """Counts calls of some methods of one object (instance attributes shadow the class's)."""

    def __init__(self, target: object, *names: str) -> None:
        self.calls: dict[str, int] = dict.fromkeys(names, 0)
        for name in names:
            original = getattr(target, name)

            def counted(*args: Any, _name: str = name, _original: Any = original, **kw: Any) -> Any:
                self.calls[_name] += 1
                return _original(*args, **kw)

            setattr(target, name, counted)


@pytest.fixture
def filed(sb: Sandbox, tmp_settings: Settings, tmp_path: Path) -> TokenManager:
    log = AttemptLog(tmp_path / "attempts.json")
    store = FileTokenStore(tmp_settings.token_store_path)
    manager = TokenManager(tmp_settings, store, log, clock=sb.now)
    manager.exchange(new_code(sb, log))
    return manager


# -- finding 1: reads per refresh ------------------------------------------------------------
@pytest.mark.parametrize("key_given", [False, True])
def test_a_due_access_token_reads_the_store_twice_and_the_inflight_file_once(
    sb: Sandbox, filed: TokenManager, key_given: bool
) -> None:
    tokens = filed.get()
    filed.store.save(aged(tokens))  # the access token is due
    store = Counter(filed.store, "load", "all", "_read")
    inflight = Counter(filed._inflight, "_read")
    args = tokens.key if key_given else ()
    new = filed.access_token(*args)
    assert new != tokens.access_token
    assert grants(sb)["refresh_token"] == 1
    # The manager reads tokens.json twice: to see the token is due, and again after taking the
    # lock (checklist 15). ``save`` parses the file once more under its write lock, to keep
    # accounts other processes added meanwhile: three parses in all, never four.
    assert store.calls["load"] + store.calls["all"] == 2
    assert store.calls["_read"] == 3
    assert inflight.calls["_read"] == 1  # get, start and clear share one read under the lock


def test_a_fresh_access_token_reads_the_store_once_and_takes_no_lock(filed: TokenManager) -> None:
    store = Counter(filed.store, "load", "all", "_read")
    inflight = Counter(filed._inflight, "_read")
    filed.access_token()
    assert store.calls["_read"] == 1
    assert inflight.calls["_read"] == 0


def test_a_refresh_with_account_and_mode_reads_only_under_the_lock(filed: TokenManager) -> None:
    key = filed.get().key
    store = Counter(filed.store, "load", "all")
    filed.refresh(*key)  # not due: no request
    assert store.calls == {"load": 1, "all": 0}


def test_refresh_of_an_unknown_key_says_authorize_first(filed: TokenManager) -> None:
    with pytest.raises(AuthorizeAgainError, match=r"acct_nobody.*Authorize the app first"):
        filed.refresh("acct_nobody", False)


def test_summary_reads_the_inflight_file_once_for_all_rows(
    sb: Sandbox, filed: TokenManager
) -> None:
    filed.exchange(new_code(sb, filed.attempts, "live"))
    inflight = Counter(filed._inflight, "_read")
    rows = filed.summary()
    assert [row["mode"] for row in rows] == ["test", "live"]
    assert {row["state"] for row in rows} == {"ok"}
    assert inflight.calls["_read"] == 1


def test_inflight_copy_is_only_used_by_the_thread_holding_the_lock(tmp_path: Path) -> None:
    log = InflightLog(tmp_path / "tokens.json.inflight")
    other = InflightLog(log.path)  # another process, as far as the file is concerned
    seen: list[object] = []
    with log.held():
        log.start("acct_1:test", Secret("rt_" + "a" * 30), 1.0)
        assert log.get("acct_1:test") is not None
        # A write that bypasses the lock (only a test does that) shows who reads what.
        other.start("acct_2:test", Secret("rt_" + "b" * 30), 2.0)
        assert log.get("acct_2:test") is None  # the lock holder works on its copy
        worker = threading.Thread(target=lambda: seen.append(log.get("acct_2:test")))
        worker.start()
        worker.join()
        assert seen == [other.get("acct_2:test")]  # another thread reads the file
    assert log.get("acct_2:test") is not None  # outside held(): the file again


# -- finding 5: tokens received but not stored -----------------------------------------------
def test_an_exchange_whose_lock_wait_times_out_carries_and_keeps_the_tokens(
    sb: Sandbox, tmp_settings: Settings, tmp_path: Path
) -> None:
    log = AttemptLog(tmp_path / "attempts.json")
    manager = TokenManager(tmp_settings, attempts=log, clock=sb.now, lock_timeout=0.3)
    with (
        lock_held_elsewhere(manager.store.lock_path),
        pytest.raises(TokenStoreError, match="save_pending") as info,
    ):
        manager.exchange(new_code(sb, log))
    tokens = info.value.tokens
    assert tokens is not None
    _assert_hidden(info.value, tokens)
    assert manager.get() == tokens  # usable in this session
    assert token_works(sb, manager.access_token())
    assert manager.store.load(*tokens.key) is None
    assert manager.save_pending() == 1
    assert manager.store.load(*tokens.key) == tokens
    assert manager.summary()[0]["unsaved"] is False


def test_a_failed_write_of_a_refresh_carries_the_new_tokens(
    filed: TokenManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = filed.get()

    def disk_full(tokens: TokenSet, *, authorized: bool = False) -> None:
        raise TokenStoreError("disk full")

    monkeypatch.setattr(filed.store, "save", disk_full)
    with pytest.raises(TokenStoreError) as info:
        filed.refresh(force=True)
    new = info.value.tokens
    assert new is not None
    assert new.refresh_token != old.refresh_token
    assert filed.get() == new
    _assert_hidden(info.value, new)


def test_a_store_error_without_new_tokens_has_none() -> None:
    assert TokenStoreError("damaged").tokens is None


def _assert_hidden(exc: TokenStoreError, tokens: TokenSet) -> None:
    secrets = [tokens.access_token.reveal(), tokens.refresh_token.reveal()]
    shown = [str(exc), repr(exc), *map(str, exc.args), repr(exc.tokens)]
    for secret in secrets:
        assert all(secret not in text for text in shown)
    assert exc.args == (str(exc),)


# -- finding 2: one freshness rule -----------------------------------------------------------
@pytest.mark.parametrize(
    ("age", "margin", "due"),
    [
        (0.0, DEFAULT_MARGIN, False),
        (ACCESS_TOKEN_LIFETIME - DEFAULT_MARGIN - 1, DEFAULT_MARGIN, False),
        (ACCESS_TOKEN_LIFETIME - DEFAULT_MARGIN + 1, DEFAULT_MARGIN, True),
        (ACCESS_TOKEN_LIFETIME + 1, DEFAULT_MARGIN, True),
        # the refresh token's last 30 days count even when the access rule is switched off
        (REFRESH_TOKEN_LIFETIME - REFRESH_WARNING_WINDOW - 60, -1e12, False),
        (REFRESH_TOKEN_LIFETIME - REFRESH_WARNING_WINDOW + 60, -1e12, True),
    ],
)
def test_tokenset_is_due(age: float, margin: float, due: bool) -> None:
    tokens = TokenSet(Secret("rk_test_" + "a" * 30), Secret("rt_" + "b" * 30), "acct_1", False)
    tokens = dataclasses.replace(tokens, obtained_at=1_000_000.0)
    assert tokens.is_due(1_000_000.0 + age, margin, REFRESH_WARNING_WINDOW) is due


def test_one_default_margin() -> None:
    from stripe_oauth_nb import _api, _tokens

    assert _api.DEFAULT_MARGIN is _tokens.DEFAULT_MARGIN is DEFAULT_MARGIN
    assert _tokens.REFRESH_WARNING_WINDOW is REFRESH_WARNING_WINDOW


# -- finding 4: one cleaner for server text --------------------------------------------------
@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("plain words", 50, "plain words"),
        ("two\nlines\t and  spaces", 50, "two lines and spaces"),
        ("bell\x07 escape\x1b[31m", 50, "bell\ufffd escape\ufffd[31m"),
        ("x" * 20, 10, "x" * 9 + "…"),
        (None, 10, "None"),
    ],
)
def test_clean_server_text(text: object, limit: int, expected: str) -> None:
    assert clean_server_text(text, limit) == expected


def test_clean_server_text_masks_before_it_cuts() -> None:
    secret = "sk_test_" + "Q" * 30
    for limit in (5, 12, 20, 200):
        cleaned = clean_server_text(f"Invalid API Key provided: {secret}", limit)
        assert len(cleaned) <= limit
        assert "QQQQQQ" not in cleaned
