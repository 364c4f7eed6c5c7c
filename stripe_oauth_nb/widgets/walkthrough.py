"""The walkthrough: the five step forms strung together over one :class:`~stripe_oauth_nb.Flow`.

The flow holds the state and decides which step is done, current or locked
(:meth:`Flow.steps`); this widget only shows it. The forms report what they produced to the flow
(the registered app, the link, the code, the validation report) and :meth:`Walkthrough.refresh`
redraws, so a click, a callback arriving on a server thread, or a notebook cell calling a form's
method all end in the same place.
"""

from __future__ import annotations

import html
import threading
from typing import Any

import ipywidgets as w

from .._flow import STEPS, Flow, Stage, Step, StepState
from ._style import COLOURS, heading_html
from .callback_form import CallbackForm
from .manifest_form import ManifestForm
from .tokens_panel import TokensPanel
from .validate_panel import ValidatePanel

__all__ = ["TITLES", "Walkthrough"]

TITLES: dict[Step, str] = {
    "manifest": "1. Manifest",
    "link": "2. Install link",
    "callback": "3. Callback",
    "tokens": "4. Tokens",
    "validate": "5. Validate",
}
_MARKS: dict[StepState, str] = {"done": "✓", "current": "▶", "locked": "·"}
#: The four boxes on the page (steps 2 and 3 share one form), their titles, and their steps.
_SECTIONS: dict[str, tuple[str, tuple[Step, ...]]] = {
    "manifest": ("Step 1: the manifest", ("manifest",)),
    "link": ("Steps 2 and 3: install link and callback", ("link", "callback")),
    "tokens": ("Step 4: tokens", ("tokens",)),
    "validate": ("Step 5: validate and read data", ("validate",)),
}
_LOCKED_UNTIL = {"link": "step 1", "tokens": "step 3", "validate": "step 4"}

_INTRO: dict[Step, str] = {
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


def _section_state(states: list[StepState]) -> StepState:
    if all(state == "done" for state in states):
        return "done"
    return "current" if "current" in states else "locked"


class Walkthrough(w.VBox):  # type: ignore[misc]  # ipywidgets ships no type hints
    """Manifest, install link, callback, tokens and validation, in order, over one flow.

    ``flow``: the shared state (``Flow(Target.open())``). ``tick``: let the forms run their
    live countdowns while they are shown.
    """

    def __init__(self, flow: Flow, *, tick: bool = True, **kwargs: Any) -> None:
        self.flow = flow
        self._tick = tick
        self._lock = threading.RLock()

        self.target = w.HTML(self._target_html())
        self.target.add_class("som-walkthrough-target")
        self.stepper = w.HTML()
        self.stepper.add_class("som-walkthrough-stepper")
        #: Where the notebook talks to, and the five steps' progress: show it above the steps.
        self.header = w.VBox([self.target, self.stepper])

        if flow.target.is_sandbox:
            flow.starter_manifest()
        self.manifest_form = ManifestForm(path=flow.manifest_path, sandbox=flow.sandbox_url)
        if self.manifest_form.register_button is not None:
            self.manifest_form.register_button.on_click(lambda _b: self.refresh())
        self.callback_form: CallbackForm | None = None
        self.tokens_panel: TokensPanel | None = None
        self.validate_panel: ValidatePanel | None = None

        self.sections: dict[str, w.VBox] = {}
        for name, (title, _steps) in _SECTIONS.items():
            box = w.VBox([w.HTML(heading_html("locked", _MARKS["locked"], title))])
            box.add_class(f"som-step-{name}")
            self.sections[name] = box
        self._fill("manifest", self._manifest_body())
        super().__init__(children=[self.header, *self.sections.values()], **kwargs)
        self.add_class("som-walkthrough")
        self.refresh()

    # -- pieces ----------------------------------------------------------------------------
    def _target_html(self) -> str:
        colour = COLOURS["info"] if self.flow.target.is_sandbox else COLOURS["error"]
        return (
            f'<p style="border-left:4px solid {colour};padding-left:8px">'
            f"{html.escape(self.flow.describe())}</p>"
        )

    def _manifest_body(self) -> list[w.Widget]:
        intro = w.HTML(f"<p>{_INTRO['manifest']}</p>")
        if self.flow.target.is_sandbox:
            return [intro, self.manifest_form]
        note = w.HTML(
            "<p>With real Stripe: save the manifest, run <code>stripe apps upload</code>, and "
            "put the app's client id in <code>.env</code> as <code>STRIPE_CLIENT_ID_TEST</code>. "
            "Restart the kernel and run the notebook again once it is there.</p>"
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
        self._fill("link", [w.HTML(f"<p>{_INTRO['link']}</p><p>{_INTRO['callback']}</p>"), form])

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
        from ..api import ApiClient

        flow = self.flow
        panel = ValidatePanel(
            lambda: ApiClient.from_settings(flow.settings, flow.tokens),
            on_report=flow.validated,
        )
        panel.run.on_click(lambda _b: self.refresh())
        self.validate_panel = panel
        self._fill("validate", [w.HTML(f"<p>{_INTRO['validate']}</p>"), panel])

    def _report_forms(self) -> None:
        """Tell the flow what the forms produced since the last redraw."""
        flow = self.flow
        registered = self.manifest_form.registered
        if registered is not None and not flow.app_registered:
            flow.use_app(registered.client_ids, registered.redirect_uris)
        form = self.callback_form
        if form is not None:
            if form.link is not None and form.link is not flow.link and form.code is None:
                flow.link_built(form.link)
            if form.code is not None and form.code is not flow.code:
                flow.code_received(form.code)
                if self.tokens_panel is not None:
                    self.tokens_panel.code = form.code

    def refresh(self) -> None:
        """Report the forms to the flow, unlock what is now possible, redraw the stepper."""
        with self._lock:
            self._report_forms()
            stage = self.flow.stage()  # the one read of the token store per redraw
            if stage != "manifest":
                self._ensure_link()
            if stage in ("tokens", "validate"):
                self._ensure_tokens()
            if stage == "validate":
                self._ensure_validate()
            for name, previous in _LOCKED_UNTIL.items():
                if len(self.sections[name].children) == 1:
                    self._fill(name, [_locked_note(previous)])
            states = self.flow.steps(stage)
            self.stepper.value = self._stepper_html(states)
            for name, (title, steps) in _SECTIONS.items():
                state = _section_state([states[step] for step in steps])
                self.sections[name].children[0].value = heading_html(state, _MARKS[state], title)

    # -- where are we ----------------------------------------------------------------------
    def status_line(self, stage: Stage | None = None) -> str:
        """The stepper as plain text, e.g. ``✓ 1. Manifest  ▶ 2. Install link  · 3. Callback …``."""
        states = self.flow.steps(stage)
        return "  ".join(f"{_MARKS[states[step]]} {TITLES[step]}" for step in STEPS)

    def _stepper_html(self, states: dict[Step, StepState]) -> str:
        items = "".join(
            f'<span class="som-stepper-{step} som-stepper-{states[step]}" '
            f'style="margin-right:1.2em;color:{COLOURS[states[step]]}">'
            f"{_MARKS[states[step]]} {html.escape(TITLES[step])}</span>"
            for step in STEPS
        )
        return f"<p>{items}</p>"

    def close(self) -> None:
        for child in (self.callback_form, self.tokens_panel):
            if child is not None:
                child.close()
        super().close()
