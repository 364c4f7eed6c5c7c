"""One shared state for the five steps, so a walkthrough (or a script) can string them together.

``Flow.open()`` reads the settings; with the sandbox as target it starts the embedded sandbox and
points the settings at it. Each step then reads what the earlier ones left here: the manifest's
redirect URIs and the app's client ids (step 1), the authorization code (steps 2 and 3), the
stored tokens (step 4). :meth:`Flow.stage` derives which step comes next from that state alone,
so re-opening a flow whose store already holds tokens starts at the end.
"""

from __future__ import annotations

import socket
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from ._attempts import AttemptLog, AuthorizationCode
from ._errors import StripeOAuthNBError
from ._settings import ModeCredentials, Settings, load_settings
from ._tokenset import TokenSet

if TYPE_CHECKING:
    from ._tokens import TokenManager
    from .manifest import Manifest
    from .sandbox import Sandbox

__all__ = ["STAGES", "Flow", "Stage"]

Stage = Literal["manifest", "link", "tokens", "validate"]
STAGES: tuple[Stage, ...] = ("manifest", "link", "tokens", "validate")

#: Permissions the walkthrough's starter manifest asks for: enough for the validation calls.
STARTER_PERMISSIONS = {
    "customer_read": "Show your customers in the notebook you connect.",
}


def _free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Flow:
    """Settings, sandbox (if any), attempt log, token manager, and what each step produced."""

    def __init__(
        self,
        settings: Settings,
        *,
        workdir: Path,
        sandbox: Sandbox | None = None,
        tokens: TokenManager | None = None,
    ) -> None:
        from ._tokens import TokenManager

        self.settings = settings
        self.workdir = workdir
        self.sandbox = sandbox
        self.tokens = tokens if tokens is not None else TokenManager(settings)
        #: The manager's log: codes are marked as sent where the exchange looks for them.
        self.attempts: AttemptLog = self.tokens.attempts
        self.manifest_path = workdir / "stripe-app.json"
        self.allowed_redirect_uris: tuple[str, ...] = ()
        self.app_registered = False
        self.code: AuthorizationCode | None = None
        self.validated = False

    # -- opening -------------------------------------------------------------------------
    @classmethod
    def open(
        cls,
        settings: Settings | None = None,
        *,
        workdir: str | Path | None = None,
        customers: int = 250,
    ) -> Flow:
        """Read settings (``.env`` and environment); start the sandbox when it is the target.

        With the sandbox, the redirect URI gets a free loopback port and the token store lives
        in ``workdir`` (a fresh temporary folder unless given): sandbox tokens are only good for
        the sandbox that issued them.
        """
        settings = settings if settings is not None else load_settings()
        if not settings.is_sandbox:
            folder = Path(workdir) if workdir is not None else Path.cwd()
            return cls(settings, workdir=folder)

        from .sandbox import Sandbox

        folder = Path(workdir) if workdir is not None else Path(tempfile.mkdtemp(prefix="som-"))
        redirect_uri = f"http://127.0.0.1:{_free_loopback_port()}/callback"
        sandbox = Sandbox(customers=customers, redirect_uris=[redirect_uri]).start()
        sandboxed = sandbox.settings(
            mode=settings.mode,
            redirect_uri=redirect_uri,
            token_store_path=folder / "tokens.json",
        )
        return cls(sandboxed, workdir=folder, sandbox=sandbox)

    def close(self) -> None:
        """Stop the sandbox (if this flow started one) and close the HTTP clients."""
        self.tokens.close()
        if self.sandbox is not None:
            self.sandbox.stop()

    def __enter__(self) -> Flow:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- step 1: manifest ------------------------------------------------------------------
    def starter_manifest(self) -> Manifest:
        """The manifest in ``workdir``, created OAuth-ready with this flow's redirect URI."""
        from .manifest import Manifest, write_placeholder_icon

        if self.manifest_path.exists():
            return Manifest.load(self.manifest_path)
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

    def use_app(self, client_ids: Mapping[str, str], redirect_uris: Sequence[str]) -> None:
        """Point the next steps at an app: its client ids (per mode) and allowed redirect URIs."""
        self.settings = replace(
            self.settings,
            test=ModeCredentials("test", self.settings.test.secret_key, client_ids.get("test")),
            live=ModeCredentials("live", self.settings.live.secret_key, client_ids.get("live")),
        )
        self.allowed_redirect_uris = tuple(redirect_uris)
        self.app_registered = True
        self.tokens.use_settings(self.settings)

    # -- where are we ----------------------------------------------------------------------
    def stored_tokens(self) -> TokenSet | None:
        """The tokens the store would use now, or None when there are none (or it is unreadable)."""
        try:
            return self.tokens.get()
        except StripeOAuthNBError:
            return None

    def stage(self) -> Stage:
        """The next step to do, derived from the state: stored tokens mean validation is next."""
        if self.stored_tokens() is not None:
            return "validate"
        if self.code is not None:
            return "tokens"
        if self.app_registered or (not self.settings.is_sandbox and self._has_client_id()):
            return "link"
        return "manifest"

    def _has_client_id(self) -> bool:
        return bool(self.settings.credentials().client_id)

    def describe(self) -> str:
        return self.settings.describe()
