"""Which Stripe the install app talks to: real Stripe, a running sandbox, or one in-process.

- ``STRIPE_OAUTH_NB_SANDBOX_URL`` set: the sandbox at that address (``stripe-oauth-nb
  sandbox`` prints it). The developer keys come from the settings when set, else from the
  sandbox's ``GET /_sandbox/info``.
- Otherwise, the sandbox target with no client id for the mode (nothing configured): a sandbox
  is started in this process and stops with the server.
- Otherwise: the configured target (real Stripe, or a sandbox whose ids are configured).

Against a sandbox the manifest is registered first (the sandbox's ``stripe apps upload``), which
gives the client ids, so the whole loop runs offline.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._errors import ConfigError, NetworkError, SandboxError
from .._masking import Secret, mask_text
from .._settings import MODES, Mode, ModeCredentials, Settings
from ..manifest import Manifest, register_with_sandbox

if TYPE_CHECKING:
    from ..sandbox import Sandbox

__all__ = ["SANDBOX_URL_ENV", "ServeTarget", "sandbox_settings", "serve_target"]

SANDBOX_URL_ENV = "STRIPE_OAUTH_NB_SANDBOX_URL"


@dataclass(frozen=True)
class ServeTarget:
    """Settings with the app's client ids, and the in-process sandbox if one was started."""

    settings: Settings
    sandbox: Sandbox | None = None

    def describe(self) -> str:
        if self.sandbox is not None:
            return (
                f"Target: a sandbox started by this command at {self.settings.api_base} "
                "(its tokens stop working when it stops)."
            )
        return self.settings.describe()


def _check_sandbox_url(url: str) -> None:
    """A sandbox speaks plain HTTP, so it must be on this machine (plain HTTP only to loopback)."""
    import urllib.parse

    from ..manifest._rules import is_loopback_host

    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        parts = urllib.parse.urlsplit("")
    if parts.scheme != "http" or not is_loopback_host(parts.hostname or "") or parts.query:
        raise ConfigError(
            f"{SANDBOX_URL_ENV}={mask_text(url)!r} is not a sandbox address on this machine: "
            "give the http://127.0.0.1:PORT that `stripe-oauth-nb sandbox` printed."
        )


def _info_keys(base: str) -> dict[Mode, str]:
    """The developer's secret keys from a running sandbox's ``GET /_sandbox/info``."""
    from .._http import DEFAULT_TIMEOUT, httpx

    url = f"{base}/_sandbox/info"
    try:
        response = httpx.get(url, timeout=DEFAULT_TIMEOUT)
        body: Any = response.json() if response.status_code == 200 else None
    except (httpx.HTTPError, ValueError) as exc:
        raise NetworkError(
            f"The sandbox at {base} did not answer ({type(exc).__name__}). Start it with "
            f"`stripe-oauth-nb sandbox` and set {SANDBOX_URL_ENV} to the address it prints."
        ) from None
    keys: dict[Mode, str] = {}
    if isinstance(body, dict):
        for mode in MODES:
            entry = body.get(mode)
            if isinstance(entry, dict) and isinstance(entry.get("secret_key"), str):
                keys[mode] = entry["secret_key"]
    if not keys:
        raise SandboxError(
            f"The sandbox at {base} does not tell its keys (GET /_sandbox/info answered "
            f"{response.status_code}). Set STRIPE_SECRET_KEY_TEST to the test secret key that "
            "`stripe-oauth-nb sandbox` printed, with STRIPE_OAUTH_NB_TARGET=sandbox."
        )
    return keys


def sandbox_settings(
    base: str, manifest: Manifest, *, keys: Mapping[Mode, str], settings: Settings
) -> Settings:
    """``settings`` pointed at the sandbox at ``base``, with ``manifest`` registered there."""
    app = register_with_sandbox(manifest, base)
    credentials = {
        mode: ModeCredentials(
            mode, Secret(keys[mode]) if mode in keys else None, app.client_ids.get(mode)
        )
        for mode in MODES
    }
    return settings.with_changes(
        target="sandbox",
        api_base=base,
        marketplace_base=base,
        test=credentials["test"],
        live=credentials["live"],
    )


@contextlib.contextmanager
def serve_target(
    settings: Settings,
    manifest: Manifest,
    *,
    mode: Mode,
    store_path: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> Iterator[ServeTarget]:
    """Resolve the target for ``mode`` (see the module doc); an in-process sandbox stops after.

    ``store_path``: the token file to use; with an in-process sandbox it defaults to a new
    temporary folder (those tokens are no good anywhere else), never the user's real store.
    """
    env = os.environ if environ is None else environ
    if store_path is not None:
        settings = settings.with_changes(token_store_path=store_path)
    url = (env.get(SANDBOX_URL_ENV) or "").strip().rstrip("/")
    if url:
        _check_sandbox_url(url)
        given = {
            m: c.secret_key.reveal() for m in MODES if (c := settings.credentials(m)).secret_key
        }
        keys: Mapping[Mode, str] = given or _info_keys(url)
        yield ServeTarget(sandbox_settings(url, manifest, keys=keys, settings=settings))
        return
    if settings.is_sandbox and not settings.credentials(mode).client_id:
        import tempfile

        from ..sandbox import Sandbox

        if store_path is None:
            folder = Path(tempfile.mkdtemp(prefix="stripe-oauth-nb-serve-"))
            settings = settings.with_changes(token_store_path=folder / "tokens.json")
        with Sandbox(customers=5) as sandbox:
            keys = {m: getattr(sandbox, m).secret_key for m in MODES}
            yield ServeTarget(
                sandbox_settings(sandbox.api_base, manifest, keys=keys, settings=settings),
                sandbox=sandbox,
            )
        return
    if not settings.credentials(mode).client_id:
        raise ConfigError(
            f"No {mode}-mode client id is configured: set STRIPE_CLIENT_ID_{mode.upper()}=ca_... "
            "(your app's page in the Dashboard) so the install link can be built."
        )
    yield ServeTarget(settings)
