"""The tokens panel: exchange the code, see the masked tokens and their countdowns, refresh.

It only calls :class:`~stripe_oauth_nb.tokens.TokenManager` (``exchange``, ``refresh``,
``summary``, ``all``) and shows what comes back; every error is shown with what to do next
(:func:`~stripe_oauth_nb.widgets._common.explain`). Key widgets carry ``som-tokens-…`` CSS
classes for browser tests. The store is read on :meth:`TokensPanel.render` (after an exchange
or a refresh, or when called); with ``live=True`` the countdowns are re-drawn every second from
the token sets last read, driven by the browser while the panel is shown (no kernel thread).
"""

from __future__ import annotations

import html
import threading
from typing import Any

import ipywidgets as w

from .._errors import CodeAlreadyUsedError, NetworkError, StripeOAuthNBError
from .._tokenset import TokenSet, format_remaining
from ..api._table import format_cell
from ..oauth._attempts import AuthorizationCode
from ..tokens import TokenManager
from ._common import explain, on_click, ticker
from ._style import status_html, table_html

__all__ = ["TokensPanel"]

Key = tuple[str, bool]


def _label(tokens: TokenSet) -> str:
    return f"{tokens.account_id} {tokens.mode}"


def _left(seconds: float) -> str:
    left = format_remaining(seconds, with_seconds=True)
    return left if left == "expired" else f"{left} left"


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
        **kwargs: Any,
    ) -> None:
        self.manager = manager
        self._code: AuthorizationCode | None = None
        #: What the store held at the last :meth:`render`: the sets and their summary rows.
        self._sets: dict[Key, TokenSet] = {}
        self._rows: dict[Key, dict[str, Any]] = {}
        self._draw_lock = threading.RLock()
        self.exchange_button = w.Button(
            description="Exchange code", icon="key", button_style="primary"
        )
        self.exchange_button.add_class("som-tokens-exchange")
        self.refresh_button = w.Button(description="Refresh now", icon="refresh")
        self.refresh_button.add_class("som-tokens-refresh")
        self.account = w.Dropdown(options=[], description="Tokens")
        self.account.add_class("som-tokens-account")
        self.status = w.HTML(value="")
        self.status.add_class("som-tokens-status")
        self.details = w.HTML(value="")
        self.details.add_class("som-tokens-details")
        on_click(self.exchange_button, self.exchange, self.status)
        on_click(self.refresh_button, self.refresh, self.status)
        self.account.observe(lambda _: self._draw(), names="value")
        children: list[w.Widget] = [
            w.HBox([self.exchange_button, self.account, self.refresh_button]),
            self.status,
            self.details,
        ]
        if live:
            children.append(ticker(self._draw))
        super().__init__(children=children, **kwargs)
        self.code = code
        self.render()

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

    def _selected(self) -> Key | None:
        value = self.account.value
        return value if isinstance(value, tuple) else None

    # -- actions -------------------------------------------------------------------------
    def exchange(self) -> TokenSet | None:
        if self.code is None:
            self.status.value = status_html(
                "info", "No code yet: get one in the callback step (steps 2 and 3) first."
            )
            return None
        try:
            tokens = self.manager.exchange(self.code)
        except StripeOAuthNBError as exc:
            self.status.value = explain(exc)
            self.exchange_button.disabled = isinstance(exc, CodeAlreadyUsedError | NetworkError)
            return None
        self.exchange_button.disabled = True  # a code works once
        self.status.value = status_html(
            "done",
            f"Tokens for <b>{html.escape(tokens.account_id)}</b> ({tokens.mode} mode) are stored "
            f"in <code>{html.escape(self.manager.location)}</code>.",
            label="Exchanged",
        )
        self.render(select=tokens)
        return tokens

    def refresh(self) -> TokenSet | None:
        selected = self._selected()
        if selected is None:
            self.status.value = status_html("info", "No tokens yet: exchange a code first.")
            return None
        try:
            before = self.manager.get(*selected)
            tokens = self.manager.refresh(*selected, force=True)
        except StripeOAuthNBError as exc:
            self.status.value = explain(exc)
            self.render()
            return None
        self.status.value = status_html(
            "done",
            f"access token {tokens.access_token.masked} (was {before.access_token.masked}); "
            f"refresh token {tokens.refresh_token.masked} (the old "
            f"{before.refresh_token.masked} no longer works).",
            label="Refreshed",
        )
        self.render(select=tokens)
        return tokens

    # -- display -------------------------------------------------------------------------
    def render(self, select: TokenSet | None = None) -> None:
        """Read the store, redraw the account list and the selected set's tokens and countdowns."""
        try:
            sets = self.manager.all()
            rows = self.manager.summary()
        except StripeOAuthNBError as exc:
            self.details.value = explain(exc)
            return
        with self._draw_lock:
            self._sets = {tokens.key: tokens for tokens in sets}
            self._rows = {(r["account_id"], r["mode"] == "live"): r for r in rows}
            options = [(_label(tokens), tokens.key) for tokens in sets]
            keys = [key for _text, key in options]
            wanted = select.key if select else self._selected()
            if list(self.account.options) != options:
                self.account.options = options
            if keys:
                self.account.value = wanted if wanted in keys else keys[-1]
            self.refresh_button.disabled = not keys
        self._draw()

    def _draw(self) -> None:
        """Redraw the selected set from what :meth:`render` last read (no store access)."""
        with self._draw_lock:
            key = self._selected()
            tokens = self._sets.get(key) if key is not None else None
            row = self._rows.get(key) if key is not None else None
        if tokens is None or row is None:
            self.details.value = "<i>No tokens stored yet.</i>"
            return
        now = self.manager.clock()
        lines = [
            ("Account", tokens.account_id),
            ("Mode", tokens.mode),
            (
                "Access token",
                f"{row['access_token']} ({_left(round(tokens.access_expires_in(now)))})",
            ),
            (
                "Refresh token",
                f"{row['refresh_token']} ({_left(round(tokens.refresh_expires_in(now)))})",
            ),
            # One format for times in every table (as the data previews show them).
            ("Access expires", format_cell("access_expires_at", tokens.access_expires_at)),
            ("Refresh expires", format_cell("refresh_expires_at", tokens.refresh_expires_at)),
        ]
        if row["state"] != "ok":
            lines.append(("Refresh state", row["state"]))
        if row["unsaved"]:
            lines.append(("Store", "not saved yet (kept in memory)"))
        self.details.value = table_html(None, lines, css="som-tokens-table")
