"""Steps 2 and 3 as a form: build the install link, catch the redirect, or take a pasted URL.

A view over the core path ``connect()`` takes (:mod:`stripe_oauth_nb._connect`): the form reads
its inputs, starts the authorization with the same function (``start_authorization``: server
first, then the link; then ``refuse_what_the_sandbox_refuses``, so a refused link is said at
once), reads the server's events with the same rule (``code_of``) and a pasted URL with the same
check (``code_from_pasted_url``), and shows results and every failure, masked (:mod:`._common`).
Server events arrive on server threads; the form only sets widget values from them (never
``with out:``), under a lock.
"""

from __future__ import annotations

import html
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any, Final, Literal

import ipywidgets as w

from .._connect import code_of, refuse_what_the_sandbox_refuses
from .._errors import (
    AccessDeniedError,
    CallbackError,
    CallbackTimeoutError,
    StripeOAuthNBError,
)
from .._masking import clean_server_text, mask_text
from .._modes import read_mode
from .._settings import Mode, Settings
from ..oauth import start_authorization
from ..oauth._attempts import ATTEMPT_TTL, AttemptLog, AuthorizationCode
from ..oauth._callback import (
    CallbackEvent,
    CallbackServer,
    code_from_pasted_url,
    detect_remote,
    outcome_of,
    parse_callback_url,
)
from ..oauth._install_link import InstallLink
from ..tokens import open_attempt_log
from ._common import explain, on_click, safe_text, ticker
from ._style import Tone, link_html, status_html, text_layout

__all__ = ["CallbackForm"]

Status = Literal["idle", "waiting", "received", "refused", "expired", "error", "stopped"]

_TONES: Final[dict[Status, Tone]] = {
    "idle": "muted",
    "waiting": "waiting",
    "received": "done",
    "refused": "error",
    "expired": "error",
    "error": "error",
    "stopped": "muted",
}


def _clock_text(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"


def _box(kind: Any, description: str, css: str, **options: Any) -> Any:
    """A labelled input of the form's width, tagged with ``css`` for browser tests."""
    box = kind(description=description, **text_layout(), **options)
    box.add_class(css)
    return box


class CallbackForm(w.VBox):  # type: ignore[misc]  # ipywidgets is untyped
    """Install link, live callback status with the code's countdown, and the paste box.

    ``allowed_redirect_uris`` come from the manifest (exact match is checked before the link
    is built). ``tick``: count down (the server's wait, the code's life) every second while
    the form is shown (the browser drives it: no thread outlives the form).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        log: AttemptLog | None = None,
        allowed_redirect_uris: Sequence[str] | None = None,
        deadline: float = float(ATTEMPT_TTL),
        environ: Mapping[str, str] | None = None,
        tick: bool = True,
    ) -> None:
        self.settings = settings
        # The same log the token step reads by default, so this form's code can be exchanged.
        self.attempt_log = log if log is not None else open_attempt_log(settings)
        self.allowed_redirect_uris = allowed_redirect_uris
        self.deadline = deadline
        self.link: InstallLink | None = None
        self.server: CallbackServer | None = None
        self.code: AuthorizationCode | None = None
        self.error: StripeOAuthNBError | None = None
        self.status_kind: Status = "idle"
        self._lock = threading.RLock()
        self._listen_until: float | None = None

        self.mode_input = w.ToggleButtons(
            options=["test", "live"], value=settings.mode, description="Mode"
        )
        self.mode_input.add_class("som-mode")
        self.redirect_input = _box(
            w.Text, "Redirect URI", "som-redirect-uri", value=settings.redirect_uri
        )
        self.dashboard_input = _box(
            w.Text,
            "Dashboard link",
            "som-dashboard-link",
            placeholder="optional: the install link copied from the Dashboard",
        )
        self.build_button = w.Button(
            description="Build link and listen",
            button_style="primary",
            icon="link",
            layout=w.Layout(width="max-content"),
        )
        self.build_button.add_class("som-build-link")
        self.link_html = w.HTML()
        self.link_html.add_class("som-install-link")
        self.status_html = w.HTML()
        self.status_html.add_class("som-callback-status")
        self.countdown_html = w.HTML()
        self.countdown_html.add_class("som-code-countdown")
        # A Password box: the landed URL carries a live code, which must not show in the
        # widget's repr or on screen.
        self.paste_input = _box(
            w.Password,
            "Landed URL",
            "som-paste-url",
            placeholder="paste the address the browser landed on after Accept",
        )
        self.paste_button = w.Button(description="Use pasted URL", icon="paste")
        self.paste_button.add_class("som-paste-submit")
        self.remote_html = w.HTML()
        self.remote_html.add_class("som-remote-note")
        remote = detect_remote(environ)
        if remote.is_remote:
            self.remote_html.value = f"<p>{safe_text(remote.advice())}</p>"

        on_click(self.build_button, self.build, self.status_html)
        on_click(self.paste_button, self.submit_paste, self.status_html)
        children: list[w.Widget] = [
            self.mode_input,
            self.redirect_input,
            self.dashboard_input,
            self.remote_html,
            self.build_button,
            self.link_html,
            self.status_html,
            self.countdown_html,
            w.HTML("<b>Browser could not reach the notebook?</b>"),
            w.HBox([self.paste_input, self.paste_button]),
        ]
        if tick:
            children.append(ticker(self.tick))
        super().__init__(children=children)
        self._show("idle", "Press <i>Build link and listen</i> to start.", raw=True)
        self.add_class("som-callback-form")

    # -- showing -------------------------------------------------------------------------
    def _show(self, kind: Status, message: str, *, raw: bool = False) -> None:
        text = message if raw else safe_text(message)
        with self._lock:
            self.status_html.value = status_html(_TONES[kind], text, label=kind.capitalize())
            self.status_kind = kind

    def refresh_countdown(self, now: float | None = None) -> float:
        """Update the countdown of the received code; returns the seconds left."""
        code = self.code
        if code is None:
            self.countdown_html.value = ""
            return 0.0
        left = code.expires_at - (time.time() if now is None else now)
        if left > 0:
            self.countdown_html.value = (
                f"<p>Code {html.escape(code.code.masked)} ({code.mode} mode): exchange it for "
                f"tokens within <b>{_clock_text(left)}</b>.</p>"
            )
        else:
            self.countdown_html.value = (
                "<p>The code has expired (codes live 5 minutes). Build a new link.</p>"
            )
        return max(0.0, left)

    def tick(self, now: float | None = None) -> None:
        """One second passed: count down the server's wait and the received code's life."""
        with self._lock:  # a code or an error arriving meanwhile is never overwritten
            until = self._listen_until
            server = self.server
            if self.status_kind == "waiting" and until is not None and server is not None:
                left = until - (time.monotonic() if now is None else now)
                self._show(
                    "waiting",
                    f"Listening on {server.local_url}: {_clock_text(left)} left "
                    "(or paste the landed URL below).",
                )
        if self.code is not None:
            self.refresh_countdown()

    def _received(self, code: AuthorizationCode, how: str) -> None:
        # ``status_kind`` changes last: whoever sees "received" sees the used link and the
        # countdown too.
        with self._lock:
            self.code = code
            self.error = None
            self._link_used()
            self.refresh_countdown()
            self._show(
                "received", f"Authorization code {code.code.masked} ({code.mode} mode) {how}."
            )

    def _link_used(self) -> None:
        """The link's state is used up: a second click could only reach a closed port."""
        self.link_html.value = (
            "<p class='som-used-link'>Install link used. Build a new link to install again.</p>"
        )

    def _failed(self, exc: StripeOAuthNBError, *, pasted: str | None = None) -> None:
        with self._lock:
            self.error = exc
            found = outcome_of(exc).kind  # the server's table: refused, expired, else an error
            kind: Status = (
                "refused" if found == "refused" else "expired" if found == "expired" else "error"
            )
            shown = f"<p class='som-pasted'>Pasted: {safe_text(pasted)}</p>" if pasted else ""
            if kind in ("refused", "expired"):
                self._link_used()
            self.status_html.value = explain(exc) + shown
            self.status_kind = kind  # last, as in _received

    def _on_event(self, event: CallbackEvent) -> None:
        """From a server thread: set widget values only."""
        try:
            code = code_of(event)
        except StripeOAuthNBError as exc:
            self._failed(exc)
            return
        if code is not None:
            self._received(code, "received by the notebook's callback server")
        elif event.kind == "rejected":
            self._show(
                "waiting",
                f"A request was refused and the notebook keeps waiting: {event.message}",
            )
        elif event.kind == "stopped" and self.status_kind == "waiting":
            self._show("stopped", event.message)

    # -- actions -------------------------------------------------------------------------
    def stop(self) -> None:
        """Stop the form's callback server (if any)."""
        server = getattr(self, "server", None)
        if server is not None:
            server.stop()

    def build(self) -> InstallLink | None:
        """Build the link and start the server (port checked first); None if something failed."""
        self.stop()
        with self._lock:
            self.link, self.code, self.error = None, None, None
        self.link_html.value = ""
        self.countdown_html.value = ""
        mode: Mode = read_mode(self.mode_input.value) or "test"  # the toggle offers only these
        redirect_uri = self.redirect_input.value.strip()
        pasted = self.dashboard_input.value.strip() or None
        try:
            link, server = start_authorization(
                self.settings,
                self.attempt_log,
                allowed_redirect_uris=self.allowed_redirect_uris,
                mode=mode,
                redirect_uri=redirect_uri,
                pasted_link=pasted,
                deadline=self.deadline,
                listener=self._on_event,
            )
            if pasted is None:
                refuse_what_the_sandbox_refuses(self.settings, link, server)
        except StripeOAuthNBError as exc:
            # A landed URL typed into the wrong box must not stay in widget state unmasked.
            for box in (self.redirect_input, self.dashboard_input):
                masked = mask_text(box.value)
                if masked != box.value:
                    box.value = masked
            self._failed(exc)
            return None
        with self._lock:
            self.server, self.link = server, link
        self._listen_until = time.monotonic() + self.deadline if server is not None else None
        self.link_html.value = (
            f"<p>{link_html(link.url, f'Open the install link ({mode} mode)')} in a new tab, "
            "review the permissions and press Accept.</p>"
        )
        if server is None:
            self._show(
                "waiting",
                "The redirect URI does not reach this kernel: after Accept, paste the address "
                "the browser lands on below.",
            )
        else:
            self._show(
                "waiting",
                f"Listening on {server.local_url} for {_clock_text(self.deadline)} "
                "(or paste the landed URL below).",
            )
        return link

    def submit_paste(self) -> AuthorizationCode | None:
        """Check the pasted URL exactly like the server would; None if it was refused."""
        text = self.paste_input.value
        if self.code is not None and self._carries_received_code(text):
            self.paste_input.value = ""
            self._show(
                "received",
                f"That URL carries the code {self.code.code.masked}, which the notebook already "
                "has: nothing more to paste. Go on to the tokens step.",
            )
            return self.code
        try:
            code = code_from_pasted_url(text, self.attempt_log)
        except StripeOAuthNBError as exc:
            if isinstance(exc, AccessDeniedError | CallbackTimeoutError):
                self.stop()
            # Show what was refused, masked, in the status; the box never keeps a live code.
            self.paste_input.value = ""
            self._failed(exc, pasted=clean_server_text(text, 160))
            return None
        self.stop()
        self.paste_input.value = ""
        self._received(code, "taken from the pasted URL")
        return code

    def _carries_received_code(self, text: str) -> bool:
        code = self.code
        try:
            pasted = parse_callback_url(text).code
        except StripeOAuthNBError:
            return False
        return code is not None and pasted is not None and pasted == code.code

    def wait(self, timeout: float | None = None) -> AuthorizationCode:
        """Block until the server catches the code (for unattended runs); typed errors raise."""
        if self.code is not None:
            return self.code
        server = self.server
        if server is None:
            raise CallbackError("No callback server is running: build the link first.")
        return server.wait(timeout)

    def close(self) -> None:
        if hasattr(self, "server"):  # also called by __del__ of a half-built form
            self.stop()
            # Close the children too, so no saved widget state keeps the link (it holds the state).
            pending = list(self.children)
            while pending:
                child = pending.pop()
                pending.extend(getattr(child, "children", ()))
                child.close()
        super().close()

    def __repr__(self) -> str:
        return f"CallbackForm(status={getattr(self, 'status_kind', 'idle')!r})"
