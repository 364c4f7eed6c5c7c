"""The tokens panel, headless: exchange, masked tokens and countdowns, refresh, errors."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from _tokens_helpers import grants, new_code

from stripe_oauth_nb._errors import (
    AuthorizeAgainError,
    CodeAlreadyUsedError,
    ConfigError,
    InsecureStoreError,
    ModeMismatchError,
    NetworkError,
    RefreshResponseLostError,
    TokenError,
    TokenLockTimeoutError,
)
from stripe_oauth_nb._settings import Settings
from stripe_oauth_nb.oauth._attempts import AttemptLog
from stripe_oauth_nb.sandbox import Sandbox
from stripe_oauth_nb.tokens import TokenManager
from stripe_oauth_nb.widgets.tokens_panel import TokensPanel, explain


@pytest.fixture
def log(tmp_path: Path) -> AttemptLog:
    return AttemptLog(tmp_path / "attempts.json")


@pytest.fixture
def manager(sb: Sandbox, tmp_settings: Settings, log: AttemptLog) -> TokenManager:
    return TokenManager(tmp_settings, attempts=log, clock=sb.now)


def _classes(panel: TokensPanel) -> set[str]:
    widgets = [panel.exchange_button, panel.refresh_button, panel.status, panel.account]
    return {c for widget in widgets for c in widget._dom_classes}


def test_empty_panel_waits_for_a_code(manager: TokenManager) -> None:
    panel = TokensPanel(manager, live=False)
    assert panel.exchange_button.disabled
    assert panel.refresh_button.disabled
    assert "No tokens stored yet" in panel.details.value
    assert {"som-tokens-exchange", "som-tokens-refresh", "som-tokens-status"} <= _classes(panel)
    panel.exchange()
    assert "No code yet" in panel.status.value
    panel.refresh()
    assert "exchange a code first" in panel.status.value


def test_exchange_shows_masked_tokens_and_countdowns_then_refresh_rotates(
    sb: Sandbox, manager: TokenManager, log: AttemptLog
) -> None:
    code = new_code(sb, log)
    panel = TokensPanel(manager, code, live=False)
    assert not panel.exchange_button.disabled
    panel.exchange_button.click()
    tokens = manager.get()
    assert "Exchanged" in panel.status.value
    assert panel.exchange_button.disabled  # a code works once
    shown = panel.details.value
    assert tokens.access_token.masked in shown
    assert tokens.refresh_token.masked in shown
    assert tokens.account_id in shown
    assert "0h 59m" in shown or "1h 00m" in shown
    assert "364d 23h left" in shown or "365d 0h left" in shown
    sb.advance_clock(3600)
    panel.render()
    assert "expired" in panel.details.value
    panel.refresh_button.click()
    new = manager.get()
    assert new.refresh_token != tokens.refresh_token
    assert f"was {tokens.access_token.masked}" in panel.status.value
    assert new.access_token.masked in panel.details.value
    assert grants(sb) == {"authorization_code": 1, "refresh_token": 1}
    for secret in (tokens.access_token, tokens.refresh_token, new.access_token, code.code):
        assert secret.reveal() not in panel.status.value + panel.details.value + repr(panel)


def test_second_exchange_is_explained(sb: Sandbox, manager: TokenManager, log: AttemptLog) -> None:
    code = new_code(sb, log)
    manager.exchange(code)
    panel = TokensPanel(manager, code, live=False)  # a re-run cell with the same code
    panel.exchange_button.click()
    assert "cannot be used (again)" in panel.status.value
    assert "open the install link again" in panel.status.value
    assert panel.exchange_button.disabled
    assert grants(sb)["authorization_code"] == 1


def test_lost_refresh_is_explained(sb: Sandbox, manager: TokenManager, log: AttemptLog) -> None:
    manager.exchange(new_code(sb, log))
    panel = TokensPanel(manager, live=False)
    sb.inject_fault("token", "drop")
    panel.refresh_button.click()
    assert "Token rotated, response lost" in panel.status.value
    assert "refresh in flight or interrupted" in panel.details.value


@pytest.mark.parametrize(
    ("error", "title"),
    [
        (CodeAlreadyUsedError("x"), "cannot be used"),
        (RefreshResponseLostError("x"), "response lost"),
        (AuthorizeAgainError("x"), "Authorize the app again"),
        (ModeMismatchError("x"), "Test and live"),
        (ConfigError("x"), "setting needs fixing"),
        (NetworkError("x"), "could not be reached"),
        (TokenLockTimeoutError("x"), "Another refresh"),
        (InsecureStoreError("x"), "readable by others"),
        (TokenError("x"), "token endpoint said no"),
    ],
)
def test_each_error_is_explained_and_masked(error: Exception, title: str) -> None:
    error.args = (f"<b>bad</b> rt_{'Q' * 40} here",)
    shown = explain(error)
    assert title in shown
    assert "&lt;b&gt;bad" in shown
    assert "Q" * 40 not in shown
    assert "rt_…QQQQ" in shown


def test_live_countdown_is_driven_by_the_browser_without_a_thread(
    sb: Sandbox, manager: TokenManager, log: AttemptLog
) -> None:
    manager.exchange(new_code(sb, log))
    threads = set(threading.enumerate())
    panel = TokensPanel(manager, live=True)
    # no thread that could outlive the panel (threads of earlier tests may end meanwhile)
    assert set(threading.enumerate()) - threads == set()
    (play,) = [c for c in panel.children if "som-ticker" in c._dom_classes]
    before = panel.details.value
    sb.advance_clock(120)
    play.value += 1  # what the browser does every second while the panel is shown
    assert panel.details.value != before
    panel.close()


def test_countdown_ticks_do_not_read_the_store(
    sb: Sandbox, manager: TokenManager, log: AttemptLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    manager.exchange(new_code(sb, log))
    panel = TokensPanel(manager, live=False)
    reads = 0
    real_all = manager.all

    def counting() -> list[object]:
        nonlocal reads
        reads += 1
        return list(real_all())

    monkeypatch.setattr(manager, "all", counting)
    before = panel.details.value
    sb.advance_clock(125)
    panel._draw()  # what the ticker does every interval
    assert panel.details.value != before
    assert "57m" in panel.details.value or "58m" in panel.details.value
    assert reads == 0
    panel.render()  # an explicit render reads the store again
    assert reads >= 1


def test_account_dropdown_values_are_keys_not_labels(
    sb: Sandbox, manager: TokenManager, log: AttemptLog
) -> None:
    tokens = manager.exchange(new_code(sb, log))
    panel = TokensPanel(manager, live=False)
    assert panel.account.value == (tokens.account_id, tokens.livemode)
    assert panel.account.label == f"{tokens.account_id} {tokens.mode}"
