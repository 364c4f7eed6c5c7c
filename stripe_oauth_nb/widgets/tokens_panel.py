"""The tokens panel: exchange the code, see the masked tokens and their countdowns, refresh.

It only calls :class:`~stripe_oauth_nb._tokens.TokenManager` (``exchange``, ``refresh``,
``summary``) and shows what comes back; every error is shown with what to do next. Key widgets
carry ``som-tokens-…`` CSS classes for browser tests. With ``live=True`` a daemon thread
re-draws the countdowns every ``interval`` seconds until :meth:`TokensPanel.close`.
"""

from __future__ import annotations

import html
import threading
from typing import Any

import ipywidgets as w

from .._attempts import AuthorizationCode
from .._errors import (
    AuthorizeAgainError,
    CodeAlreadyUsedError,
    ConfigError,
    InsecureStoreError,
    ModeMismatchError,
    NetworkError,
    RefreshResponseLostError,
    StripeOAuthNBError,
    TokenLockTimeoutError,
    TokenStoreError,
)
from .._masking import mask_text
from .._tokens import TokenManager
from .._tokenset import TokenSet

__all__ = ["TokensPanel", "explain"]

#: What each error means, as a title above its (already actionable) message. First match wins.
_TITLES: tuple[tuple[type[Exception], str], ...] = (
    (CodeAlreadyUsedError, "This code cannot be used (again)"),
    (RefreshResponseLostError, "Token rotated, response lost"),
    (AuthorizeAgainError, "Authorize the app again"),
    (ModeMismatchError, "Test and live mode are mixed"),
    (ConfigError, "A setting needs fixing"),
    (NetworkError, "Stripe could not be reached"),
    (TokenLockTimeoutError, "Another refresh is still running"),
    (InsecureStoreError, "The token store is readable by others"),
    (TokenStoreError, "The token store cannot be used"),
    (StripeOAuthNBError, "The token endpoint said no"),
)


def explain(exc: BaseException) -> str:
    """HTML for an error: a title saying what kind of problem, then the masked message."""
    title = next((t for cls, t in _TITLES if isinstance(exc, cls)), "Unexpected error")
    text = html.escape(mask_text(str(exc)))
    return f"<div style='color:#b00020'><b>{html.escape(title)}.</b> {text}</div>"


def _left(seconds: float) -> str:
    if seconds <= 0:
        return "expired"
    days, rest = divmod(int(seconds), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h left"
    return f"{hours}h {minutes:02d}m {secs:02d}s left" if hours else f"{minutes}m {secs:02d}s left"


class TokensPanel(w.VBox):  # type: ignore[misc]  # ipywidgets ships no type hints
    """Exchange a code and look after the resulting tokens.

    ``code``: the :class:`AuthorizationCode` from the callback step (or set :attr:`code` later).
    """

    def __init__(
        self,
        manager: TokenManager,
        code: AuthorizationCode | None = None,
        *,
        live: bool = True,
        interval: float = 1.0,
        **kwargs: Any,
    ) -> None:
        self.manager = manager
        self._code: AuthorizationCode | None = None
        self.exchange_button = w.Button(description="Exchange code", icon="key")
        self.exchange_button.add_class("som-tokens-exchange")
        self.refresh_button = w.Button(description="Refresh now", icon="refresh")
        self.refresh_button.add_class("som-tokens-refresh")
        self.account = w.Dropdown(options=[], description="Tokens")
        self.account.add_class("som-tokens-account")
        self.status = w.HTML(value="")
        self.status.add_class("som-tokens-status")
        self.details = w.HTML(value="")
        self.details.add_class("som-tokens-details")
        self.exchange_button.on_click(lambda _: self.exchange())
        self.refresh_button.on_click(lambda _: self.refresh())
        self.account.observe(lambda _: self.render(), names="value")
        super().__init__(
            children=[
                w.HBox([self.exchange_button, self.account, self.refresh_button]),
                self.status,
                self.details,
            ],
            **kwargs,
        )
        self.code = code
        self.render()
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None
        if live:
            self._ticker = threading.Thread(target=self._tick, args=(interval,), daemon=True)
            self._ticker.start()

    # -- inputs --------------------------------------------------------------------------
    @property
    def code(self) -> AuthorizationCode | None:
        return self._code

    @code.setter
    def code(self, value: AuthorizationCode | None) -> None:
        self._code = value
        self.exchange_button.disabled = value is None
        self.exchange_button.tooltip = (
            "Trade the code for tokens (once)" if value else "Get a code in the callback step"
        )

    def _selected(self) -> tuple[str, bool] | None:
        value = self.account.value
        if not value:
            return None
        account_id, _, mode = str(value).partition(" ")
        return account_id, mode == "live"

    # -- actions -------------------------------------------------------------------------
    def exchange(self) -> TokenSet | None:
        if self.code is None:
            self.status.value = "<i>No code yet: finish the callback step first.</i>"
            return None
        try:
            tokens = self.manager.exchange(self.code)
        except StripeOAuthNBError as exc:
            self.status.value = explain(exc)
            self.exchange_button.disabled = isinstance(exc, CodeAlreadyUsedError | NetworkError)
            return None
        self.exchange_button.disabled = True  # a code works once
        self.status.value = (
            f"Exchanged: tokens for <b>{html.escape(tokens.account_id)}</b> ({tokens.mode} mode) "
            f"are stored in <code>{html.escape(self.manager.location)}</code>."
        )
        self.render(select=tokens)
        return tokens

    def refresh(self) -> TokenSet | None:
        selected = self._selected()
        if selected is None:
            self.status.value = "<i>No tokens yet: exchange a code first.</i>"
            return None
        try:
            before = self.manager.get(*selected)
            tokens = self.manager.refresh(*selected, force=True)
        except StripeOAuthNBError as exc:
            self.status.value = explain(exc)
            self.render()
            return None
        self.status.value = (
            f"Refreshed: access token {tokens.access_token.masked} (was "
            f"{before.access_token.masked}); refresh token {tokens.refresh_token.masked} (the old "
            f"{before.refresh_token.masked} no longer works)."
        )
        self.render(select=tokens)
        return tokens

    # -- display -------------------------------------------------------------------------
    def render(self, select: TokenSet | None = None) -> None:
        """Redraw the account list and the selected set's masked tokens and countdowns."""
        try:
            rows = self.manager.summary()
        except StripeOAuthNBError as exc:
            self.details.value = explain(exc)
            return
        options = [f"{r['account_id']} {r['mode']}" for r in rows]
        wanted = f"{select.account_id} {select.mode}" if select else self.account.value
        if list(self.account.options) != options:
            self.account.options = options
        if options:
            self.account.value = wanted if wanted in options else options[-1]
        self.refresh_button.disabled = not options
        row = next(
            (r for r in rows if f"{r['account_id']} {r['mode']}" == self.account.value), None
        )
        if row is None:
            self.details.value = "<i>No tokens stored yet.</i>"
            return
        lines = [
            ("Account", row["account_id"]),
            ("Mode", row["mode"]),
            ("Access token", f"{row['access_token']} ({_left(row['access_expires_in'])})"),
            ("Refresh token", f"{row['refresh_token']} ({_left(row['refresh_expires_in'])})"),
            ("Access expires", row["access_expires_at"]),
            ("Refresh expires", row["refresh_expires_at"]),
        ]
        if row["state"] != "ok":
            lines.append(("Refresh state", row["state"]))
        if row["unsaved"]:
            lines.append(("Store", "not saved yet (kept in memory)"))
        cells = "".join(
            f"<tr><th style='text-align:left'>{html.escape(k)}</th>"
            f"<td>{html.escape(str(v))}</td></tr>"
            for k, v in lines
        )
        self.details.value = f"<table class='som-tokens-table'>{cells}</table>"

    def _tick(self, interval: float) -> None:
        while not self._stop.wait(interval):
            try:
                self.render()
            except Exception:  # noqa: S112 (a redraw must never kill the ticker or print)
                continue

    def close(self) -> None:
        self._stop.set()
        super().close()
