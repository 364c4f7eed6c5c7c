"""Steps 2 and 3: the install link and catching the code it brings back.

    from stripe_oauth_nb.oauth import start_authorization

``start_authorization`` builds the link (with a fresh ``state`` recorded in an
:class:`AttemptLog`) and starts the :class:`CallbackServer` that catches the redirect;
:func:`code_from_pasted_url` is the fallback where the browser cannot reach this machine.
"""

from __future__ import annotations

from ._attempts import Attempt, AttemptLog, AuthorizationCode
from ._authorize import start_authorization
from ._callback import CallbackEvent, CallbackServer, code_from_pasted_url, detect_remote
from ._install_link import InstallLink, build_install_link, install_link_from_settings

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


def __dir__() -> list[str]:
    return sorted(__all__)
