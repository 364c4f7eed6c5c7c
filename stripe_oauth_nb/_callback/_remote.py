"""Where the browser can reach the kernel: locally, through jupyter-server-proxy, or not at all.

On a laptop the browser and the kernel share ``127.0.0.1``. On JupyterHub (and Binder, which runs
JupyterHub) they do not; with jupyter-server-proxy installed, ``<server>/proxy/<port>/callback``
reaches a port on the kernel's machine, and ``https://<hub>/hub/user-redirect/proxy/<port>/callback``
sends each logged-in user to their own server: one redirect URI for every user. Elsewhere the
user pastes the URL the browser landed on.

Everything takes the environment as a mapping, so it can be tested without a hub.
"""

from __future__ import annotations

import importlib.util
import os
import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal

from .._errors import CallbackError
from .._masking import mask_text

__all__ = [
    "LOOPBACK_HOSTS",
    "LocalEndpoint",
    "RemoteEnvironment",
    "detect_remote",
    "hub_redirect_uri",
    "local_endpoint",
]

LOOPBACK_HOSTS: Final = ("127.0.0.1", "localhost")
_PROXY_PATH: Final = re.compile(r"(?P<prefix>.*)/proxy/(?P<port>[0-9]{1,5})(?P<rest>/.*)")

Kind = Literal["local", "jupyterhub", "binder"]


@dataclass(frozen=True)
class LocalEndpoint:
    """Where the callback server listens for a redirect URI, and which Host it accepts."""

    scheme: Literal["http", "https"]
    port: int
    path: str
    #: True when the redirect URI reaches the kernel through jupyter-server-proxy.
    proxied: bool
    #: The Host header the proxy forwards (the public host of the redirect URI), if proxied.
    forwarded_host: str | None = None


def local_endpoint(redirect_uri: str) -> LocalEndpoint:
    """The loopback port and path that serve ``redirect_uri``.

    A URI whose path holds ``/proxy/PORT/rest`` (JupyterHub's
    ``/hub/user-redirect/proxy/PORT/callback``, or a server's
    ``/user/NAME/proxy/PORT/callback``) is served on ``127.0.0.1:PORT`` at ``/rest``
    over plain HTTP: jupyter-server-proxy strips the prefix and speaks HTTP to the kernel.
    Otherwise ``http(s)://127.0.0.1:PORT/path`` (or ``localhost``) is served directly.
    """
    shown = repr(mask_text(redirect_uri))  # it may be a pasted landed URL with a code in it
    try:
        parts = urllib.parse.urlsplit(redirect_uri)
        port = parts.port
    except ValueError:
        raise CallbackError(
            f"The redirect URI {shown} has an invalid port. Use one of the manifest's "
            "allowed_redirect_uris, e.g. http://127.0.0.1:8765/callback (a port from 1 to 65535)."
        ) from None
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https") or not host:
        raise CallbackError(
            f"The redirect URI {shown} is not an http(s) URL. Use one of the manifest's "
            "allowed_redirect_uris, e.g. http://127.0.0.1:8765/callback."
        )
    scheme: Literal["http", "https"] = "https" if parts.scheme == "https" else "http"
    match = _PROXY_PATH.fullmatch(parts.path)
    if match and 0 < int(match["port"]) < 65536 and int(match["port"]) != port:
        return LocalEndpoint(
            scheme="http",
            port=int(match["port"]),
            path=match["rest"],
            proxied=True,
            forwarded_host=parts.netloc.lower(),
        )
    if host in LOOPBACK_HOSTS:
        return LocalEndpoint(
            scheme=scheme,
            port=port or (443 if scheme == "https" else 80),
            path=parts.path or "/",
            proxied=False,
        )
    raise CallbackError(
        f"The redirect URI {shown} does not point at this machine (127.0.0.1) nor "
        "through jupyter-server-proxy (…/proxy/PORT/path), so the notebook cannot catch the "
        "code there. Paste the URL the browser lands on into the paste box instead."
    )


def hub_redirect_uri(public_url: str, port: int, path: str = "/callback") -> str:
    """``https://<hub>/hub/user-redirect/proxy/<port>/callback`` for a hub at ``public_url``."""
    base = public_url.rstrip("/")
    return f"{base}/hub/user-redirect/proxy/{port}/{path.lstrip('/')}"


def _proxy_installed() -> bool:
    return importlib.util.find_spec("jupyter_server_proxy") is not None


@dataclass(frozen=True)
class RemoteEnvironment:
    """What was detected about where the kernel runs relative to the browser."""

    kind: Kind
    proxy_available: bool
    #: ``/user/<name>/`` on JupyterHub.
    service_prefix: str | None = None
    #: The hub's public address (``https://hub.example.org``) when the environment tells it.
    public_url: str | None = None

    @property
    def is_remote(self) -> bool:
        return self.kind != "local"

    def redirect_uri(self, port: int, path: str = "/callback") -> str | None:
        """The user-redirect form of redirect URI, when it can work here (else None)."""
        if self.kind != "jupyterhub" or not self.proxy_available or not self.public_url:
            return None
        return hub_redirect_uri(self.public_url, port, path)

    def advice(self, port: int = 8765, path: str = "/callback") -> str:
        """What to do, in one paragraph for people."""
        if self.kind == "local":
            return (
                f"The kernel runs on this machine: use http://127.0.0.1:{port}{path} as the "
                "redirect URI (listed in the manifest's allowed_redirect_uris)."
            )
        if self.kind == "binder":
            return (
                "This kernel runs on Binder: its address changes with every launch, so no "
                "redirect URI in a manifest can reach it. After pressing Accept, copy the "
                "address the browser lands on (it will fail to load) and paste it into the "
                "paste box."
            )
        if not self.proxy_available:
            return (
                "This kernel runs on JupyterHub without jupyter-server-proxy, so the browser "
                "cannot reach it. Install jupyter-server-proxy in the user image, or copy the "
                "address the browser lands on after Accept and paste it into the paste box."
            )
        uri = self.redirect_uri(port, path) or (
            f"https://<your hub>/hub/user-redirect/proxy/{port}{path}"
        )
        return (
            f"This kernel runs on JupyterHub with jupyter-server-proxy: add {uri} to the "
            "manifest's allowed_redirect_uris (and upload the app again), then use it as the "
            "redirect URI. The hub sends each logged-in user to their own server, so one URI "
            "serves everyone. If it cannot be added, use the paste box."
        )


def detect_remote(
    environ: Mapping[str, str] | None = None, *, proxy_available: bool | None = None
) -> RemoteEnvironment:
    """Detect JupyterHub, Binder and jupyter-server-proxy from ``environ`` (default os.environ)."""
    env = os.environ if environ is None else environ
    proxy = _proxy_installed() if proxy_available is None else proxy_available
    binder = any(env.get(name) for name in ("BINDER_SERVICE_HOST", "BINDER_LAUNCH_HOST"))
    binder = binder or any(env.get(n) for n in ("BINDER_REPO_URL", "BINDER_REQUEST"))
    hub = any(
        env.get(name)
        for name in ("JUPYTERHUB_SERVICE_PREFIX", "JUPYTERHUB_API_URL", "JUPYTERHUB_USER")
    )
    prefix = env.get("JUPYTERHUB_SERVICE_PREFIX") or None
    public = None
    for name in ("JUPYTERHUB_PUBLIC_URL", "JUPYTERHUB_PUBLIC_HUB_URL", "JUPYTERHUB_HOST"):
        value = (env.get(name) or "").strip()
        if value.startswith(("https://", "http://")):
            parts = urllib.parse.urlsplit(value)
            base_url = (env.get("JUPYTERHUB_BASE_URL") or "/").strip("/")
            public = f"{parts.scheme}://{parts.netloc}" + (f"/{base_url}" if base_url else "")
            break
    kind: Kind = "binder" if binder else "jupyterhub" if hub else "local"
    return RemoteEnvironment(
        kind=kind, proxy_available=proxy, service_prefix=prefix, public_url=public
    )
