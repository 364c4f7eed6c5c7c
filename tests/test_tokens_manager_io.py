"""TokenManager's input and output: which files a refresh reads (counted at ``os.open``) and
what the sandbox sees, tokens carried by "not stored" errors, one freshness rule
(``TokenSet.is_due``) and one cleaner for server text."""

from __future__ import annotations

import dataclasses
import os
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from _tokens_helpers import aged, disk_full, grants, lock_held_elsewhere, new_code, token_works

from stripe_oauth_nb._errors import AuthorizeAgainError, TokenStoreError
from stripe_oauth_nb._masking import Secret, clean_server_text
from stripe_oauth_nb._settings import DEFAULT_MARGIN, REFRESH_WARNING_WINDOW, Settings
from stripe_oauth_nb._tokenset import ACCESS_TOKEN_LIFETIME, REFRESH_TOKEN_LIFETIME, TokenSet
from stripe_oauth_nb.oauth._attempts import AttemptLog
from stripe_oauth_nb.sandbox import Sandbox
from stripe_oauth_nb.tokens import FileTokenStore, TokenManager


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """File names opened (read or written) through ``os.open`` during the test, counted."""
    seen: Counter[str] = Counter()
    real = os.open

    def counting(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        seen[Path(path).name] += 1
        return real(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", counting)
    return seen


@pytest.fixture
def filed(sb: Sandbox, tmp_settings: Settings, tmp_path: Path) -> TokenManager:
    log = AttemptLog(tmp_path / "attempts.json")
    store = FileTokenStore(tmp_settings.token_store_path)
    manager = TokenManager(tmp_settings, store, log, clock=sb.now)
    manager.exchange(new_code(sb, log))
    return manager


# -- reads per refresh ---------------------------------------------------------------------
@pytest.mark.parametrize("key_given", [False, True])
def test_a_due_access_token_reads_the_store_three_times_and_sends_one_request(
    sb: Sandbox, filed: TokenManager, key_given: bool, opened: Counter[str]
) -> None:
    tokens = filed.get()
    filed.store.save(aged(tokens))  # the access token is due
    opened.clear()
    args = tokens.key if key_given else ()
    new = filed.access_token(*args)
    assert new != tokens.access_token
    assert grants(sb)["refresh_token"] == 1
    # tokens.json is read to see the token is due, again after taking the lock,
    # and once more by the write, under its write lock, to keep accounts other processes added
    # meanwhile: three reads in all, never four.
    assert opened["tokens.json"] == 3
    assert opened["tokens.json.inflight"] >= 1  # the record was looked for under the lock


def test_a_fresh_access_token_reads_the_store_once_and_takes_no_lock(
    sb: Sandbox, filed: TokenManager, opened: Counter[str]
) -> None:
    filed.access_token()
    assert opened == Counter({"tokens.json": 1})
    assert grants(sb)["refresh_token"] == 0


def test_a_refresh_with_account_and_mode_reads_only_under_the_lock(
    filed: TokenManager, opened: Counter[str]
) -> None:
    key = filed.get().key
    opened.clear()
    filed.refresh(*key)  # not due: no request
    assert opened["tokens.json"] == 1
    locks = {name for name in opened if name.endswith(".lock")}
    assert locks == {filed.store.lock_path(*key).name}  # that key's lock, no write lock


def test_refresh_of_an_unknown_key_says_authorize_first(filed: TokenManager) -> None:
    with pytest.raises(AuthorizeAgainError, match=r"acct_nobody.*Authorize the app first"):
        filed.refresh("acct_nobody", False)


def test_summary_reads_the_inflight_file_once_for_all_rows(
    sb: Sandbox, filed: TokenManager, opened: Counter[str]
) -> None:
    filed.exchange(new_code(sb, filed.attempts, "live"))
    opened.clear()
    rows = filed.summary()
    assert [row["mode"] for row in rows] == ["test", "live"]
    assert {row["state"] for row in rows} == {"ok"}
    assert opened["tokens.json.inflight"] == 1
    assert opened["tokens.json"] == 1


# -- tokens received but not stored --------------------------------------------------------
def test_an_exchange_whose_lock_wait_times_out_carries_and_keeps_the_tokens(
    sb: Sandbox, tmp_settings: Settings, tmp_path: Path
) -> None:
    log = AttemptLog(tmp_path / "attempts.json")
    manager = TokenManager(tmp_settings, attempts=log, clock=sb.now, lock_timeout=0.3)
    with (
        lock_held_elsewhere(manager.store, (sb.account_id, False)),
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
    path = Path(filed.store.location)
    with disk_full(monkeypatch, path), pytest.raises(TokenStoreError) as info:
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


# -- one freshness rule --------------------------------------------------------------------
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
    """The refresh margin is set in one place, and every refreshing call defaults to it."""
    import inspect
    from pathlib import Path

    from stripe_oauth_nb.api import ApiClient, TokenAuth
    from stripe_oauth_nb.tokens import TokenManager

    package = Path(__file__).resolve().parents[1] / "stripe_oauth_nb"
    defined = [p.name for p in package.rglob("*.py") if "DEFAULT_MARGIN = " in p.read_text("utf-8")]
    assert defined == ["_settings.py"]
    for call in (
        TokenManager.access_token,
        TokenManager.refresh,
        TokenAuth.__init__,
        ApiClient.from_settings,
    ):
        assert inspect.signature(call).parameters["margin"].default == DEFAULT_MARGIN, call
    assert REFRESH_WARNING_WINDOW == 30 * 24 * 3600


# -- one cleaner for server text -----------------------------------------------------------
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
