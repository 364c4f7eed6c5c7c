"""Steps 2 and 3 together: the one place that starts an authorization.

The rule the notebook form and ``stripe-oauth-nb login`` share: check the redirect URI, start
the callback server (so a taken port fails *before* any link is shown), then build the link;
if building the link fails, stop the server again. A redirect URI that does not reach this
machine (no loopback host, no jupyter-server-proxy path) gets no server: the caller offers the
paste route instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from .._errors import CallbackError
from .._settings import Mode, Settings
from .._urls import RedirectURI, checked_redirect_uri
from ._attempts import ATTEMPT_TTL, AttemptLog
from ._callback._remote import local_endpoint
from ._install_link import InstallLink, check_not_landed_url, install_link_from_settings

if TYPE_CHECKING:  # the server (and its HTTP stack) loads only when one is started
    from ._callback._server import CallbackServer, Listener

__all__ = ["start_authorization"]


def start_authorization(
    settings: Settings,
    log: AttemptLog,
    *,
    allowed_redirect_uris: Sequence[str] | None,
    mode: Mode | None = None,
    redirect_uri: str | None = None,
    pasted_link: str | None = None,
    deadline: float = float(ATTEMPT_TTL),
    listen: bool = True,
    listener: Listener | None = None,
) -> tuple[InstallLink, CallbackServer | None]:
    """Build the install link for ``mode`` and, with ``listen``, the server that catches it.

    ``redirect_uri`` defaults to ``settings.redirect_uri``. A landed URL (with ``?code=…``) is
    refused before anything starts; the link checks the rest (shape, HTTPS in live mode, exact
    match with ``allowed_redirect_uris``) exactly as before. With ``listen`` the server is
    started before the link is built, so
    :class:`~stripe_oauth_nb._errors.CallbackPortInUseError` comes before any link exists;
    ``listener`` receives the server's events from its first one. The server is ``None`` when
    ``listen`` is false or the redirect URI does not reach this machine (use the paste route).
    On any error, a server started here is stopped again.
    """
    chosen: Mode = mode or settings.mode
    text = redirect_uri or settings.redirect_uri
    check_not_landed_url(text)
    # Parsed once, here where it enters; the value travels on (to the server and the link). A
    # URI the rule refuses travels as text, and the link's check says why.
    read = checked_redirect_uri(text)
    uri: str | RedirectURI = read if isinstance(read, RedirectURI) else text
    server: CallbackServer | None = None
    reachable = True
    try:
        local_endpoint(uri)
    except CallbackError:
        reachable = False  # not reachable from here: the paste route is the way
    if listen and reachable:
        from ._callback._server import CallbackServer

        server = CallbackServer(log, uri, deadline=deadline)
    try:
        if server is not None:
            if listener is not None:
                server.add_listener(listener)
            server.start()  # a taken port fails here, before any link is shown
        link = install_link_from_settings(
            settings,
            log,
            allowed_redirect_uris=allowed_redirect_uris,
            mode=chosen,
            redirect_uri=uri,
            pasted_link=pasted_link,
        )
    except BaseException:
        if server is not None:
            server.stop()
        raise
    return link, server
