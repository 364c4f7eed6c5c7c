"""What every form shares: the one way to put an error (or any message) into a widget.

Messages may carry what the user typed or pasted (a landed URL with its ``code`` and
``state``), so everything shown goes through :func:`safe_text`: masked first
(:func:`stripe_oauth_nb._masking.mask_text`), then HTML-escaped. :func:`explain` renders an
exception with a title saying what kind of problem it is. No form builds error HTML itself.
"""

from __future__ import annotations

import html
from typing import Final

from .._errors import (
    AccessDeniedError,
    AuthorizeAgainError,
    CallbackError,
    CallbackPortInUseError,
    CallbackStateError,
    CallbackTimeoutError,
    CodeAlreadyUsedError,
    ConfigError,
    InsecureStoreError,
    InstallLinkError,
    ManifestError,
    ModeMismatchError,
    NetworkError,
    PermissionDeniedError,
    RefreshResponseLostError,
    SandboxError,
    StripeAPIError,
    StripeOAuthNBError,
    SyncError,
    SyncLockedError,
    TokenError,
    TokenLockTimeoutError,
    TokenStoreError,
)
from .._masking import mask_text

__all__ = ["ERROR_COLOUR", "error_title", "explain", "safe_text"]

ERROR_COLOUR: Final = "#b00020"

#: What each error means, as a title above its (already actionable) message. First match wins.
_TITLES: Final[tuple[tuple[type[BaseException], str], ...]] = (
    (CodeAlreadyUsedError, "This code cannot be used (again)"),
    (RefreshResponseLostError, "Token rotated, response lost"),
    (AuthorizeAgainError, "Authorize the app again"),
    (ModeMismatchError, "Test and live mode are mixed"),
    (ConfigError, "A setting needs fixing"),
    (NetworkError, "Stripe could not be reached"),
    (TokenLockTimeoutError, "Another refresh is still running"),
    (InsecureStoreError, "The token store is readable by others"),
    (TokenStoreError, "The token store cannot be used"),
    (TokenError, "The token endpoint said no"),
    (ManifestError, "The manifest needs fixing"),
    (InstallLinkError, "The install link cannot be built"),
    (AccessDeniedError, "The install was declined"),
    (CallbackTimeoutError, "The wait for the redirect ended"),
    (CallbackPortInUseError, "The callback port is taken"),
    (CallbackStateError, "The callback was refused"),
    (CallbackError, "The callback did not deliver a code"),
    (PermissionDeniedError, "The app lacks a permission"),
    (StripeAPIError, "The API call failed"),
    (SandboxError, "The sandbox said no"),
    (SyncLockedError, "Another sync is running"),
    (SyncError, "The sync cannot run"),
    (StripeOAuthNBError, "Something needs fixing"),
)


def safe_text(text: str) -> str:
    """``text`` masked (keys, codes, tokens, ``state=`` values) and then HTML-escaped."""
    return html.escape(mask_text(text))


def error_title(exc: BaseException) -> str:
    """A short title for the kind of problem ``exc`` is."""
    return next((t for cls, t in _TITLES if isinstance(exc, cls)), "Unexpected error")


def explain(exc: BaseException, *, title: str | None = None) -> str:
    """HTML for an error: a title saying what kind of problem, then the masked message."""
    heading = error_title(exc) if title is None else title
    return (
        f"<div class='som-error' style='color:{ERROR_COLOUR};white-space:pre-wrap'>"
        f"<b>{html.escape(heading)}.</b> "
        f"{safe_text(str(exc))}</div>"
    )
