"""The walkthrough notebook, driven in JupyterLab by a headless Chromium as a person would.

The notebook's cells click nothing: after Run All every click here is the browser's, as a
person's would be: type in the manifest form, add a permission, register, build the link, open
it in a new tab, accept on the sandbox's consent page, watch the code arrive, exchange it,
validate the token.

Three routes for the code: the redirect straight to the kernel's callback server, the paste
fallback (the browser cannot reach the kernel), and jupyter-server-proxy (a remote kernel).
"""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import pytest

from . import _lab, _person

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page, Route

pytestmark = pytest.mark.browser

WALKTHROUGH = "00_walkthrough.ipynb"
APP_NAME = "Ledger Reports"
CLOCK = re.compile(r"\b[0-5]:[0-5][0-9]\b")


# --------------------------------------------------------------------------- helpers


def _open_walkthrough(page: Page, lab: _lab.LabServer, name: str) -> None:
    """Copy the walkthrough into the server root as ``name``, open it, run every cell."""
    from playwright.sync_api import expect

    _person.open_and_run_all(page, lab, WALKTHROUGH, name)
    expect(_lab.widget(page, "som-manifest-form")).to_be_visible()
    # The connect() cell at the end authorized (approve=True against the sandbox) ...
    expect(_lab.widget(page, "som-connect-status", "html")).to_contain_text(
        "Connected by approve=True: acct_"
    )
    # ... and its used link is no longer a link.
    expect(page.locator(".som-connect-link a")).to_have_count(0)


def _expect_stepper(page: Page, done: int, current: str | None) -> None:
    from playwright.sync_api import expect

    stepper = _lab.widget(page, "som-walkthrough-stepper", "html")
    expect(stepper.locator(".som-stepper-done")).to_have_count(done)
    if current is None:
        expect(stepper.locator(".som-stepper-current")).to_have_count(0)
    else:
        expect(stepper.locator(".som-stepper-current")).to_have_class(
            re.compile(rf"\bsom-stepper-{current}\b")
        )


def _header_and_manifest(
    page: Page, prefix: str, notes: list[str], *, redirect_uri_to_add: str | None = None
) -> None:
    """Check the header, rename the app (through an error), optionally add a redirect URI,
    register; ends with step 1 done and the link step unlocked."""
    from playwright.sync_api import expect

    target = _lab.widget(page, "som-walkthrough-target", "html")
    expect(target).to_contain_text("a sandbox started for this session")
    expect(target).to_contain_text("Nothing reaches Stripe")
    # Nobody clicked yet (the connect() cell's tokens tick off no step of the walkthrough).
    _expect_stepper(page, done=0, current="manifest")
    expect(page.locator(".som-step-link .som-step-locked")).to_contain_text("Finish step 1")
    expect(_lab.widget(page, "som-build-link", "button")).to_have_count(0)

    findings = _lab.widget(page, "som-manifest-findings", "html")
    expect(findings).to_contain_text("0 error(s)")
    _person.shot(page, f"{prefix}-01-start", _lab.widget(page, "som-walkthrough-target"))

    name = _lab.widget(page, "som-manifest-name", "text")
    name.fill("")
    name.press_sequentially("Stripe Ledger")
    expect(findings).to_contain_text("1 error(s)")
    expect(findings).to_contain_text("contains “Stripe”")
    _person.shot(page, f"{prefix}-02-manifest-error", findings)

    name.fill(APP_NAME)
    expect(findings).to_contain_text("0 error(s)")
    expect(findings).not_to_contain_text("❌")
    preview = page.locator(".som-manifest-preview textarea")
    expect(preview).to_have_value(re.compile(rf'"name": "{APP_NAME}"'))

    # Add a permission as a person would: choose the object and the permission, type why.
    page.locator(".som-manifest-permission-group select").select_option("Charge")
    choice = page.locator(".som-manifest-permission-name select")
    expect(choice).to_have_value("charge_read")
    _lab.widget(page, "som-manifest-permission-purpose", "text").fill("Chart your charges.")
    _lab.widget(page, "som-manifest-permission-add", "button").click()
    expect(page.locator(".som-manifest-permissions")).to_contain_text("charge_read")
    expect(_lab.widget(page, "som-manifest-status", "html")).to_contain_text("Added charge_read")
    expect(preview).to_have_value(re.compile(r'"permission": "charge_read"'))
    expect(findings).to_contain_text("0 error(s)")

    if redirect_uri_to_add is not None:
        uri_box = _lab.widget(page, "som-manifest-redirect-input", "text")
        uri_box.fill(redirect_uri_to_add)
        _lab.widget(page, "som-manifest-redirect-add", "button").click()
        expect(page.locator(".som-manifest-redirect-list select")).to_contain_text(
            redirect_uri_to_add
        )
        expect(findings).to_contain_text("0 error(s)")

    notes += _person.screen_problems(page, _lab.widget(page, "som-manifest-form"))
    _lab.widget(page, "som-manifest-register", "button").click()
    status = _lab.widget(page, "som-manifest-status", "html")
    expect(status).to_contain_text(f"Registered {APP_NAME} with the sandbox")
    expect(status).to_contain_text("test client id ca_")
    _expect_stepper(page, done=1, current="link")
    expect(page.locator(".som-step-link .som-step-locked")).to_have_count(0)
    expect(_lab.widget(page, "som-build-link", "button")).to_be_visible()
    _person.shot(page, f"{prefix}-03-registered", status)


def _build_link(page: Page, notes: list[str], redirect_uri: str | None = None) -> Locator:
    """Press Build link and listen (after setting the redirect URI); return the link."""
    from playwright.sync_api import expect

    notes += _person.screen_problems(page, _lab.widget(page, "som-callback-form"))

    if redirect_uri is not None:
        _lab.widget(page, "som-redirect-uri", "text").fill(redirect_uri)
    _lab.widget(page, "som-build-link", "button").click()
    status = _lab.widget(page, "som-callback-status", "html")
    expect(status).to_contain_text("Waiting")
    expect(status).to_contain_text("Listening on http://127.0.0.1:")
    link = page.locator(".som-install-link a")
    expect(link).to_have_attribute("target", "_blank")
    expect(link).to_contain_text("Open the install link (test mode)")
    _expect_stepper(page, done=2, current="callback")
    return link


def _open_consent(page: Page, link: Locator, redirect_uri: str) -> Page:
    """Click the install link; check the consent tab it opens; return that tab."""
    from playwright.sync_api import expect

    href = link.get_attribute("href") or ""
    assert parse_qs(urlsplit(href).query)["redirect_uri"] == [redirect_uri]
    with page.context.expect_page() as opened:
        link.click()
    consent = opened.value
    consent.wait_for_load_state("domcontentloaded")
    expect(consent.locator(".sandbox-banner")).to_contain_text("Stripe sandbox")
    expect(consent.locator(".sandbox-app-name")).to_have_text(APP_NAME)
    expect(consent.locator("#sandbox-mode")).to_have_text("test mode")
    expect(consent.locator(".sandbox-permissions")).to_contain_text("customer_read")
    expect(consent.locator("#sandbox-consent")).to_contain_text(redirect_uri)
    return consent


def _redirect_uri(page: Page) -> str:
    value = _lab.widget(page, "som-redirect-uri", "text").input_value()
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/callback", value), value
    return value


def _expect_landed(tab: Page) -> None:
    """The callback server's answer: the code was received, and the page does not show it."""
    from playwright.sync_api import expect

    expect(tab.locator("h1")).to_have_text("Authorization received")
    body = tab.locator("body")
    expect(body).to_contain_text("The notebook has the authorization code")
    assert "ac_" not in body.inner_text()


def _expect_received(page: Page, how: str) -> None:
    """Back in the notebook: Received, and the code's 5-minute countdown runs."""
    from playwright.sync_api import expect

    status = _lab.widget(page, "som-callback-status", "html")
    expect(status).to_contain_text("Received")
    expect(status).to_contain_text(how)
    countdown = _lab.widget(page, "som-code-countdown", "html")
    expect(countdown).to_contain_text("exchange it for tokens within")
    expect(countdown).to_contain_text(CLOCK)
    # The used install link is no longer a link: a second click could only reach a closed port.
    expect(page.locator(".som-install-link a")).to_have_count(0)
    expect(_lab.widget(page, "som-install-link", "html")).to_contain_text("Install link used")
    first = countdown.inner_text()
    assert re.search(r"\b4:[0-5][0-9]\b", first), f"a fresh code should have ~5 min: {first}"
    expect(countdown).not_to_have_text(first, timeout=10_000)  # it counts down live
    _expect_stepper(page, done=3, current="tokens")


def _exchange_and_validate(page: Page, prefix: str, notes: list[str]) -> None:
    from playwright.sync_api import expect

    notes += _person.screen_problems(page, _lab.widget(page, "som-step-tokens"))

    exchange = _lab.widget(page, "som-tokens-exchange", "button")
    expect(exchange).to_be_enabled()
    exchange.click()
    status = _lab.widget(page, "som-tokens-status", "html")
    expect(status).to_contain_text(re.compile(r"Exchanged: tokens for acct_", re.IGNORECASE))
    expect(status).to_contain_text("(test mode)")
    details = _lab.widget(page, "som-tokens-details", "html")
    expect(details).to_contain_text(re.compile(r"rk_test_…\w{4}"))
    expect(details).to_contain_text(re.compile(r"rt_…\w{4}"))
    expect(exchange).to_be_disabled()  # a code works once
    _person.no_whole_secrets(page)
    _expect_stepper(page, done=4, current="validate")
    _person.shot(page, f"{prefix}-08-tokens", details)

    account = re.search(r"acct_\w+", status.inner_text())
    assert account is not None
    notes += _person.screen_problems(page, _lab.widget(page, "som-validate-panel"))
    _lab.widget(page, "som-validate-run", "button").click()
    summary = _lab.widget(page, "som-validate-summary", "html")
    expect(summary).to_contain_text("The access token works.")
    expect(summary).to_contain_text(f"account: {account.group(0)}")
    preview = _lab.widget(page, "som-data-preview", "html")
    expect(preview).to_contain_text(re.compile(r"First [1-9]\d* row\(s\) of /v1/customers"))
    rows = preview.locator("tr")
    expect(rows.first).to_contain_text("id")
    assert rows.count() >= 2, "the preview shows no customer rows"
    expect(rows.nth(1)).to_contain_text("cus_")
    _expect_stepper(page, done=5, current=None)
    _person.no_whole_secrets(page)
    _person.shot(page, f"{prefix}-09-validated", _lab.widget(page, "som-validate-panel"))


# --------------------------------------------------------------------------- tests


@pytest.mark.usefixtures("fresh_kernels")
def test_walkthrough_in_the_browser(page: Page, lab: _lab.LabServer) -> None:
    """From the starter manifest to a validated token, every step clicked in the browser."""
    from playwright.sync_api import expect

    started = time.monotonic()
    external = _lab.track_external_requests(page.context)
    notes: list[str] = []
    _open_walkthrough(page, lab, "walkthrough-browser.ipynb")
    _header_and_manifest(page, "walkthrough", notes)

    redirect_uri = _redirect_uri(page)
    link = _build_link(page, notes)
    _person.shot(page, "walkthrough-04-link", _lab.widget(page, "som-callback-form"))

    consent = _open_consent(page, link, redirect_uri)
    _person.shot(consent, "walkthrough-05-consent")
    consent.locator("#sandbox-accept").click()
    consent.wait_for_url(re.compile(rf"^{re.escape(redirect_uri)}\?"))
    _expect_landed(consent)
    _person.shot(consent, "walkthrough-06-landed")
    consent.close()

    page.bring_to_front()
    _expect_received(page, "received by the notebook's callback server")
    # The code reached the kernel once; the server has stopped listening.
    expect(_lab.widget(page, "som-callback-status", "html")).not_to_contain_text("refused")
    _person.no_whole_secrets(page)
    _person.shot(page, "walkthrough-07-received", _lab.widget(page, "som-callback-status"))

    _exchange_and_validate(page, "walkthrough", notes)
    _person.shot(page, "walkthrough-10-stepper", _lab.widget(page, "som-walkthrough-stepper"))

    formats = _person.date_formats(page)
    assert len(formats) == 1, f"one date format in every table, not {formats}"
    # Checked last so that a failure here still lets the steps above be exercised.
    problems = _person.run_all_problems(page) + [f"label cut off: {label!r}" for label in notes]
    assert problems == [], "what a person sees go wrong:\n" + "\n".join(problems)
    assert external == [], f"requests left the machine: {external}"
    print(f"browser walkthrough: {time.monotonic() - started:.1f} s wall clock")


@pytest.mark.usefixtures("fresh_kernels")
def test_paste_fallback_in_the_browser(page: Page, lab: _lab.LabServer) -> None:
    """The browser cannot reach the kernel: the person pastes the address it landed on."""
    from playwright.sync_api import expect

    external = _lab.track_external_requests(page.context)
    notes: list[str] = []  # cut-off labels are test_walkthrough_in_the_browser's business
    _open_walkthrough(page, lab, "walkthrough-paste.ipynb")
    _header_and_manifest(page, "paste", notes)
    redirect_uri = _redirect_uri(page)
    link = _build_link(page, notes)
    consent = _open_consent(page, link, redirect_uri)

    # Page routes do not see redirects, so the consent form's POST is intercepted: it is
    # sent to the sandbox (which issues the code and answers 302), the Location is kept as
    # the address the browser would land on, and the browser is told the address is
    # unreachable, as it would be with the kernel on another machine.
    landed: list[str] = []

    def unreachable_redirect(route: Route) -> None:
        if route.request.method != "POST":
            route.fallback()
            return
        response = route.fetch(max_redirects=0)
        assert response.status == 302, response.status
        landed.append(response.headers["location"])
        route.abort("addressunreachable")

    consent.route(re.compile(r"/oauth/v2/authorize"), unreachable_redirect)
    consent.locator("#sandbox-accept").click()
    deadline = time.monotonic() + 10
    while not landed and time.monotonic() < deadline:
        consent.wait_for_timeout(100)
    assert len(landed) == 1, landed
    landed_url = landed[0]
    assert landed_url.startswith(f"{redirect_uri}?code=ac_"), landed_url
    consent.close()

    page.bring_to_front()
    status = _lab.widget(page, "som-callback-status", "html")
    # The server never heard from the browser.
    expect(status).to_contain_text("Waiting")
    expect(status).to_contain_text("Listening on")

    # A forged or stale URL (another state) is refused, and says what to do.
    parts = urlsplit(landed_url)
    query = parse_qs(parts.query)
    mode, _, secret = query["state"][0].partition(".")
    forged_state = f"{mode}.{secret[::-1] if secret[::-1] != secret else 'x' * len(secret)}"
    forged = urlunsplit(
        parts._replace(query=urlencode({"code": query["code"][0], "state": forged_state}))
    )
    paste = page.locator(".som-paste-url input")
    expect(paste).to_have_attribute("type", "password")  # the code never shows on screen
    paste.fill(forged)
    _lab.widget(page, "som-paste-submit", "button").click()
    expect(status).to_contain_text("The callback was refused")
    expect(status).to_contain_text("does not match any install link built here")
    expect(status).to_contain_text("Open the install link from this notebook again")
    expect(status).not_to_contain_text("Received")
    expect(paste).to_have_value("")  # the refused URL leaves the box ...
    expect(status).to_contain_text("code=ac_…")  # ... and is named, masked, in the status
    _expect_stepper(page, done=2, current="callback")
    _person.shot(page, "paste-06-wrong-state", status)

    paste.fill(landed_url)
    _lab.widget(page, "som-paste-submit", "button").click()
    _expect_received(page, "taken from the pasted URL")
    expect(paste).to_have_value("")  # the code does not stay in the box
    _person.no_whole_secrets(page)
    _person.shot(page, "paste-07-received", status)

    _exchange_and_validate(page, "paste", notes)
    assert external == [], f"requests left the machine: {external}"


@pytest.mark.usefixtures("fresh_kernels")
def test_remote_kernel_route_through_server_proxy(page: Page, lab: _lab.LabServer) -> None:
    """A JupyterHub-style redirect URI: the browser reaches the kernel's callback server only
    through jupyter-server-proxy (``{lab}/proxy/<port>/callback``).

    What such a user does in the forms: add the proxy URI to the manifest's redirect URIs,
    register, put it in the callback form's Redirect URI box, build the link, accept.
    """
    from playwright.sync_api import expect

    port = _lab.free_port()
    proxy_uri = lab.url(f"proxy/{port}/callback")
    external = _lab.track_external_requests(page.context)
    notes: list[str] = []
    _open_walkthrough(page, lab, "walkthrough-proxy.ipynb")
    _header_and_manifest(page, "proxy", notes, redirect_uri_to_add=proxy_uri)

    link = _build_link(page, notes, redirect_uri=proxy_uri)
    status = _lab.widget(page, "som-callback-status", "html")
    # The kernel listens on the loopback port the proxy forwards to.
    expect(status).to_contain_text(f"Listening on http://127.0.0.1:{port}/callback")
    _person.shot(page, "proxy-04-link", _lab.widget(page, "som-callback-form"))

    consent = _open_consent(page, link, proxy_uri)
    seen: list[tuple[str, int]] = []
    consent.on("response", lambda response: seen.append((response.url, response.status)))
    consent.locator("#sandbox-accept").click()
    consent.wait_for_url(re.compile(rf"^{re.escape(proxy_uri)}\?code=ac_"))
    _expect_landed(consent)
    # The answer came through JupyterLab's server (the proxy), not from the port directly.
    proxied = [(url, code) for url, code in seen if url.startswith(f"{proxy_uri}?")]
    assert proxied, seen
    assert proxied[-1][1] == 200, proxied
    assert not any(url.startswith(f"http://127.0.0.1:{port}/") for url, _ in seen), seen
    _person.shot(consent, "proxy-06-landed")
    consent.close()

    page.bring_to_front()
    _expect_received(page, "received by the notebook's callback server")
    _person.no_whole_secrets(page)
    _person.shot(page, "proxy-07-received", status)
    assert external == [], f"requests left the machine: {external}"
