"""The install app in real Chromium: onboarding page, Install, the sandbox's consent page,
Accept, the success page, for two accounts; and a decline. No JupyterLab here: the ``page``
fixture is a fresh browser context (its own cookies) per test."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from _serve_helpers import free_port, manifest_for

from stripe_oauth_nb.oauth._attempts import AttemptLog
from stripe_oauth_nb.sandbox import Sandbox
from stripe_oauth_nb.serve import InstallServer, ServeConfig
from stripe_oauth_nb.tokens import FileTokenStore

from . import _lab

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Sandbox, InstallServer]]:
    folder = tmp_path_factory.mktemp("serve")
    port = free_port()
    manifest = manifest_for(folder / "app", f"http://127.0.0.1:{port}/callback")
    with Sandbox(customers=3) as sb:
        config = ServeConfig.for_sandbox(
            sb,
            manifest,
            port=port,
            signing_key="EXAMPLE-browser-test-signing-key-0123456789",
            store=FileTokenStore(folder / "store" / "tokens.json"),
            attempts=AttemptLog(folder / "store" / "attempts.json"),
        )
        with InstallServer(config) as server:
            yield sb, server


def _install_by_clicks(page: Page, server: InstallServer, account_label: str) -> None:
    page.goto(server.url + "/")
    assert page.title() == "Install Reports Sync"
    assert page.get_by_role("heading", name="What it asks for, and why").is_visible()
    assert page.get_by_text("customer_read").is_visible()
    _lab.screenshot(page, "serve-0-onboarding", full_page=True)
    page.get_by_role("link", name="Install", exact=True).click()
    page.wait_for_selector("#sandbox-consent")  # Stripe's (the sandbox's) consent page
    assert page.locator(".sandbox-app-name").inner_text() == "Reports Sync"
    page.get_by_label("Account").select_option(label=account_label)
    page.get_by_role("button", name="Accept").click()
    page.wait_for_selector("#result")


def test_two_accounts_install_with_nothing_but_clicks(
    served: tuple[Sandbox, InstallServer], browser: Browser
) -> None:
    sb, server = served
    names = {
        sb.create_account("Acme Bakery"): "Acme Bakery",
        sb.create_account("Bolt Bikes"): "Bolt Bikes",
    }
    before = sb.stats()["grants"]["authorization_code"]
    for number, (account, name) in enumerate(names.items(), 1):
        context = browser.new_context(viewport={"width": 1024, "height": 800})
        page = context.new_page()
        try:
            _install_by_clicks(page, server, f"{name} ({account})")
            assert page.url.startswith(server.public_url + "/callback?")
            assert page.locator("#result-title").inner_text() == "Reports Sync is connected"
            assert page.locator("#account-id").inner_text() == account
            _lab.screenshot(page, f"serve-{number}-connected")
            page.reload()  # the state was used up: a reload says so, and starts nothing
            assert page.locator("#result-title").inner_text() == "This install is already done"
        finally:
            context.close()
    stored = {t.account_id for t in server.config.store.all()}
    assert set(names) <= stored
    assert sb.stats()["grants"]["authorization_code"] == before + 2


def test_decline_comes_back_to_a_page_with_a_way_back(
    served: tuple[Sandbox, InstallServer], page: Page
) -> None:
    sb, server = served
    before = sb.stats()["grants"]["authorization_code"]
    page.goto(server.url + "/")
    page.get_by_role("link", name="Install", exact=True).click()
    page.get_by_role("button", name="Decline").click()
    page.wait_for_selector("#result")
    assert page.locator("#result-title").inner_text() == "Install cancelled"
    page.get_by_role("link", name="Back to the install page").click()
    assert page.title() == "Install Reports Sync"
    assert sb.stats()["grants"]["authorization_code"] == before


def test_the_cookie_is_httponly_and_lax_in_the_browser(
    served: tuple[Sandbox, InstallServer], page: Page
) -> None:
    _, server = served
    page.goto(server.url + "/")
    page.get_by_role("link", name="Install", exact=True).click()
    page.wait_for_selector("#sandbox-consent")
    cookie = next(c for c in page.context.cookies() if c["name"] == "stripe_oauth_nb_install")
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Lax"
    assert page.evaluate("document.cookie") == ""  # scripts cannot read it
