"""The install app's pages: onboarding, success, and one page for every refusal.

The look and the headers are the toolkit's one page style (:mod:`stripe_oauth_nb._html`).
Every value is escaped; messages are masked, then escaped
(:func:`~stripe_oauth_nb._masking.mask_html`, as in the forms).
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from .._html import PAGE_HEADERS, page
from .._masking import mask_html
from .._tokenset import TokenSet

__all__ = [
    "PAGE_HEADERS",
    "onboarding_page",
    "problem_page",
    "success_page",
]


def _page(title: str, body: str) -> str:
    return page(
        title,
        body,
        footer="Installed through Stripe. This page never sees your Stripe password.",
    )


def _mode_badge(mode: str) -> str:
    return f'<span class="badge {escape(mode)}">{escape(mode)} mode</span>'


def onboarding_page(
    *,
    app_name: str,
    about: str,
    permissions: Sequence[tuple[str, str]],
    install_links: Sequence[tuple[str, str]],
) -> str:
    """What the app does, what it asks for and why, how installing goes, and Install buttons.

    ``install_links``: (mode, href) per configured mode, the default first.
    """
    items = "".join(
        f"<li><code>{escape(name)}</code><span>{escape(purpose) or 'No reason given.'}</span></li>"
        for name, purpose in permissions
    )
    asks = (
        f'<ul class="permissions" aria-label="Permissions">{items}</ul>'
        if items
        else "<p>No permissions: it cannot read or change anything in your account.</p>"
    )
    buttons = "".join(
        f'<a class="button{" secondary" if i else ""}" id="install-{escape(mode)}" '
        f'href="{escape(href)}">Install{"" if i == 0 else f" in {escape(mode)} mode"}</a> '
        for i, (mode, href) in enumerate(install_links)
    )
    first_mode = install_links[0][0] if install_links else "test"
    body = (
        f'<h1 id="app-name">Install {escape(app_name)}</h1>'
        f'<p id="about">{escape(about)}</p>'
        f"<h2>What it asks for, and why</h2>{asks}"
        '<h2>How it works</h2><ol class="steps">'
        "<li>Press <strong>Install</strong>. You go to Stripe's install page.</li>"
        "<li>Pick the Stripe account to connect, review the permissions, and press "
        "<strong>Accept</strong>.</li>"
        "<li>Stripe sends you back here, and this page confirms the connection.</li>"
        "</ol>"
        f"<p>Installing in {_mode_badge(first_mode)}.</p>"
        f"<p>{buttons}</p>"
    )
    return _page(f"Install {app_name}", body)


def success_page(*, app_name: str, tokens: TokenSet, home: str) -> str:
    """The account is connected: which one, in which mode, and the masked tokens."""
    body = (
        f'<h1 id="result-title">{escape(app_name)} is connected</h1>'
        f'<p class="notice ok" role="status" id="result">Account '
        f'<strong id="account-id">{escape(tokens.account_id)}</strong> is connected in '
        f"{_mode_badge(tokens.mode)}. You can close this page.</p>"
        "<h2>What was stored</h2><dl>"
        f"<dt>Account</dt><dd>{escape(tokens.account_id)}</dd>"
        f"<dt>Access token</dt><dd>{escape(tokens.access_token.masked)}</dd>"
        f"<dt>Refresh token</dt><dd>{escape(tokens.refresh_token.masked)}</dd>"
        "</dl>"
        "<p>To disconnect, remove the app in your Stripe Dashboard (Settings, Installed apps).</p>"
        f'<a class="button secondary" href="{escape(home)}">Connect another account</a>'
    )
    return _page(f"{app_name} is connected", body)


def problem_page(*, title: str, message: str, home: str, action: str = "Start again") -> str:
    """A refusal or failure: what happened (masked, escaped), and the way back to the start."""
    body = (
        f'<h1 id="result-title">{escape(title)}</h1>'
        f'<p class="notice error" role="alert" id="result">{mask_html(message)}</p>'
        f'<a class="button" id="back" href="{escape(home)}">{escape(action)}</a>'
    )
    return _page(title, body)
