"""Step 3: catching the redirect from Stripe (loopback server, proxy route, paste fallback).

``_parse`` checks the redirect's query; ``_server`` serves it on loopback in a thread of the
kernel, over the hardened wire protocol of ``_protocol``; ``_outcome`` says how each ending is
shown; ``_tls`` makes the loopback certificate for HTTPS redirect URIs; ``_remote`` works out
whether the browser can reach the kernel (JupyterHub, Binder, jupyter-server-proxy); ``_paste``
is the fallback where it cannot.

The server's names load on first use, so importing this package (for the paste route, say)
loads no HTTP server library.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._outcome import Outcome, outcome_of
from ._parse import CallbackQuery, parse_callback_query, parse_callback_url, resolve_callback
from ._paste import code_from_pasted_url
from ._remote import (
    LocalEndpoint,
    RemoteEnvironment,
    detect_remote,
    hub_redirect_uri,
    local_endpoint,
)
from ._tls import LoopbackCertificate, loopback_certificate

if TYPE_CHECKING:
    from ._server import CallbackEvent, CallbackServer, running_servers

__all__ = [
    "CallbackEvent",
    "CallbackQuery",
    "CallbackServer",
    "LocalEndpoint",
    "LoopbackCertificate",
    "Outcome",
    "RemoteEnvironment",
    "code_from_pasted_url",
    "detect_remote",
    "hub_redirect_uri",
    "local_endpoint",
    "loopback_certificate",
    "outcome_of",
    "parse_callback_query",
    "parse_callback_url",
    "resolve_callback",
    "running_servers",
]

_SERVER_NAMES = frozenset({"CallbackEvent", "CallbackServer", "running_servers"})


def __getattr__(name: str) -> Any:
    if name in _SERVER_NAMES:
        return getattr(importlib.import_module(f"{__name__}._server"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
