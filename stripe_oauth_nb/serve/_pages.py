"""The install app's pages: onboarding, success, and one page for every refusal.

Plain HTML with one inline style sheet, allowed by its hash in the Content-Security-Policy;
no script, no font, no image, nothing from another site. Every value is escaped; messages go
through the error renderer the forms use (:func:`~stripe_oauth_nb.widgets._common.safe_text`:
masked, then escaped). Pages are readable without CSS, keyboard-usable (a visible focus ring),
and state their language.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from html import escape
from typing import Final

from .._tokenset import TokenSet
from ..widgets._common import safe_text

__all__ = [
    "PAGE_HEADERS",
    "onboarding_page",
    "problem_page",
    "success_page",
]

_STYLE: Final = """
:root{color-scheme:light;--ink:#1a1f36;--muted:#4f566b;--brand:#533afd;--line:#e3e8ee}
*{box-sizing:border-box}
body{margin:0;font:16px/1.55 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
color:var(--ink);background:#f6f9fc}
main{max-width:40rem;margin:2.5rem auto;padding:2rem 2.25rem;background:#fff;
border:1px solid var(--line);border-radius:.75rem}
h1{font-size:1.6rem;line-height:1.25;margin:0 0 .75rem}
h2{font-size:1.1rem;margin:1.75rem 0 .5rem}
p,li{color:var(--muted)}
.permissions{list-style:none;padding:0;margin:0}
.permissions li{padding:.6rem 0;border-top:1px solid var(--line)}
.permissions code{font:600 .95rem ui-monospace,monospace;color:var(--ink)}
.permissions span{display:block}
ol.steps{padding-left:1.25rem}
.button{display:inline-block;margin-top:1.25rem;padding:.7rem 1.6rem;border-radius:.45rem;
background:var(--brand);color:#fff;font-weight:600;text-decoration:none}
.button.secondary{background:#fff;color:var(--brand);border:1px solid var(--brand)}
.button:hover{filter:brightness(1.08)}
a:focus-visible,.button:focus-visible{outline:3px solid #0a2540;outline-offset:3px}
.badge{display:inline-block;padding:.05rem .5rem;border-radius:.3rem;font-size:.85rem;
font-weight:600}
.badge.test{background:#ffe6c2;color:#7a3e00}.badge.live{background:#d7f7c2;color:#05510a}
.notice{padding:.75rem 1rem;border-radius:.45rem;border:1px solid var(--line)}
.notice.error{border-color:#f5b5c4;background:#fff5f7;color:#8a0c2c}
.notice.ok{border-color:#b5e3c4;background:#f3fbf5;color:#0b5124}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.35rem 1rem;margin:0}
dt{font-weight:600}dd{margin:0;font-family:ui-monospace,monospace;color:var(--muted)}
footer{margin-top:2rem;font-size:.85rem;color:var(--muted)}
"""

_STYLE_HASH: Final = base64.b64encode(hashlib.sha256(_STYLE.encode()).digest()).decode()

#: Headers of every page: never cached, never framed, no referrer, loads nothing but its style.
PAGE_HEADERS: Final = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; base-uri 'none'; "
        "form-action 'none'; frame-ancestors 'none'"
    ),
}


def _page(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        '<meta name="referrer" content="no-referrer">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f'<body><main id="main">{body}'
        "<footer>Installed through Stripe. This page never sees your Stripe password.</footer>"
        "</main></body></html>\n"
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
        f'<p class="notice error" role="alert" id="result">{safe_text(message)}</p>'
        f'<a class="button" id="back" href="{escape(home)}">{escape(action)}</a>'
    )
    return _page(title, body)
