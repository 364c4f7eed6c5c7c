"""The paste fallback: where the browser cannot reach the kernel, the user pastes the URL.

The pasted text goes through the very functions the server uses (the strict parser and the
attempt log), so state, duplicates, size and refusal are checked exactly the same way.
"""

from __future__ import annotations

from .._attempts import AttemptLog, AuthorizationCode
from ._parse import parse_callback_url, resolve_callback

__all__ = ["code_from_pasted_url"]


def code_from_pasted_url(text: str, log: AttemptLog) -> AuthorizationCode:
    """The code carried by the pasted URL (or query string), checked against ``log``.

    Raises the same typed errors as the server: :class:`CallbackRequestError`,
    :class:`CallbackStateError`, :class:`AccessDeniedError` or :class:`CallbackError`.
    """
    return resolve_callback(parse_callback_url(text), log)
