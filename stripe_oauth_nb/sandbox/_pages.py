"""The consent page and the error page, as plain HTML (no JavaScript, nothing external).

Every value that reaches the page is escaped. Accept and Decline are two submit buttons of
one form, so a script can drive it: GET the page, read the hidden fields, POST them back with
``decision=accept`` or ``decision=deny``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

__all__ = ["PAGE_HEADERS", "consent_page", "error_page"]

#: Headers for every page: never cached, never framed, loads nothing.
PAGE_HEADERS: Mapping[str, str] = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
}

_STYLE = """
body{font-family:system-ui,sans-serif;max-width:34rem;margin:3rem auto;color:#1a1f36}
.mode{display:inline-block;padding:.1rem .5rem;border-radius:.3rem;font-size:.8rem}
.mode-test{background:#ffe6c2;color:#8a4b00}.mode-live{background:#d7f7c2;color:#05690d}
button{font-size:1rem;padding:.5rem 1.2rem;margin-right:.5rem;border-radius:.3rem}
#sandbox-accept{background:#635bff;color:#fff;border:0}
.sandbox-error{color:#b3093c}
"""


def _page(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body>{body}</body></html>\n"
    )


def consent_page(
    *,
    app_name: str,
    mode: str,
    permissions: Sequence[tuple[str, str]],
    action: str,
    hidden: Mapping[str, str],
    accounts: Sequence[tuple[str, str]],
    redirect_uri: str,
) -> str:
    """The page Stripe shows before an install: who asks, in which mode, for what."""
    items = (
        "".join(
            f"<li><code>{escape(name)}</code>{' — ' + escape(purpose) if purpose else ''}</li>"
            for name, purpose in permissions
        )
        or "<li>No permissions</li>"
    )
    fields = "".join(
        f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">' for k, v in hidden.items()
    )
    options = "".join(
        f'<option value="{escape(acct)}"{" selected" if i == 0 else ""}>'
        f"{escape(name)} ({escape(acct)})</option>"
        for i, (acct, name) in enumerate(accounts)
    )
    body = (
        '<p class="sandbox-banner">Stripe sandbox: nothing here reaches Stripe.</p>'
        f'<h1 class="sandbox-app-name">{escape(app_name)}</h1>'
        f'<p>wants to connect to your account in <span class="mode mode-{escape(mode)}" '
        f'id="sandbox-mode">{escape(mode)} mode</span>.</p>'
        f'<h2>It will be able to</h2><ul class="sandbox-permissions">{items}</ul>'
        f'<form method="post" action="{escape(action)}" id="sandbox-consent">{fields}'
        f'<p><label>Account <select name="account">{options}</select></label></p>'
        f"<p>After you decide you go back to <code>{escape(redirect_uri)}</code>.</p>"
        '<button type="submit" name="decision" value="accept" id="sandbox-accept" '
        'class="sandbox-accept">Accept</button>'
        '<button type="submit" name="decision" value="deny" id="sandbox-decline" '
        'class="sandbox-decline">Decline</button>'
        "</form>"
    )
    return _page(f"Install {app_name}", body)


def error_page(message: str) -> str:
    """The page for a refused install link: says why, and never redirects."""
    body = (
        '<p class="sandbox-banner">Stripe sandbox: nothing here reaches Stripe.</p>'
        "<h1>This install link cannot be used</h1>"
        f'<p class="sandbox-error" id="sandbox-error">{escape(message)}</p>'
    )
    return _page("Install link error", body)
