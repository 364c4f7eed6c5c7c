"""Step 3: catching the redirect from Stripe (loopback server, proxy route, paste fallback).

``_parse`` checks the redirect's query; ``_server`` serves it on 127.0.0.1 in a thread of the
kernel; ``_tls`` makes the loopback certificate for HTTPS redirect URIs; ``_remote`` works out
whether the browser can reach the kernel (JupyterHub, Binder, jupyter-server-proxy); ``_paste``
is the fallback where it cannot.
"""

from __future__ import annotations

from ._parse import CallbackQuery, parse_callback_query, parse_callback_url, resolve_callback
from ._paste import code_from_pasted_url
from ._remote import (
    LocalEndpoint,
    RemoteEnvironment,
    detect_remote,
    hub_redirect_uri,
    local_endpoint,
)
from ._server import CallbackEvent, CallbackServer, running_servers, start_callback_server
from ._tls import LoopbackCertificate, loopback_certificate

__all__ = [
    "CallbackEvent",
    "CallbackQuery",
    "CallbackServer",
    "LocalEndpoint",
    "LoopbackCertificate",
    "RemoteEnvironment",
    "code_from_pasted_url",
    "detect_remote",
    "hub_redirect_uri",
    "local_endpoint",
    "loopback_certificate",
    "parse_callback_query",
    "parse_callback_url",
    "resolve_callback",
    "running_servers",
    "start_callback_server",
]
