"""What :func:`stripe_oauth_nb.connect` shows in a notebook while it waits for the code.

The install link, one status line, and a paste box for when the browser cannot reach the
kernel. It implements the core's ``Presenter`` protocol (:mod:`stripe_oauth_nb._connect`): the
core decides, this view only shows, and hands a pasted URL back to the core (which checks it
exactly like the callback server does). Button clicks arrive on the kernel's widget thread while
the cell waits, so the paste works during the wait.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import ipywidgets as w

from ._common import on_click, safe_text
from ._style import link_html, status_html

if TYPE_CHECKING:
    from .._tokenset import TokenSet
    from ..oauth._callback import CallbackServer
    from ..oauth._install_link import InstallLink

__all__ = ["AuthorizeView"]


class AuthorizeView(w.VBox):  # type: ignore[misc]  # ipywidgets ships no type hints
    """The install link, a status line and a paste box, for one authorization."""

    def __init__(self, **kwargs: Any) -> None:
        self.link = w.HTML()
        self.link.add_class("som-connect-link")
        self.status = w.HTML(status_html("info", "Preparing the install link..."))
        self.status.add_class("som-connect-status")
        self.paste_input = w.Password(
            placeholder="the address the browser landed on after Accept",
            layout=w.Layout(width="40em"),
        )
        self.paste_input.add_class("som-connect-paste")
        self.paste_button = w.Button(description="Use pasted URL", icon="paste")
        self.paste_button.add_class("som-connect-paste-submit")
        self._submit: Callable[[str], None] | None = None
        self._approved = False
        on_click(self.paste_button, self._paste, self.status)
        super().__init__(
            children=[
                self.link,
                self.status,
                w.HTML("<b>Browser could not reach the notebook?</b> Paste where it landed:"),
                w.HBox([self.paste_input, self.paste_button]),
            ],
            **kwargs,
        )
        self.add_class("som-connect")

    @classmethod
    def show(cls) -> AuthorizeView:
        """A new view, displayed in the running cell's output."""
        from IPython.display import display

        view = cls()
        display(view)  # type: ignore[no-untyped-call]
        return view

    # -- the Presenter protocol ----------------------------------------------------------
    def show_link(self, link: InstallLink, server: CallbackServer | None) -> None:
        self.link.value = link_html(link.url, f"Open the install link ({link.mode} mode)") + (
            " in a new tab, review the permissions and press Accept."
        )
        where = f"on {html.escape(server.local_url)}" if server is not None else "for a paste"
        self.status.value = status_html("waiting", f"Waiting for the redirect {where}.")

    def pasted(self, submit: Callable[[str], None]) -> None:
        self._submit = submit

    def say(self, message: str) -> None:
        self.status.value = status_html("waiting", safe_text(message))

    def approved(self) -> None:
        """``approve=True``: the sandbox accepted its own consent page; nobody clicked."""
        self._approved = True

    def done(self, tokens: TokenSet, location: str) -> None:
        # The link is used: a second click would only reach a closed port.
        if self._approved:
            self.link.value = (
                "<span class='som-used-link'>Install link accepted for you by "
                "<code>approve=True</code> (sandbox only): nothing to click.</span>"
            )
        else:
            self.link.value = "<span class='som-used-link'>Install link used.</span>"
        self.paste_input.disabled = True
        self.paste_button.disabled = True
        how = " by approve=True" if self._approved else ""
        self.status.value = status_html(
            "done",
            f"Connected{how}: {html.escape(tokens.account_id)} ({tokens.mode} mode); tokens "
            f"stored in <code>{html.escape(location)}</code>.",
        )

    def _paste(self) -> None:
        text = self.paste_input.value
        self.paste_input.value = ""  # the landed URL carries a live code
        if self._submit is None:
            self.status.value = status_html("error", "Nothing is waiting for a pasted URL.")
            return
        self._submit(text)
