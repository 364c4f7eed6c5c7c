"""What every form shares: the one way to put an error (or any message) into a widget.

Messages may carry what the user typed or pasted (a landed URL with its ``code`` and
``state``), so everything shown goes through :func:`safe_text`: masked first
(:func:`stripe_oauth_nb._masking.mask_text`), then HTML-escaped. :func:`explain` renders an
exception with a title saying what kind of problem it is. No form builds error HTML itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

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
from .._masking import mask_html
from ._style import status_html

__all__ = ["error_title", "explain", "on_click", "safe_text", "ticker"]

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
    (AccessDeniedError, "Nothing was authorized"),
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
    return mask_html(text)


def error_title(exc: BaseException) -> str:
    """A short title for the kind of problem ``exc`` is."""
    return next((t for cls, t in _TITLES if isinstance(exc, cls)), "Unexpected error")


def explain(exc: BaseException, *, title: str | None = None) -> str:
    """HTML for an error: a title saying what kind of problem, then the masked message.

    Errors from outside the toolkit (a bug) say so, and what to do about it.
    """
    heading = error_title(exc) if title is None else title
    message = str(exc)
    if not isinstance(exc, StripeOAuthNBError):
        message = (
            f"{type(exc).__name__}: {message} This is a bug in stripe-oauth-nb, not something "
            "you did: run the cell again, and report it (with this message) if it stays."
        )
    return f"<div class='som-error'>{status_html('error', safe_text(message), label=heading)}</div>"


def on_click(button: Any, action: Callable[[], object], shown: Any) -> None:
    """Run ``action`` when ``button`` is clicked; any failure is shown in ``shown`` (an HTML
    widget), titled and masked, never only in the browser's log console."""

    def run(_button: object) -> None:
        try:
            action()
        except Exception as exc:  # a click must show every failure in its form
            shown.value = explain(exc)

    button.on_click(run)


def ticker(on_tick: Callable[[], object], *, interval_ms: int = 1000) -> Any:
    """A hidden ``Play`` widget that calls ``on_tick`` every ``interval_ms`` while it is shown.

    The ticks come from the browser, so nothing runs in the kernel once the form is gone (a
    re-run cell leaves no thread behind), and nothing ticks where no front-end shows the form.
    Put it among the form's children.
    """
    import ipywidgets as w

    play = w.Play(
        value=0,
        min=0,
        max=10**9,
        step=1,
        interval=interval_ms,
        playing=False,
        show_repeat=False,
        layout=w.Layout(display="none"),
    )
    play.add_class("som-ticker")
    play.observe(lambda _change: on_tick(), names="value")

    def start(change: dict[str, Any]) -> None:
        # A Play view starts its timer only when ``playing`` turns true after the view exists
        # (ipywidgets 8.1): a Play created playing never ticks. The front-end counts its views
        # in ``_view_count``; each new one gets the off-on edge it needs.
        if (change["new"] or 0) > (change["old"] or 0):
            play.playing = False
            play.playing = True

    play.observe(start, names="_view_count")
    play._view_count = 0  # opt in: the front-end reports its views
    return play
