"""One shared state for the five steps, so a walkthrough (or a script) can string them together.

A :class:`Flow` receives a :class:`~stripe_oauth_nb._target.Target` (real Stripe or a sandbox:
whoever opened the target closes it) and keeps what each step produced: the app's client ids
and redirect URIs (step 1), the install link (step 2), the authorization code (step 3), the
stored tokens (step 4) and the validation report (step 5). The steps report to it through
:meth:`Flow.use_app`, :meth:`Flow.link_built`, :meth:`Flow.code_received` and
:meth:`Flow.validated`; :meth:`Flow.steps` derives from that state alone which step is done,
which comes next and which are locked, so reopening a flow whose store already holds tokens
starts at the end. Tokens stored while the flow is open count only once they follow this flow's
own code: a ``connect()`` further down the same notebook does not tick off steps a person has
not done yet. Views (the walkthrough widget) only show :meth:`Flow.steps`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from ._errors import StripeOAuthNBError
from ._modes import Mode
from ._settings import ModeCredentials, Settings
from ._tokenset import TokenSet
from .oauth._attempts import AttemptLog, AuthorizationCode

if TYPE_CHECKING:
    from ._target import Target
    from .api import ValidationReport
    from .manifest import Manifest
    from .oauth._install_link import InstallLink
    from .tokens import TokenManager

__all__ = ["STAGES", "STEPS", "Flow", "Stage", "Step", "StepState"]

Stage = Literal["manifest", "link", "tokens", "validate"]
STAGES: tuple[Stage, ...] = ("manifest", "link", "tokens", "validate")
Step = Literal["manifest", "link", "callback", "tokens", "validate"]
STEPS: tuple[Step, ...] = ("manifest", "link", "callback", "tokens", "validate")
StepState = Literal["done", "current", "locked"]

#: Permissions the walkthrough's starter manifest asks for: enough for the validation calls.
STARTER_PERMISSIONS = {
    "customer_read": "Show your customers in the notebook you connect.",
}


class Flow:
    """The target, the attempt log, the token manager, and what each step produced.

    ``workdir``: where the manifest is kept (default: the working folder, which is the
    notebook's folder in Jupyter). ``tokens``: a token manager to share (default: one over the
    target's token store).
    """

    def __init__(
        self,
        target: Target,
        *,
        workdir: str | Path | None = None,
        tokens: TokenManager | None = None,
    ) -> None:
        from .tokens import TokenManager

        self.target = target
        self.settings: Settings = target.settings
        self.workdir = Path(workdir) if workdir is not None else Path.cwd()
        self.tokens = tokens if tokens is not None else TokenManager(self.settings)
        #: The manager's log: codes are marked as sent where the exchange looks for them.
        self.attempts: AttemptLog = self.tokens.attempts
        self.manifest_path = self.workdir / "stripe-app.json"
        self.allowed_redirect_uris: tuple[str, ...] = ()
        self.app_registered = False
        self.link: InstallLink | None = None
        self.code: AuthorizationCode | None = None
        self.report: ValidationReport | None = None
        #: Tokens were stored before this flow opened: it starts at the end (reopening).
        self._tokens_at_open = self.stored_tokens() is not None

    def close(self) -> None:
        """Close the HTTP clients (the target stays open: its opener closes it)."""
        self.tokens.close()

    def __enter__(self) -> Flow:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Flow({self.target!r}, next={self.stage()!r})"

    @property
    def sandbox_url(self) -> str | None:
        """The sandbox's address when the target is one (to register the app with it)."""
        return self.target.sandbox_url

    # -- step 1: manifest ------------------------------------------------------------------
    def starter_manifest(self) -> Manifest:
        """The manifest in ``workdir``; created OAuth-ready with this flow's redirect URI when
        there is none yet (a person's edits to an existing one are kept)."""
        from .manifest import Manifest, write_placeholder_icon

        if self.manifest_path.exists():
            return Manifest.load(self.manifest_path, lenient=True)
        manifest = Manifest.new(
            name="Notebook Reports",
            id="com.example.notebook-reports",
            redirect_uris=[self.settings.redirect_uri],
            permissions=STARTER_PERMISSIONS,
        )
        manifest.save(self.manifest_path)
        icon = self.workdir / "icon.png"
        if not icon.exists():
            write_placeholder_icon(icon)
        return manifest

    def use_app(self, client_ids: Mapping[Mode, str], redirect_uris: Sequence[str]) -> None:
        """Point the next steps at an app: its client ids (per mode) and allowed redirect URIs.

        The first allowed redirect URI becomes the default one, as on Stripe.
        """
        uris = tuple(redirect_uris)
        current = self.settings.redirect_uri
        redirect = current if current in uris or not uris else uris[0]
        self.settings = replace(
            self.settings,
            test=ModeCredentials("test", self.settings.test.secret_key, client_ids.get("test")),
            live=ModeCredentials("live", self.settings.live.secret_key, client_ids.get("live")),
            redirect_uri=redirect,
        )
        self.allowed_redirect_uris = uris
        self.app_registered = True
        self.tokens.use_settings(self.settings)

    # -- steps 2 to 5 report here ----------------------------------------------------------
    def link_built(self, link: InstallLink) -> None:
        """Step 2 built ``link`` (a new link replaces a code not yet exchanged)."""
        self.link = link
        self.code = None

    def code_received(self, code: AuthorizationCode) -> None:
        """Step 3 caught ``code`` (by the callback server or from a pasted URL)."""
        self.code = code

    def validated(self, report: ValidationReport) -> None:
        """Step 5 ran :func:`~stripe_oauth_nb.api.validate`."""
        self.report = report

    # -- where are we ----------------------------------------------------------------------
    def stored_tokens(self) -> TokenSet | None:
        """The tokens the store would use now, or None when there are none (or it is unreadable)."""
        try:
            return self.tokens.get()
        except StripeOAuthNBError:
            return None

    def stage(self) -> Stage:
        """The next step to do, derived from the state: stored tokens mean validation is next
        (tokens that were there when the flow opened, or obtained after this flow's code)."""
        tokens = self.stored_tokens()
        if tokens is not None and (
            self._tokens_at_open
            or (self.code is not None and tokens.obtained_at >= self.code.received_at)
        ):
            return "validate"
        if self.code is not None:
            return "tokens"
        if self.app_registered or (not self.target.is_sandbox and self._has_client_id()):
            return "link"
        return "manifest"

    def steps(self, stage: Stage | None = None) -> dict[Step, StepState]:
        """Each of the five steps: done, current (the first not done) or locked.

        ``stage``: :meth:`stage` when the caller has it already (it reads the token store).
        """
        stage = self.stage() if stage is None else stage
        has_tokens = stage == "validate"
        done: dict[Step, bool] = {
            "manifest": stage != "manifest",
            "link": has_tokens or self.code is not None or self.link is not None,
            "callback": has_tokens or self.code is not None,
            "tokens": has_tokens,
            "validate": self.report is not None and self.report.ok,
        }
        states: dict[Step, StepState] = {}
        current_given = False
        for step in STEPS:
            if done[step]:
                states[step] = "done"
            elif not current_given:
                states[step] = "current"
                current_given = True
            else:
                states[step] = "locked"
        return states

    def _has_client_id(self) -> bool:
        return bool(self.settings.credentials().client_id)

    def describe(self) -> str:
        return self.target.describe()
