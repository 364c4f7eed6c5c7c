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
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from ..._errors import CallbackError
from ..._masking import clean_server_text
from ..._urls import RedirectURI, parse_redirect_uri, split_url

__all__ = [
    "LocalEndpoint",
    "RemoteEnvironment",
    "detect_remote",
    "hub_redirect_uri",
    "local_endpoint",
]

Kind = Literal["local", "jupyterhub", "binder"]


@dataclass(frozen=True)
class LocalEndpoint:
    """Where the callback server listens for a redirect URI, and which Host it accepts."""

    #: The redirect URI served, read apart.
    redirect: RedirectURI
    scheme: Literal["http", "https"]
    port: int
    path: str
    #: True when the redirect URI reaches the kernel through jupyter-server-proxy.
    proxied: bool
    #: The Host header the proxy forwards (the public host of the redirect URI), if proxied.
    forwarded_host: str | None = None
    #: The loopback address to listen on (``localhost`` listens on 127.0.0.1).
    host: str = "127.0.0.1"

    @property
    def url_host(self) -> str:
        """:attr:`host` as written in a URL (IPv6 in brackets)."""
        return f"[{self.host}]" if ":" in self.host else self.host


def local_endpoint(redirect_uri: str | RedirectURI) -> LocalEndpoint:
    """The loopback address, port and path that serve ``redirect_uri`` (text is read here; a
    value read where it entered is used as it is).

    A URI whose path holds ``/proxy/PORT/rest`` (JupyterHub's
    ``/hub/user-redirect/proxy/PORT/callback``, or a server's
    ``/user/NAME/proxy/PORT/callback``) is served on ``127.0.0.1:PORT`` at ``/rest``
    over plain HTTP: jupyter-server-proxy strips the prefix and speaks HTTP to the kernel.
    A URI on a loopback host (``localhost``, ``127.0.0.0/8``, ``::1``) is served on that address
    (``localhost`` on 127.0.0.1) at its own port and path. Anything else raises
    :class:`CallbackError`: the paste route is the way back.
    """
    parsed = redirect_uri if isinstance(redirect_uri, RedirectURI) else _read(redirect_uri)
    if parsed.proxy_port is not None and parsed.proxy_path is not None:
        return LocalEndpoint(
            redirect=parsed,
            scheme="http",
            port=parsed.proxy_port,
            path=parsed.proxy_path,
            proxied=True,
            forwarded_host=parsed.netloc,
        )
    if parsed.loopback:
        return LocalEndpoint(
            redirect=parsed,
            scheme=parsed.scheme,
            port=parsed.port,
            path=parsed.path,
            proxied=False,
            host="127.0.0.1" if parsed.host == "localhost" else parsed.host,
        )
    shown = repr(clean_server_text(parsed.uri, 200))  # it may be a landed URL with a code
    raise CallbackError(
        f"The redirect URI {shown} does not point at this machine (localhost, 127.0.0.1, ::1) "
        "nor through jupyter-server-proxy (…/proxy/PORT/path), so the notebook cannot catch the "
        "code there. Paste the URL the browser lands on into the paste box instead."
    )


def _read(redirect_uri: str) -> RedirectURI:
    shown = repr(clean_server_text(redirect_uri, 200))  # it may be a landed URL with a code
    parts = split_url(redirect_uri)
    if parts is None or parts.port == 0:
        raise CallbackError(
            f"The redirect URI {shown} has an invalid port. Use one of the manifest's "
            "allowed_redirect_uris, e.g. http://127.0.0.1:8765/callback (a port from 1 to 65535)."
        )
    parsed = parse_redirect_uri(redirect_uri)
    if parsed is None:
        raise CallbackError(
            f"The redirect URI {shown} is not an http(s) URL. Use one of the manifest's "
            "allowed_redirect_uris, e.g. http://127.0.0.1:8765/callback."
        )
    return parsed


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
            "manifest's allowed_redirect_uris (`stripe apps upload` again), then use it as the "
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
    public = None
    for name in ("JUPYTERHUB_PUBLIC_URL", "JUPYTERHUB_PUBLIC_HUB_URL", "JUPYTERHUB_HOST"):
        value = (env.get(name) or "").strip()
        if value.startswith(("https://", "http://")):
            parts = urllib.parse.urlsplit(value)
            base_url = (env.get("JUPYTERHUB_BASE_URL") or "/").strip("/")
            public = f"{parts.scheme}://{parts.netloc}" + (f"/{base_url}" if base_url else "")
            break
    kind: Kind = "binder" if binder else "jupyterhub" if hub else "local"
    return RemoteEnvironment(kind=kind, proxy_available=proxy, public_url=public)
