"""The paste fallback: where the browser cannot reach the kernel, the user pastes the URL.

The pasted text goes through the very functions the server uses (the strict parser and the
attempt log), so state, duplicates, size and refusal are checked exactly the same way; and, as
the server only answers on the redirect URI, the pasted address must be where the attempt's
redirect URI lands.
"""

from __future__ import annotations

from ..._errors import CallbackRequestError
from .._attempts import AttemptLog, AuthorizationCode
from ._parse import parse_callback_url, resolve_callback

__all__ = ["code_from_pasted_url"]


def code_from_pasted_url(text: str, log: AttemptLog) -> AuthorizationCode:
    """The code carried by the pasted URL, checked against ``log``.

    Raises the same typed errors as the server: :class:`CallbackRequestError` (also for a bare
    query string: the address is part of what is checked), :class:`CallbackStateError` (also
    for an address other than the attempt's redirect URI), :class:`AccessDeniedError` or
    :class:`CallbackError`.
    """
    stripped = text.strip() if isinstance(text, str) else ""
    if not stripped.lower().startswith(("http://", "https://")):
        looks_like_query = "code=" in stripped or "error=" in stripped
        raise CallbackRequestError(
            (
                "Paste the whole address the browser landed on after Accept (it starts with "
                "http:// or https://), not only its query string: the address is checked "
                "against the install link's redirect URI."
            )
            if looks_like_query
            else "That is not the address the browser landed on. After pressing Accept, copy "
            "the whole address from the browser's address bar (it starts with http:// or "
            "https:// and holds ?code=...&state=...; the page itself may fail to load) and "
            "paste it here."
        )
    return resolve_callback(parse_callback_url(stripped), log, landed=stripped)
