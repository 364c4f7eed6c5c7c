"""Notebooks 01 to 05 in JupyterLab: Run All, then click the forms as a person would.

Each test opens a copy of the notebook on a fresh kernel, presses Run All, checks that every
cell ran without a traceback, then uses the notebook's form and looks at the result on screen:
buttons with their role, no cut text, used links no longer links, one date format in every
table, no whole secret anywhere in the page.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING
from urllib.parse import quote

import pytest

from . import _lab, _person

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("fresh_kernels")]


def _looks_right(page: Page) -> None:
    """The checks every notebook must pass once its form has been used."""
    problems = _person.run_all_problems(page)
    problems += _person.screen_problems(page, page.locator(".jp-Notebook"))
    formats = _person.date_formats(page)
    if len(formats) > 1:
        problems.append(f"more than one date format in the tables: {formats}")
    assert problems == [], "what a person sees go wrong:\n" + "\n".join(problems)
    _person.no_whole_secrets(page)


def test_manifest_form_after_run_all(page: Page, lab: _lab.LabServer) -> None:
    from playwright.sync_api import expect

    external = _lab.track_external_requests(page.context)
    _person.open_and_run_all(page, lab, "01_manifest.ipynb", "manifest-browser.ipynb")
    form = _lab.widget(page, "som-manifest-form")
    expect(form).to_be_visible()
    path_box = _lab.widget(page, "som-manifest-path", "text")
    expect(path_box).to_have_value("reports-sync/stripe-app.json")
    findings = _lab.widget(page, "som-manifest-findings", "html")
    expect(findings).to_contain_text("0 error(s)")

    name = _lab.widget(page, "som-manifest-name", "text")
    name.fill("Stripe Reports")
    expect(findings).to_contain_text("1 error(s)")
    expect(findings.locator("code").first).to_be_visible()  # code, not raw backticks
    name.fill("Reports Sync")
    expect(findings).to_contain_text("0 error(s)")

    page.locator(".som-manifest-permission-group select").select_option("Charge")
    _lab.widget(page, "som-manifest-permission-purpose", "text").fill("Chart your charges.")
    _lab.widget(page, "som-manifest-permission-add", "button").click()
    status = _lab.widget(page, "som-manifest-status", "html")
    expect(status).to_contain_text("Added charge_read")

    _lab.widget(page, "som-manifest-save", "button").click()
    expect(status).to_contain_text("Saved reports-sync/stripe-app.json")
    expect(_lab.widget(page, "som-manifest-next", "html")).to_contain_text("stripe apps upload")
    assert '"charge_read"' in (lab.root_dir / "reports-sync" / "stripe-app.json").read_text()

    _lab.widget(page, "som-manifest-register", "button").click()
    expect(status).to_contain_text("Registered Reports Sync with the sandbox")
    expect(status).to_contain_text(re.compile(r"test client id ca_\w+"))
    _person.shot(page, "notebook01-registered", status)
    _looks_right(page)
    assert external == [], f"requests left the machine: {external}"


def test_callback_form_after_run_all(page: Page, lab: _lab.LabServer) -> None:
    from playwright.sync_api import expect

    external = _lab.track_external_requests(page.context)
    _person.open_and_run_all(
        page, lab, "02_install_link_and_callback.ipynb", "callback-browser.ipynb"
    )
    status = _lab.widget(page, "som-callback-status", "html")
    expect(status).to_contain_text("Press Build link and listen")
    redirect_uri = _lab.widget(page, "som-redirect-uri", "text").input_value()
    _lab.widget(page, "som-build-link", "button").click()
    expect(status).to_contain_text("Listening on http://127.0.0.1:")
    link = page.locator(".som-install-link a")
    expect(link).to_have_attribute("target", "_blank")

    assert f"redirect_uri={quote(redirect_uri, safe='')}" in (link.get_attribute("href") or "")
    _person.accept_in_new_tab(page, link)
    expect(status).to_contain_text("Received")
    expect(page.locator(".som-install-link a")).to_have_count(0)  # the used link is no link
    expect(_lab.widget(page, "som-install-link", "html")).to_contain_text("Install link used")
    countdown = _lab.widget(page, "som-code-countdown", "html")
    expect(countdown).to_contain_text("exchange it for tokens within")
    first = countdown.inner_text()
    expect(countdown).not_to_have_text(first, timeout=10_000)  # it counts down live
    _person.shot(page, "notebook02-received", status)
    _looks_right(page)
    assert external == [], f"requests left the machine: {external}"


def test_tokens_panel_after_run_all(page: Page, lab: _lab.LabServer) -> None:
    from playwright.sync_api import expect

    _person.open_and_run_all(page, lab, "03_tokens.ipynb", "tokens-browser.ipynb")
    details = _lab.widget(page, "som-tokens-details", "html")
    expect(details).to_contain_text(re.compile(r"rk_test_…\w{4}"))
    before = re.search(r"rk_test_…\w{4}", details.inner_text())
    assert before is not None
    refresh = _lab.widget(page, "som-tokens-refresh", "button")
    expect(refresh).to_be_enabled()
    refresh.click()
    status = _lab.widget(page, "som-tokens-status", "html")
    expect(status).to_contain_text("Refreshed")
    expect(status).to_contain_text(f"(was {before.group(0)})")
    rotated = re.search(r"access token (rk_test_…\w{4})", status.inner_text())
    assert rotated is not None
    assert rotated.group(1) != before.group(0)
    expect(details).to_contain_text(rotated.group(1))  # the table shows the new token
    expect(details).to_contain_text(re.compile(r"\d+m \d+s left"))
    _person.shot(page, "notebook03-refreshed", _lab.widget(page, "som-tokens-status"))
    _looks_right(page)


def test_validate_panel_after_run_all(page: Page, lab: _lab.LabServer) -> None:
    from playwright.sync_api import expect

    _person.open_and_run_all(page, lab, "04_validate_and_use.ipynb", "validate-browser.ipynb")
    # The connect() cell authorized against the sandbox, and says so.
    expect(_lab.widget(page, "som-connect-status", "html")).to_contain_text(
        "Connected by approve=True: acct_"
    )
    expect(page.locator(".som-connect-link a")).to_have_count(0)
    _lab.widget(page, "som-validate-run", "button").click()
    summary = _lab.widget(page, "som-validate-summary", "html")
    expect(summary).to_contain_text("The access token works.")
    preview = _lab.widget(page, "som-data-preview", "html")
    expect(preview).to_contain_text("First 5 row(s) of /v1/customers")
    expect(preview.locator("tr")).to_have_count(6)
    load = _lab.widget(page, "som-data-load", "button")
    expect(load).to_be_enabled()
    load.click()
    expect(preview).to_contain_text("1,000 rows")
    _person.shot(page, "notebook04-loaded", _lab.widget(page, "som-validate-panel"))
    _looks_right(page)


def test_sync_panel_after_run_all(page: Page, lab: _lab.LabServer) -> None:
    """Notebook 05's last cell has run: pressing Sync still loads the tables (its sandbox and
    database folder live as long as the kernel)."""
    from playwright.sync_api import expect

    external = _lab.track_external_requests(page.context)
    _person.open_and_run_all(page, lab, "05_sql.ipynb", "sql-browser.ipynb")
    problems = _person.run_all_problems(page)
    assert problems == [], "what a person sees go wrong:\n" + "\n".join(problems)
    report = _lab.widget(page, "som-sync-report", "html")
    expect(report).to_contain_text("Press")
    _lab.widget(page, "som-sync-run", "button").click()
    expect(report).to_contain_text("Synced into duckdb:", timeout=120_000)
    expect(report).to_contain_text("balance_transactions")
    expect(report).not_to_contain_text("failed")
    expect(report).not_to_contain_text("does not exist")
    _person.shot(page, "notebook05-synced-after-run-all", report)
    _person.no_whole_secrets(page)
    assert external == [], f"requests left the machine: {external}"
