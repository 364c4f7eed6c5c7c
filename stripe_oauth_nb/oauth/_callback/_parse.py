"""Strict parsing of the redirect back from Stripe, and turning it into a code or a typed error.

Everything here treats the query string as attacker text. It is split on ``&`` only, fields are
capped in number and size, ``code``, ``state``, ``error`` and ``error_description`` may appear
once each, and values must look like what Stripe sends. The same two functions serve the
loopback server and the paste fallback, so both paths run exactly the same checks.
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass
from typing import Final

from ..._errors import (
    AccessDeniedError,
    CallbackError,
    CallbackRequestError,
    CallbackStateError,
)
from ..._masking import Secret, clean_server_text
from ..._urls import landed_on
from .._attempts import AttemptLog, AuthorizationCode

__all__ = [
    "MAX_DESCRIPTION",
    "MAX_QUERY",
    "MAX_URL",
    "CallbackQuery",
    "clean_description",
    "parse_callback_query",
    "parse_callback_url",
    "resolve_callback",
]

#: Longest pasted URL accepted (characters).
MAX_URL: Final = 8192
#: Longest query string accepted (characters).
MAX_QUERY: Final = 4096
#: Most fields accepted in one query string.
MAX_FIELDS: Final = 32
#: ``error_description`` is cut to this many characters before it is shown anywhere.
MAX_DESCRIPTION: Final = 200

_SINGLE: Final = ("code", "state", "error", "error_description")
_CODE = re.compile(r"[A-Za-z0-9_.~-]{1,512}")
_STATE = re.compile(r"[A-Za-z0-9_.~-]{1,256}")
_ERROR = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_URL_START = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://|/")


@dataclass(frozen=True, repr=False)
class CallbackQuery:
    """The fields of a callback query that matter, already checked for shape."""

    code: Secret | None = None
    state: Secret | None = None
    error: str | None = None
    #: Already length-capped and stripped of control characters (still to be HTML-escaped).
    error_description: str | None = None

    def __repr__(self) -> str:
        parts = [
            f"code={self.code.masked!r}" if self.code else "code=None",
            f"state={self.state.masked!r}" if self.state else "state=None",
            f"error={self.error!r}",
        ]
        return f"CallbackQuery({', '.join(parts)})"


def clean_description(text: str) -> str:
    """``error_description`` as safe plain text: one line, secrets masked, length capped."""
    return clean_server_text(text, MAX_DESCRIPTION)


def _query_part(url_or_query: str) -> str:
    text = url_or_query.strip()
    if len(text) > MAX_URL:
        raise CallbackRequestError(
            f"The callback URL is longer than {MAX_URL} characters, which Stripe never sends. "
            "Copy the whole address from the browser's address bar once more."
        )
    if _URL_START.match(text):
        try:
            return urllib.parse.urlsplit(text).query
        except ValueError:
            raise CallbackRequestError(
                "The callback URL cannot be read as a URL. Copy the whole address from the "
                "browser's address bar once more."
            ) from None
    if text.startswith("?"):
        text = text[1:]
    if "#" in text:
        raise CallbackRequestError(
            "The callback query contains '#', which Stripe never sends. Copy the whole address "
            "from the browser's address bar once more."
        )
    return text


def parse_callback_url(url_or_query: str) -> CallbackQuery:
    """Parse the URL the browser was redirected to (or just its query string), strictly.

    Raises :class:`CallbackRequestError` (malformed, too large, duplicated fields, neither code
    nor error) or :class:`CallbackStateError` (a state that cannot be one of ours). Never
    anything else.
    """
    if not isinstance(url_or_query, str):
        raise CallbackRequestError("The callback URL must be text.")
    return parse_callback_query(_query_part(url_or_query))


def parse_callback_query(query: str) -> CallbackQuery:
    """Parse a raw query string (without ``?``), as the server receives it. Same errors."""
    if len(query) > MAX_QUERY:
        raise CallbackRequestError(
            f"The callback query is longer than {MAX_QUERY} characters, which Stripe never "
            "sends. Open the install link again."
        )
    try:
        pairs = urllib.parse.parse_qsl(
            query,
            keep_blank_values=True,
            strict_parsing=bool(query),
            encoding="utf-8",
            errors="strict",
            max_num_fields=MAX_FIELDS,
            separator="&",
        )
    except ValueError:  # includes UnicodeDecodeError and "max number of fields exceeded"
        raise CallbackRequestError(
            "The callback query is malformed (every field must be name=value, separated by "
            f"'&', at most {MAX_FIELDS} fields, UTF-8). Open the install link again."
        ) from None

    fields: dict[str, str] = {}
    for name, value in pairs:
        if name not in _SINGLE:
            continue  # Stripe may add fields; they are ignored, never interpreted.
        if name in fields:
            raise CallbackRequestError(
                f"The callback carries '{name}' more than once, which Stripe never does "
                "(possible tampering). Open the install link again."
            )
        fields[name] = value

    code, state, error = fields.get("code"), fields.get("state"), fields.get("error")
    description = fields.get("error_description")
    if code is not None and error is not None:
        raise CallbackRequestError(
            "The callback carries both a code and an error, which Stripe never does. "
            "Open the install link again."
        )
    if code is None and error is None:
        raise CallbackRequestError(
            "The callback carries neither a code nor an error: this is not the page Stripe "
            "redirected to. Copy the whole address the browser landed on after Accept or "
            "Decline."
        )
    if code is not None and not _CODE.fullmatch(code):
        raise CallbackRequestError(
            "The callback's code is empty or malformed. Open the install link again."
        )
    if error is not None and not _ERROR.fullmatch(error):
        raise CallbackRequestError(
            "The callback's error field is malformed. Open the install link again."
        )
    if state and not _STATE.fullmatch(state):
        raise CallbackStateError(
            "The callback's state is malformed, so it cannot come from an install link built "
            "here (possible CSRF). Open the install link from this notebook again."
        )
    return CallbackQuery(
        code=Secret(code) if code is not None else None,
        state=Secret(state) if state else None,
        error=error,
        error_description=clean_description(description) if description is not None else None,
    )


def resolve_callback(
    query: CallbackQuery,
    log: AttemptLog,
    *,
    redirect_uri: str | None = None,
    landed: str | None = None,
) -> AuthorizationCode:
    """Tie a parsed callback to its recorded attempt and use the attempt up.

    The callback must come back to the attempt's redirect URI: the server passes its own
    ``redirect_uri`` (the attempt's must equal it); the paste route passes the ``landed``
    address, which must be where the attempt's redirect URI lands (:func:`_urls.landed_on`).

    Returns the :class:`AuthorizationCode` (its mode comes from the record, not the URL).
    Raises :class:`CallbackStateError` when the state is missing, unknown, used, expired or
    belongs to another redirect URI; the attempt then stays open. Raises
    :class:`AccessDeniedError` for ``error=access_denied`` with a matching state, and
    :class:`CallbackError` for any other error Stripe reports; both use the attempt up.
    """
    state = query.state.reveal() if query.state else None
    if landed is not None:
        attempt = log.find(state)
        if not landed_on(landed, attempt.redirect_uri):
            address = landed.strip().split("?", 1)[0].split("#", 1)[0]
            raise CallbackStateError(
                f"The pasted address {clean_server_text(address, 120)!r} is not the redirect "
                f"URI of the install link ({attempt.redirect_uri}), so it did not come back "
                "from that link (possible tampering). Paste the whole address the browser "
                "landed on after Accept, unchanged."
            )
        redirect_uri = attempt.redirect_uri
    # One locked read: complete() finds the state (constant-time), checks the redirect URI and
    # uses the attempt up atomically (threads and processes), so of two callbacks racing on one
    # state only one gets past this line; on a failed check nothing is written.
    done = log.complete(state, redirect_uri=redirect_uri)
    if query.error is not None:
        detail = f" Stripe said: {query.error_description}." if query.error_description else ""
        if query.error == "access_denied":
            raise AccessDeniedError(
                "The install was declined on Stripe's consent page, so no code was issued."
                f"{detail} To continue, build a new install link, open it and press Accept."
            )
        raise CallbackError(
            f"Stripe redirected back with error '{query.error}'.{detail} Check the app's "
            "settings (client id, redirect URI, published state), then build a new install link."
        )
    assert query.code is not None  # parse_callback_url guarantees a code or an error
    return AuthorizationCode(code=query.code, attempt=done)
