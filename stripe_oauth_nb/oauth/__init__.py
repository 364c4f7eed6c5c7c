"""Steps 2 and 3: the install link and catching the code it brings back.

    from stripe_oauth_nb.oauth import start_authorization

``start_authorization`` builds the link (with a fresh ``state`` recorded in an
:class:`AttemptLog`) and starts the :class:`CallbackServer` that catches the redirect;
:func:`code_from_pasted_url` is the fallback where the browser cannot reach this machine.

The private modules, one concern each: ``_install_link`` (links with a fresh ``state``),
``_attempts`` (the record that decides a code's mode, and that it is sent once), ``_callback/``
(strict parser, wire protocol, loopback server, TLS certificate, remote kernels, paste
fallback), ``_authorize`` (the one start-up rule: server first, then the link). The callback's
names load on first use, so importing this package (or ``oauth._attempts``, as the command
line's parser does) loads no HTTP server, TLS or socket library: a command starts fast, and a
signal during its start-up meets no C extension's import.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._attempts import Attempt, AttemptLog, AuthorizationCode
from ._install_link import InstallLink, build_install_link, install_link_from_settings

if TYPE_CHECKING:
    from ._authorize import start_authorization
    from ._callback import CallbackEvent, CallbackServer, code_from_pasted_url, detect_remote

#: Names loaded on first use, and the private module that holds each.
_LAZY = {
    "start_authorization": "._authorize",
    "code_from_pasted_url": "._callback",
    "detect_remote": "._callback",
    "CallbackEvent": "._callback",
    "CallbackServer": "._callback",
}

__all__ = [
    "Attempt",
    "AttemptLog",
    "AuthorizationCode",
    "CallbackEvent",
    "CallbackServer",
    "InstallLink",
    "build_install_link",
    "code_from_pasted_url",
    "detect_remote",
    "install_link_from_settings",
    "start_authorization",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
