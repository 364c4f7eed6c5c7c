"""The walkthrough: the five step forms strung together over one :class:`~stripe_oauth_nb.Flow`.

Each step shows what it needs, what it did, and unlocks the next. The widget keeps no state of
its own beyond the forms: :meth:`Walkthrough.refresh` reads the forms and the flow and redraws the
stepper, so a click, a callback arriving on a server thread, or a notebook cell calling a form's
method all end in the same place.
"""

from __future__ import annotations

import html
import threading
from typing import Any, Literal

import ipywidgets as w

from .._flow import Flow, Stage
from .callback_form import CallbackForm
from .manifest_form import ManifestForm
from .tokens_panel import TokensPanel
from .validate_panel import ValidatePanel

__all__ = ["STEPS", "Walkthrough"]

StepName = Literal["manifest", "link", "callback", "tokens", "validate"]
StepState = Literal["done", "current", "locked"]

STEPS: tuple[tuple[StepName, str], ...] = (
    ("manifest", "1. Manifest"),
    ("link", "2. Install link"),
    ("callback", "3. Callback"),
    ("tokens", "4. Tokens"),
    ("validate", "5. Validate"),
)
_MARKS = {"done": "✓", "current": "▶", "locked": "·"}
#: The four boxes on the page (steps 2 and 3 share one form), their titles, and their steps.
_SECTIONS: dict[str, str] = {
    "manifest": "Step 1: the manifest",
    "link": "Steps 2 and 3: install link and callback",
    "tokens": "Step 4: tokens",
    "validate": "Step 5: validate and read data",
}
_SECTION_STEPS: dict[str, tuple[StepName, ...]] = {
    "manifest": ("manifest",),
    "link": ("link", "callback"),
    "tokens": ("tokens",),
    "validate": ("validate",),
}
_COLOURS = {"done": "#1b5e20", "current": "#0d47a1", "locked": "#757575"}

_INTRO: dict[StepName, str] = {
    "manifest": (
        "Describe the app in <code>stripe-app.json</code>: OAuth access, public distribution, "
        "the redirect URI the code comes back to, and the permissions. Findings update as you "
        "type; fix the errors, then register the app."
    ),
    "link": (
        "Build the install link. It carries a fresh <code>state</code> that only this notebook "
        "knows; the callback server starts on the redirect URI's port before the link is shown."
    ),
    "callback": (
        "Open the link, review the permissions and press Accept. The browser comes back to the "
        "notebook's callback server with a code that lives 5 minutes. If the browser cannot reach "
        "this kernel, paste the address it landed on into the box below."
    ),
    "tokens": (
        "Exchange the code once for an access token (1 hour) and a refresh token (1 year, "
        "replaced on every refresh). They are stored in a private file."
    ),
    "validate": (
        "Call the API with the access token: the connected account, then customers. The token "
        "refreshes itself before it expires."
    ),
}


def _locked_note(step: str) -> w.HTML:
    note = w.HTML(f"<i>Finish {html.escape(step)} first.</i>")
    note.add_class("som-step-locked")
    return note


class Walkthrough(w.VBox):  # type: ignore[misc]  # ipywidgets ships no type hints
    """Manifest, install link, callback, tokens and validation, in order, over one flow.

    ``flow``: the shared state (default :meth:`Flow.open`, which starts the sandbox when it is
    the target). ``tick``: let the forms run their live countdowns (off in tests).
    """

    def __init__(self, flow: Flow | None = None, *, tick: bool = True, **kwargs: Any) -> None:
        self.flow = flow if flow is not None else Flow.open()
        self._tick = tick
        self._lock = threading.RLock()

        self.target = w.HTML(self._target_html())
        self.target.add_class("som-walkthrough-target")
        self.stepper = w.HTML()
        self.stepper.add_class("som-walkthrough-stepper")
        #: Where the notebook talks to, and the five steps' progress: show it above the steps.
        self.header = w.VBox([self.target, self.stepper])

        self.manifest_form = ManifestForm(path=self._manifest_path(), sandbox=self.flow.sandbox)
        if self.manifest_form.register_button is not None:
            self.manifest_form.register_button.on_click(lambda _b: self.refresh())
        self.callback_form: CallbackForm | None = None
        self.tokens_panel: TokensPanel | None = None
        self.validate_panel: ValidatePanel | None = None

        self.sections: dict[str, w.VBox] = {}
        for name, title in _SECTIONS.items():
            box = w.VBox([w.HTML(f"<h3>{title}</h3>")])
            box.add_class(f"som-step-{name}")
            self.sections[name] = box
        self._fill("manifest", self._manifest_body())
        super().__init__(children=[self.target, self.stepper, *self.sections.values()], **kwargs)
        self.add_class("som-walkthrough")
        self.refresh()

    # -- pieces ----------------------------------------------------------------------------
    def _target_html(self) -> str:
        colour = "#0d47a1" if self.flow.settings.is_sandbox else "#b00020"
        return (
            f'<p style="border-left:4px solid {colour};padding-left:8px">'
            f"{html.escape(self.flow.describe())}</p>"
        )

    def _manifest_path(self) -> str:
        if self.flow.settings.is_sandbox:
            self.flow.starter_manifest()
        return str(self.flow.manifest_path)

    def _manifest_body(self) -> list[w.Widget]:
        intro = w.HTML(f"<p>{_INTRO['manifest']}</p>")
        if self.flow.settings.is_sandbox:
            return [intro, self.manifest_form]
        note = w.HTML(
            "<p>With real Stripe: save the manifest, run <code>stripe apps upload</code>, and "
            "put the app's client id in <code>.env</code> as <code>STRIPE_CLIENT_ID_TEST</code>. "
            "Re-run this notebook once it is there.</p>"
        )
        return [intro, note, self.manifest_form]

    def _fill(self, name: str, body: list[w.Widget]) -> None:
        box = self.sections[name]
        box.children = (box.children[0], *body)

    def section(self, name: str) -> w.VBox:
        """One step's box (``manifest``, ``link``, ``tokens`` or ``validate``), to display alone."""
        return self.sections[name]

    # -- unlocking -------------------------------------------------------------------------
    def _ensure_link(self) -> None:
        if self.callback_form is not None:
            return
        form = CallbackForm(
            self.flow.settings,
            log=self.flow.attempts,
            allowed_redirect_uris=self.flow.allowed_redirect_uris or None,
            tick=self._tick,
        )
        form.status_html.observe(lambda _change: self.refresh(), names="value")
        self.callback_form = form
        self._fill(
            "link",
            [w.HTML(f"<p>{_INTRO['link']}</p><p>{_INTRO['callback']}</p>"), form],
        )

    def _ensure_tokens(self) -> None:
        if self.tokens_panel is not None:
            return
        panel = TokensPanel(self.flow.tokens, code=self.flow.code, live=self._tick)
        panel.exchange_button.on_click(lambda _b: self.refresh())
        self.tokens_panel = panel
        self._fill("tokens", [w.HTML(f"<p>{_INTRO['tokens']}</p>"), panel])

    def _ensure_validate(self) -> None:
        if self.validate_panel is not None:
            return
        from .._api import ApiClient

        flow = self.flow
        panel = ValidatePanel(lambda: ApiClient.from_settings(flow.settings, flow.tokens))
        panel.run.on_click(lambda _b: self.refresh())
        self.validate_panel = panel
        self._fill("validate", [w.HTML(f"<p>{_INTRO['validate']}</p>"), panel])

    def refresh(self) -> None:
        """Read the forms into the flow, unlock what is now possible, redraw the stepper."""
        with self._lock:
            flow = self.flow
            registered = self.manifest_form.registered
            if registered is not None and not flow.app_registered:
                flow.use_app(registered.client_ids, registered.redirect_uris)
            form = self.callback_form
            if form is not None and form.code is not None and form.code is not flow.code:
                flow.code = form.code
                if self.tokens_panel is not None:
                    self.tokens_panel.code = form.code
            panel = self.validate_panel
            if panel is not None and panel.report is not None:
                flow.validated = panel.report.ok

            stage = flow.stage()  # the one read of the token store per redraw
            if stage != "manifest":
                self._ensure_link()
            if stage in ("tokens", "validate"):
                self._ensure_tokens()
            if stage == "validate":
                self._ensure_validate()
            for name in ("link", "tokens", "validate"):
                if len(self.sections[name].children) == 1:
                    previous = {"link": "step 1", "tokens": "step 3", "validate": "step 4"}
                    self._fill(name, [_locked_note(previous[name])])
            self.stepper.value = self._stepper_html(stage)
            self._show_section_states(self.states(stage))

    def _show_section_states(self, states: dict[StepName, StepState]) -> None:
        """Each box's title carries its own mark, so the state is visible where the reader is."""
        for name, title in _SECTIONS.items():
            steps = [states[step] for step in _SECTION_STEPS[name]]
            state: StepState = (
                "done"
                if all(x == "done" for x in steps)
                else "current"
                if "current" in steps
                else "locked"
            )
            header = self.sections[name].children[0]
            header.value = (
                f'<h3 style="color:{_COLOURS[state]}">{_MARKS[state]} {html.escape(title)}</h3>'
            )

    # -- where are we ----------------------------------------------------------------------
    def states(self, stage: Stage | None = None) -> dict[StepName, StepState]:
        """Each step: done, current (the first not done) or locked.

        ``stage``: :meth:`Flow.stage` if the caller has it already (it reads the token store;
        stored tokens are exactly what makes it ``"validate"``), else it is read once here.
        """
        flow = self.flow
        if stage is None:
            stage = flow.stage()
        has_tokens = stage == "validate"
        form = self.callback_form
        done: dict[StepName, bool] = {
            "manifest": stage != "manifest",
            "link": has_tokens
            or flow.code is not None
            or (form is not None and form.link is not None),
            "callback": has_tokens or flow.code is not None,
            "tokens": has_tokens,
            "validate": flow.validated,
        }
        states: dict[StepName, StepState] = {}
        current_given = False
        for name, _title in STEPS:
            if done[name]:
                states[name] = "done"
            elif not current_given:
                states[name] = "current"
                current_given = True
            else:
                states[name] = "locked"
        return states

    def status_line(self, stage: Stage | None = None) -> str:
        """The stepper as plain text, e.g. ``✓ 1. Manifest  ▶ 2. Install link  · 3. Callback …``."""
        states = self.states(stage)
        return "  ".join(f"{_MARKS[states[name]]} {title}" for name, title in STEPS)

    def _stepper_html(self, stage: Stage) -> str:
        states = self.states(stage)
        items = "".join(
            f'<span class="som-stepper-{name} som-stepper-{states[name]}" '
            f'style="margin-right:1.2em;color:{_COLOURS[states[name]]}">'
            f"{_MARKS[states[name]]} {html.escape(title)}</span>"
            for name, title in STEPS
        )
        return f"<p>{items}</p>"

    def close(self) -> None:
        for child in (self.callback_form, self.tokens_panel):
            if child is not None:
                child.close()
        super().close()
