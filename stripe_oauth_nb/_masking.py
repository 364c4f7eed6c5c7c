"""Masked forms of keys, codes and tokens, for every repr, log line, message and output.

A secret is shown as its kind prefix, an ellipsis and its last four characters
(``sk_test_…a1b2``), which is enough to tell two keys apart and useless to an attacker.
"""

from __future__ import annotations

import logging
import re
import urllib.parse
from typing import Final

__all__ = [
    "SECRET_PATTERN",
    "MaskingFilter",
    "Secret",
    "clean_server_text",
    "dsn_passwords",
    "looks_secret",
    "mask",
    "mask_dsn",
    "mask_html",
    "mask_text",
    "shown",
]

_PREFIX = re.compile(r"^((?:sk|rk|pk)_(?:test|live)_|ac_|rt_|ca_|acct_|chnlink_)")
_SHOWN_TAIL: Final = 4
_MIN_HIDDEN: Final = 8

#: Anything in free text that looks like a secret key, restricted key (access token),
#: authorization code or refresh token.
SECRET_PATTERN: Final = re.compile(r"\b(?:(?:sk|rk)_(?:test|live)_|ac_|rt_)[A-Za-z0-9]{6,}")


def mask(value: str | None) -> str:
    """Return the masked form of a secret: ``sk_test_…1234``; ``<none>`` when empty.

    Short values (where four characters would be a large share) lose their tail too.
    """
    if not value:
        return "<none>"
    match = _PREFIX.match(value)
    prefix = match.group(1) if match else ""
    rest = value[len(prefix) :]
    if len(rest) < _MIN_HIDDEN + _SHOWN_TAIL:
        return f"{prefix}…"
    return f"{prefix}…{rest[-_SHOWN_TAIL:]}"


#: The value of an OAuth ``state`` parameter in a URL or query string (plain or URL-encoded).
_STATE_PARAM: Final = re.compile(r"((?:^|[?&\s'\"])state(?:=|%3D))([^&\s'\"#]+)")

_PASSWORD_KV: Final = re.compile(r"(password\s*=\s*)('[^']*'|\S+)", re.IGNORECASE)


def mask_dsn(dsn: str) -> str:
    """A database DSN with its password replaced by ``***`` (URL or ``key=value`` form).

    The one DSN masker: the PostgreSQL token store and the sync's destination both show a
    database this way.
    """
    text = _PASSWORD_KV.sub(r"\1***", dsn)
    try:
        parts = urllib.parse.urlsplit(text)
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<a DSN that cannot be parsed>"
    if parts.password:
        netloc = f"{parts.username or ''}:***@{parts.hostname or ''}{port}"
        text = urllib.parse.urlunsplit(parts._replace(netloc=netloc))
    return text


def dsn_passwords(dsn: str) -> tuple[str, ...]:
    """The passwords written in a DSN (as written and URL-decoded), to blank out of server text."""
    try:
        password = urllib.parse.urlsplit(dsn).password or ""
    except ValueError:
        password = ""
    found = tuple(s for s in (password, urllib.parse.unquote(password)) if s)
    return found + tuple(m.group(2).strip("'") for m in _PASSWORD_KV.finditer(dsn))


def mask_text(text: str) -> str:
    """Replace everything in ``text`` that looks like a secret with its masked form.

    Keys, tokens and codes are found by their prefixes; an OAuth ``state=`` value is masked
    too, since it is what ties a callback to this machine's install link.
    """
    text = SECRET_PATTERN.sub(lambda m: mask(m.group(0)), text)
    return _STATE_PARAM.sub(lambda m: m.group(1) + mask(m.group(2)), text)


def mask_html(text: str) -> str:
    """``text`` masked (keys, codes, tokens, ``state=`` values), then HTML-escaped: what every
    form and page shows of a message that may quote what someone typed or pasted."""
    import html

    return html.escape(mask_text(text))


def clean_server_text(text: object, limit: int) -> str:
    """Text a server (or a redirect's query) sent, made safe to show: one line, control
    characters replaced by U+FFFD, secrets masked, at most ``limit`` characters (cut with "…").

    Masking comes before the cap, so a cut can never leave part of a secret unmasked. The
    result is plain text: HTML-escape it before putting it in a page.
    """
    one_line = " ".join(str(text).split())
    printable = "".join(ch if ch.isprintable() else "\ufffd" for ch in one_line)
    masked = mask_text(printable)
    if len(masked) > limit:
        masked = masked[: max(limit - 1, 0)] + "…"
    return masked


#: A value that starts like a key, token, code or signing secret, however short the rest.
_SECRET_START: Final = re.compile(
    r"(?:^|[^A-Za-z0-9])(?:(?:sk|rk|pk)_(?:test|live)_|(?:sk|rk)_|ac_|rt_|whsec_)", re.IGNORECASE
)
#: One opaque word: no spaces or URL punctuation, long enough to be a random token.
_OPAQUE: Final = re.compile(r"[A-Za-z0-9_\-.~+/=]{20,}")
_SHOWN_LIMIT: Final = 60


def looks_secret(value: str) -> bool:
    """True when ``value`` looks like a key, token or code: a secret's prefix anywhere (however
    short the rest), or one long opaque word of letters and digits (a token without a prefix,
    base64 of a key)."""
    text = value.strip()
    if _SECRET_START.search(text):
        return True
    if _OPAQUE.fullmatch(text):
        return any(c.isdigit() for c in text) and any(c.isalpha() for c in text)
    return False


def shown(value: object, limit: int = _SHOWN_LIMIT) -> str:
    """A value someone typed (a setting, an argument), quoted for a message.

    Masked whole (``'sk_test_…1234'``) when it :func:`looks_secret`, so a key pasted into the
    wrong setting never shows; otherwise one line, at most ``limit`` characters, with any
    secret inside masked.
    """
    text = str(value)
    if looks_secret(text):
        return repr(mask(text.strip()))
    return repr(clean_server_text(text, limit))


class Secret:
    """A string that does not show itself: repr and str are masked; ``reveal()`` gives it."""

    __slots__ = ("_value",)

    def __init__(self, value: str | Secret) -> None:
        self._value = value.reveal() if isinstance(value, Secret) else str(value)

    def reveal(self) -> str:
        """The secret itself, for the one place that must send it (an HTTP header or body)."""
        return self._value

    @property
    def masked(self) -> str:
        return mask(self._value)

    def __repr__(self) -> str:
        return f"Secret({self.masked!r})"

    def __str__(self) -> str:
        return self.masked

    def __format__(self, spec: str) -> str:
        return format(self.masked, spec)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Secret):
            return self._value == other._value
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)

    def __reduce__(self) -> tuple[type[Secret], tuple[str]]:
        return (Secret, (self._value,))


class MaskingFilter(logging.Filter):
    """A logging filter that masks secrets in the formatted message and its arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_text(message)
        if masked != message:
            record.msg = masked
            record.args = None
        return True
