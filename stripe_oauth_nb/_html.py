"""The toolkit's own web pages (the callback's landing pages, the install app): one look.

Plain HTML with one inline style sheet, allowed by its hash in the Content-Security-Policy: no
script, no font, no image, nothing from another site. Pages are readable without CSS,
keyboard-usable (a visible focus ring), and state their language. Callers escape every value
they put in a body (``html.escape``, or the forms' ``safe_text`` for messages).
"""

from __future__ import annotations

import base64
import hashlib
from html import escape
from typing import Final

__all__ = ["CSP", "PAGE_HEADERS", "page"]

STYLE: Final = """
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


_STYLE_HASH: Final = base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()

#: Loads nothing but its own style sheet; never framed; posts nowhere.
CSP: Final = (
    f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)

#: Headers of every page: never cached, never framed, no referrer, loads nothing but its style.
PAGE_HEADERS: Final = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": CSP,
}


def page(title: str, body: str, *, footer: str) -> str:
    """A whole page: ``title`` (escaped here), ``body`` (safe HTML), ``footer`` (plain text)."""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        '<meta name="referrer" content="no-referrer">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head>"
        f'<body><main id="main">{body}<footer>{escape(footer)}</footer></main></body></html>\n'
    )
