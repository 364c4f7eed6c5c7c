"""A scripted visitor: what a person does on the install page, done over HTTP.

For demos, notebooks and smoke tests against the sandbox: it opens the onboarding page, follows
its Install button with its own cookie jar (like one browser), answers the sandbox's consent
page with :func:`stripe_oauth_nb.sandbox.approve`, and follows Stripe's redirect back to the
callback. Against real Stripe a person presses Accept; nothing here can.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html import unescape
from typing import Final

from .._http import DEFAULT_TIMEOUT, httpx
from .._masking import mask_text

__all__ = ["Visit", "visit"]

_INSTALL: Final = re.compile(r'<a class="button[^"]*" id="install-(test|live)" href="([^"]+)"')
_TITLE: Final = re.compile(r'<h1 id="[^"]+">(.*?)</h1>', re.DOTALL)
_ACCOUNT: Final = re.compile(r'<strong id="account-id">(acct_[A-Za-z0-9]+)</strong>')


@dataclass(frozen=True)
class Visit:
    """How one visit ended: the page's status and heading, and the account it connected."""

    status: int
    title: str
    account_id: str | None = None

    @property
    def connected(self) -> bool:
        return self.status == 200 and self.account_id is not None

    def __str__(self) -> str:
        what = f", account {self.account_id}" if self.account_id else ""
        return f"{self.status} {self.title}{what}"


def _ended(page: httpx.Response) -> Visit:
    title = _TITLE.search(page.text)
    account = _ACCOUNT.search(page.text)
    return Visit(
        page.status_code,
        unescape(title.group(1)) if title else "",
        account.group(1) if account else None,
    )


def visit(
    page_url: str,
    *,
    account: str | None = None,
    decision: str = "accept",
    mode: str | None = None,
    timeout: float = 30.0,
) -> Visit:
    """Install through the page at ``page_url`` as a new browser; return how the visit ended.

    ``account``: the installing account to pick on the sandbox's consent page (default: its
    first); ``decision``: ``"accept"`` or ``"deny"``; ``mode``: which Install button to press
    (default: the first, the page's own mode).
    """
    from ..sandbox import approve

    limits = httpx.Timeout(timeout, connect=DEFAULT_TIMEOUT.connect)
    with httpx.Client(timeout=limits, trust_env=False, follow_redirects=False) as browser:
        home = browser.get(page_url)
        buttons = {m: unescape(href) for m, href in _INSTALL.findall(home.text)}
        if home.status_code != 200 or not buttons:
            return _ended(home)
        href = buttons.get(mode) if mode else next(iter(buttons.values()))
        if href is None:
            return Visit(404, f"The page offers no {mode}-mode Install button")
        started = browser.get(href)
        location = started.headers.get("location")
        if started.status_code != 303 or not location:
            return _ended(started)
        landed = approve(
            location, decision=decision, follow=False, account=account, timeout=timeout
        )
        back = browser.get(landed)
        ended = _ended(back)
        if not ended.title:
            return Visit(back.status_code, mask_text(back.text[:200]))
        return ended
