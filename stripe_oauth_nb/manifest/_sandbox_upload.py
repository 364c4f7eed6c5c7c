"""The sandbox "upload": register a manifest with a running embedded sandbox over HTTP.

Stripe's ``stripe apps upload`` gives an app its OAuth client ids; the sandbox's
``POST {api_base}/_sandbox/apps`` does the same for a local app. Talking HTTP (not calling the
``Sandbox`` object) makes this work against a sandbox in another process or notebook too.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from .._app_record import RegisteredApp
from .._errors import ManifestError, NetworkError, SandboxError
from .._masking import clean_server_text
from ._checks import check
from ._document import Manifest
from ._findings import Finding

__all__ = ["register_with_sandbox"]


class _HasApiBase(Protocol):
    @property
    def api_base(self) -> str: ...


def _summary(errors: list[Finding]) -> str:
    shown = "; ".join(f"{f.path}: {f.message.rstrip('.')}" for f in errors[:5])
    more = f"; and {len(errors) - 5} more" if len(errors) > 5 else ""
    return shown + more


def register_with_sandbox(
    manifest: Manifest | Mapping[str, Any],
    sandbox: str | _HasApiBase,
    *,
    base_dir: Path | None = None,
    timeout: float = 10.0,
) -> RegisteredApp:
    """Register ``manifest`` with the sandbox at ``sandbox`` (a ``Sandbox`` or its API base URL).

    Refuses a manifest with errors (raises :class:`ManifestError` naming them), exactly as real
    Stripe would refuse the upload. Registering the same ``id`` again keeps its client ids.
    """
    from .._http import httpx, stripe_error

    findings = check(manifest, base_dir=base_dir)
    errors = [f for f in findings if f.is_error]
    if errors:
        raise ManifestError(
            f"The manifest has {len(errors)} error(s), so it was not registered: "
            f"{_summary(errors)}. Fix them (manifest.check() lists each with a fix) and "
            "register again."
        )
    data = manifest.data if isinstance(manifest, Manifest) else dict(manifest)
    base = sandbox if isinstance(sandbox, str) else sandbox.api_base
    url = f"{base.rstrip('/')}/_sandbox/apps"
    try:
        response = httpx.post(url, json=data, timeout=timeout)
    except httpx.HTTPError as exc:
        raise NetworkError(
            f"The sandbox at {base} did not answer ({type(exc).__name__}). Start it "
            "(with Sandbox() as sb: …) and pass sb, or check the URL."
        ) from exc
    try:
        body: Any = response.json()
    except ValueError:
        body = None
    if response.status_code >= 400 or not isinstance(body, dict):
        message = str(stripe_error(response.content).get("message") or "")
        detail = clean_server_text(message or response.text, 200).strip().rstrip(".")
        raise SandboxError(
            f"The sandbox refused the app (HTTP {response.status_code}): {detail}. Fix what it "
            "names in the manifest (manifest.check() lists each problem with a fix) and "
            "register again; if the URL is not a stripe-oauth-nb sandbox's API base, pass the "
            "running Sandbox (sb) instead."
        )
    return RegisteredApp.from_json(body)
