"""Helpers for the install-app tests: a manifest for a port, and a scripted browser."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from _ports import free_port

from stripe_oauth_nb._http import httpx
from stripe_oauth_nb.manifest import Manifest, write_placeholder_icon
from stripe_oauth_nb.sandbox import approve

__all__ = ["Visit", "browser", "free_port", "install", "manifest_for", "start_install"]

PURPOSE = "List your <customers> & their emails for the monthly report."


def browser(timeout: float = 30) -> httpx.Client:
    """One browser: its own cookie jar. No keep-alive: a test may leave a browser idle longer
    than the server keeps a connection open, and a real browser would retry such a GET."""
    return httpx.Client(
        timeout=timeout,
        trust_env=False,
        follow_redirects=False,
        limits=httpx.Limits(max_keepalive_connections=0),
    )


def manifest_for(folder: Path, *callbacks: str, name: str = "Reports Sync") -> Manifest:
    """A saved, review-clean manifest listing ``callbacks``, with its icon, in ``folder``."""
    manifest = Manifest.new(
        name=name,
        id="com.example.reports",
        redirect_uris=list(callbacks),
        permissions={"customer_read": PURPOSE, "invoice_read": "Total revenue per customer."},
    )
    folder.mkdir(parents=True, exist_ok=True)
    manifest.save(folder / "stripe-app.json")
    write_placeholder_icon(folder / "icon.png")
    return manifest


@dataclass
class Visit:
    """One browser's trip: the install link it was sent to and where Stripe sent it back."""

    install_url: str
    callback_url: str

    @property
    def state(self) -> str:
        return parse_qs(urlsplit(self.install_url).query)["state"][0]

    @property
    def code(self) -> str:
        return parse_qs(urlsplit(self.callback_url).query)["code"][0]


def start_install(
    browser: httpx.Client, base: str, account: str | None, *, decision: str = "accept"
) -> Visit:
    """Press Install at ``base`` in ``browser`` and answer the consent page (not following)."""
    answer = browser.get(f"{base}/install")
    assert answer.status_code == 303, answer.text
    install_url = answer.headers["location"]
    landed = approve(install_url, decision=decision, follow=False, account=account, timeout=30)
    return Visit(install_url, landed)


def install(
    browser: httpx.Client, base: str, account: str | None, *, decision: str = "accept"
) -> tuple[Visit, httpx.Response]:
    """The whole install in ``browser``: Install, consent, and the redirect back."""
    visit = start_install(browser, base, account, decision=decision)
    return visit, browser.get(visit.callback_url)
