"""What the toolkit talks to: real Stripe, a sandbox running elsewhere, or one started here.

:meth:`Target.open` reads the settings and decides:

- Stripe keys configured: real Stripe, nothing is started;
- ``STRIPE_OAUTH_NB_SANDBOX_URL`` set: the sandbox at that address (``stripe-oauth-nb sandbox``
  in another terminal); its keys, client ids and token folder come from ``GET /_sandbox/info``
  (a sandbox configured by hand, with ``STRIPE_OAUTH_NB_TARGET=sandbox``, ``STRIPE_API_BASE``
  and its keys, is used as configured);
- nothing configured: a sandbox started in this process, with a free callback port, whose tokens
  live in a temporary folder (or in the ``store`` given: ``serve --store``). The target owns
  it: :meth:`Target.close` (or the end of the interpreter, whichever comes first) stops it and
  removes the folder.

Where the tokens are follows one rule, the same for every command and for ``connect()``:

1. the command's ``--store`` (``store=``);
2. ``STRIPE_OAUTH_NB_TOKEN_STORE``;
3. the running sandbox's token folder, when ``STRIPE_OAUTH_NB_SANDBOX_URL`` is set;
4. the default folder (the user's config folder).

The API base always follows the target: a sandbox's tokens are never sent to Stripe.
:meth:`Target.open` applies both rules; :func:`target_settings` is the same for a command that
only needs the settings.

Whoever opens a target closes it; :class:`~stripe_oauth_nb._flow.Flow` and
:func:`~stripe_oauth_nb._connect.connect` receive one and never start a server themselves.
"""

from __future__ import annotations

import os
import weakref
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ._errors import ConfigError, SandboxError
from ._masking import Secret
from ._ports import free_loopback_port
from ._settings import DEFAULT_REDIRECT_URI, Mode, ModeCredentials, Settings, load_settings
from .sandbox._rules import DEFAULT_CUSTOMERS

if TYPE_CHECKING:
    from .sandbox import Sandbox

__all__ = ["NO_TARGET_HELP", "Target", "TargetKind", "target_settings"]

TargetKind = Literal["stripe", "sandbox-url", "sandbox"]

#: What every command says when nothing is configured and no sandbox runs.
NO_TARGET_HELP = (
    "Nothing is configured: no Stripe keys, and no sandbox for this command to use. Either "
    "start a sandbox in another terminal:\n"
    "    stripe-oauth-nb sandbox --port 8700\n"
    "    export STRIPE_OAUTH_NB_SANDBOX_URL=http://127.0.0.1:8700\n"
    "and run this command again, or put your Stripe keys in a .env file (see the README, "
    '"Pointing at real Stripe").'
)


def _stop(sandbox: Sandbox | None) -> None:
    if sandbox is not None:
        sandbox.stop()  # also removes the sandbox's token folder


class Target:
    """Settings for where calls go, and the sandbox this target started (if any).

    Build one with :meth:`open`. ``settings`` point every step at the target: API and
    marketplace addresses, keys and client ids, redirect URI and token store.
    """

    def __init__(
        self, settings: Settings, *, kind: TargetKind, sandbox: Sandbox | None = None
    ) -> None:
        self.settings = settings
        self.kind: TargetKind = kind
        #: The sandbox started by this target (stopped by :meth:`close`); None otherwise.
        self.sandbox = sandbox
        self._finalizer = weakref.finalize(self, _stop, sandbox)

    # -- opening -------------------------------------------------------------------------
    @classmethod
    def open(
        cls,
        settings: Settings | None = None,
        *,
        store: str | os.PathLike[str] | None = None,
        mode: Mode | None = None,
        start_sandbox: bool = True,
        customers: int = DEFAULT_CUSTOMERS,
    ) -> Target:
        """The target the settings (default: ``.env`` and the environment) describe.

        ``store``: the token store a command was given (``--store``; a path or a DSN), which
        wins over every other (the module doc has the order); ``mode``: test or live instead of
        the configured mode. With nothing configured, a sandbox is started here unless
        ``start_sandbox`` is false; then :class:`ConfigError` says what to run instead (short
        commands use that: a sandbox that dies with the command would leave nothing to use
        afterwards). ``customers``: the size of a sandbox started here (the one default,
        :data:`~stripe_oauth_nb.sandbox.DEFAULT_CUSTOMERS`, as ``Sandbox()``).
        """
        settings = settings if settings is not None else load_settings()
        settings = settings.with_store(store)
        if mode is not None:
            settings = settings.with_changes(mode=mode)
        if not settings.is_sandbox:
            return cls(settings, kind="stripe")
        if settings.sandbox_url is not None:
            return cls(_attach(settings, settings.sandbox_url), kind="sandbox-url")
        if settings.credentials().secret_key:  # a sandbox configured by hand: API base and keys
            return cls(settings, kind="sandbox-url")
        if not start_sandbox:
            raise ConfigError(NO_TARGET_HELP)
        from .sandbox import Sandbox

        redirect_uri = settings.redirect_uri
        if redirect_uri == DEFAULT_REDIRECT_URI:  # not configured: a port no other kernel uses
            redirect_uri = f"http://127.0.0.1:{free_loopback_port()}/callback"
        sandbox = Sandbox(customers=customers, redirect_uris=[redirect_uri]).start()
        local = sandbox.settings(mode=settings.mode, redirect_uri=redirect_uri)
        if store is not None:  # a --store wins; STRIPE_OAUTH_NB_TOKEN_STORE (a team's shared
            # store, say) never receives a throw-away sandbox's tokens
            local = local.with_store(store)
        return cls(local, kind="sandbox", sandbox=sandbox)

    @classmethod
    def for_sandbox(cls, sandbox: Sandbox, *, mode: Mode = "test") -> Target:
        """A target for a sandbox the caller started (and stops): it is not owned here."""
        target = cls(sandbox.settings(mode=mode), kind="sandbox-url")
        return target

    # -- where ---------------------------------------------------------------------------
    @property
    def is_sandbox(self) -> bool:
        return self.kind != "stripe"

    @property
    def sandbox_url(self) -> str | None:
        """The sandbox's address (its controls live under ``/_sandbox/``), or None for Stripe."""
        return self.settings.api_base if self.is_sandbox else None

    def describe(self) -> str:
        """One line for people: where calls go, and how to switch."""
        settings = self.settings
        if self.kind == "stripe":
            return settings.describe()
        where = (
            "a sandbox started for this session"
            if self.kind == "sandbox"
            else "the sandbox you started"
        )
        return (
            f"Target: {where}, at {settings.api_base} ({settings.mode} mode). Nothing reaches "
            "Stripe. To use real Stripe, put STRIPE_OAUTH_NB_TARGET=stripe and your keys in a "
            ".env file (see the README)."
        )

    def approve(self, install_url: str, *, account: str | None = None, follow: bool = True) -> str:
        """Sandbox only: accept the consent page of ``install_url`` like a person would and (with
        ``follow``) deliver the redirect; returns where the browser was sent."""
        if not self.is_sandbox:
            raise ConfigError(
                "Only the sandbox can approve its own consent page: with Stripe, open the "
                "install link in a browser and press Accept."
            )
        from .sandbox import approve

        return approve(install_url, account=account, follow=follow)

    # -- lifecycle -----------------------------------------------------------------------
    def close(self) -> None:
        """Stop the sandbox this target started (and remove its token folder). Idempotent."""
        self._finalizer()

    def __enter__(self) -> Target:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Target({self.kind!r}, api_base={self.settings.api_base!r})"


def target_settings(
    store: str | os.PathLike[str] | None = None,
    *,
    mode: Mode | None = None,
    settings: Settings | None = None,
    need_target: bool = True,
) -> Settings:
    """The settings a short command works with: :meth:`Target.open` without starting anything.

    ``need_target=False`` (commands that only read the store, such as ``tokens list``): with
    nothing configured, the default folder is read instead of raising :data:`NO_TARGET_HELP`.
    """
    settings = settings if settings is not None else load_settings()
    if not need_target and settings.with_store(store).unconfigured:
        settings = settings.with_store(store)
        return settings if mode is None else settings.with_changes(mode=mode)
    # A target that starts nothing owns nothing: there is nothing to close.
    return Target.open(settings, store=store, mode=mode, start_sandbox=False).settings


def _sandbox_get(url: str) -> tuple[int, str] | None:
    """A GET of a sandbox page on this machine: (status, text), or None when nothing answers."""
    from ._http import httpx

    try:
        with httpx.Client(timeout=5.0, trust_env=False) as client:
            answer = client.get(url)
        return answer.status_code, answer.text
    except httpx.HTTPError:
        return None


def _attach(settings: Settings, url: str) -> Settings:
    """Settings for the sandbox at ``url``: its keys, client ids and token folder."""
    import json

    answer = _sandbox_get(f"{url}/_sandbox/info")
    try:
        info: Any = json.loads(answer[1]) if answer is not None and answer[0] == 200 else None
    except ValueError:
        info = None
    if not isinstance(info, dict) or not isinstance(info.get("test"), dict):
        raise SandboxError(
            f"No sandbox answers at {url} (STRIPE_OAUTH_NB_SANDBOX_URL). Start it with "
            "`stripe-oauth-nb sandbox --port PORT` and use the address it prints, or unset "
            "STRIPE_OAUTH_NB_SANDBOX_URL."
        )
    credentials: dict[Mode, ModeCredentials] = {}
    for mode in ("test", "live"):
        keys = info.get(mode) or {}
        credentials[mode] = ModeCredentials(
            mode, Secret(str(keys.get("secret_key", ""))) or None, keys.get("client_id")
        )
    changes: dict[str, Any] = {
        "api_base": str(info.get("api_base") or url).rstrip("/"),
        "marketplace_base": str(info.get("marketplace_base") or url).rstrip("/"),
        "test": credentials["test"],
        "live": credentials["live"],
    }
    store = info.get("token_store")
    if not settings.token_store_configured and isinstance(store, str) and store:
        changes["token_store_path"] = Path(store)
    uris = info.get("redirect_uris")
    if isinstance(uris, list) and uris and settings.redirect_uri not in uris:
        changes["redirect_uri"] = str(uris[0])
    return replace(settings, **changes)


def sandbox_refusal(settings: Settings, url: str) -> str | None:
    """Against the sandbox, what its consent page says when it refuses the install link ``url``
    (None when it shows the page, or when it cannot be reached: opening the link then shows
    that failure). A form can say why at once instead of waiting for a code that cannot come.
    Real Stripe's page is never fetched."""
    import html
    import re

    from ._masking import clean_server_text

    if not settings.is_sandbox:
        return None
    answer = _sandbox_get(url)
    if answer is None or answer[0] < 400:
        return None
    status, page = answer
    found = re.search(r'id="sandbox-error">([^<]*)<', page)
    text = html.unescape(found.group(1)) if found else f"HTTP {status}"
    return clean_server_text(text, 400)
