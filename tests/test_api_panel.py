"""The validation panel, headless: buttons clicked in plain pytest against the sandbox."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from stripe_oauth_nb._errors import AuthorizeAgainError
from stripe_oauth_nb._tokenset import ACCESS_TOKEN_LIFETIME, TokenSet
from stripe_oauth_nb.api import ApiClient
from stripe_oauth_nb.sandbox import Sandbox
from stripe_oauth_nb.tokens import MemoryTokenStore, TokenManager
from stripe_oauth_nb.widgets.validate_panel import ProgressBar, ValidatePanel

CUSTOMERS = 230


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(customers=CUSTOMERS) as sb:
        yield sb


def manager(sb: Sandbox, app_without_customers: bool = False) -> TokenManager:
    app = None
    if app_without_customers:
        app = sb.register_app(
            {
                "id": "com.example.panel403",
                "name": "Panel 403",
                "allowed_redirect_uris": ["http://127.0.0.1:8765/callback"],
                "permissions": [{"permission": "balance_read", "purpose": "Balance"}],
            }
        )
    tokens = TokenSet.from_response(sb.mint_tokens("test", app), obtained_at=sb.now())
    return TokenManager(sb.settings("test", app), MemoryTokenStore(tokens), clock=sb.now)


def panel_for(sb: Sandbox, tokens: TokenManager) -> ValidatePanel:
    return ValidatePanel(lambda: ApiClient.from_settings(tokens.settings, tokens))


def test_css_classes_for_browser_tests(sb: Sandbox) -> None:
    panel = panel_for(sb, manager(sb))
    assert "som-validate-run" in panel.run._dom_classes
    assert "som-validate-summary" in panel.summary._dom_classes
    assert "som-data-preview" in panel.preview._dom_classes
    assert "som-data-progress" in panel.progress.bar._dom_classes
    assert "som-validate-panel" in panel._dom_classes
    assert panel.load.disabled


def test_validate_click_shows_summary_and_preview(sb: Sandbox) -> None:
    tokens = manager(sb)
    panel = panel_for(sb, tokens)
    panel.run.click()
    assert panel.report is not None
    assert panel.report.ok
    assert "The access token works." in panel.summary.value
    assert sb.account_id in panel.summary.value
    assert panel.preview.value.count("<tr>") == 1 + 5
    assert "First 5 row(s) of /v1/customers (more available)" in panel.preview.value
    assert not panel.load.disabled
    secret = tokens.get().access_token.reveal()
    assert secret not in panel.summary.value + panel.preview.value + repr(panel)


def test_load_all_fills_the_frame_and_the_bar(sb: Sandbox) -> None:
    panel = panel_for(sb, manager(sb))
    panel.run.click()
    seen: list[int] = []
    panel.progress.bar.observe(lambda change: seen.append(change["new"]), names="value")
    panel.load.click()
    assert panel.frame is not None
    assert panel.frame.shape[0] == CUSTOMERS
    assert panel.progress.bar.value == panel.progress.bar.max == CUSTOMERS
    assert panel.progress.bar.bar_style == "success"
    assert seen == [100, 200, CUSTOMERS]
    assert f"{CUSTOMERS:,} rows" in panel.preview.value


def test_a_pull_survives_expiry_in_the_panel(sb: Sandbox) -> None:
    panel = panel_for(sb, manager(sb))
    panel.run.click()
    before = sb.stats()["grants"]["refresh_token"]
    sb.advance_clock(ACCESS_TOKEN_LIFETIME + 1)
    panel.load.click()
    assert panel.frame is not None
    assert panel.frame.shape[0] == CUSTOMERS
    assert sb.stats()["grants"]["refresh_token"] == before + 1


def test_a_403_names_the_permission_and_keeps_load_disabled(sb: Sandbox) -> None:
    panel = panel_for(sb, manager(sb, app_without_customers=True))
    panel.run.click()
    assert panel.report is not None
    assert not panel.report.ok
    assert "customer_read" in panel.summary.value
    assert "FAILED" in panel.summary.value
    assert panel.load.disabled
    assert panel.preview.value == ""


def test_no_tokens_is_shown_not_raised(sb: Sandbox) -> None:
    empty = TokenManager(sb.settings("test"), MemoryTokenStore(), clock=sb.now)
    panel = panel_for(sb, empty)
    panel.run.click()
    assert "Authorize the app first" in panel.summary.value
    assert panel.report is not None
    assert not panel.report.ok
    assert len(panel.report.checks) == 1  # stopped at the first call: no token at all
    assert panel.load.disabled
    with pytest.raises(AuthorizeAgainError):
        empty.get()


@pytest.mark.parametrize(
    ("calls", "value", "maximum", "label"),
    [
        ([(0, None)], 0, 100, "0 so far"),
        ([(0, None), (100, None)], 100, 200, "100 so far"),
        ([(0, 250), (100, 250)], 100, 250, "100 of 250"),
        ([(0, None), (100, None), (130, 130)], 130, 130, "130 of 130"),
        ([(0, None), (0, 0)], 0, 1, "0 of 0"),
    ],
)
def test_progress_bar(
    calls: list[tuple[int, int | None]], value: int, maximum: int, label: str
) -> None:
    bar = ProgressBar()
    for done, total in calls:
        bar(done, total)
    assert (bar.bar.value, bar.bar.max, bar.label.value) == (value, maximum, label)
