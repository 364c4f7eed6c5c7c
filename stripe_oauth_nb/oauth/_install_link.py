"""Step 2: the install link, built from a client id or from a link pasted from the Dashboard.

Every link gets a fresh ``state`` (256 bits from :mod:`secrets`, prefixed with the mode, as Stripe
suggests) and a ``redirect_uri`` checked against the app's allowed redirect URIs (exact match).
Each link is recorded in an :class:`~stripe_oauth_nb.oauth.AttemptLog`; when the code comes
back, that record, not anything in the URL, decides the mode and so the key that exchanges it.
"""

from __future__ import annotations

import re
import secrets
import time
import urllib.parse
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from .._errors import InstallLinkError
from .._masking import Secret, clean_server_text, mask_text
from .._modes import read_mode
from .._settings import STRIPE_MARKETPLACE_BASE, Mode, Settings
from .._urls import RedirectURI, base_url_problem, checked_redirect_uri, split_url
from ._attempts import Attempt, AttemptLog

__all__ = [
    "InstallLink",
    "build_install_link",
    "check_not_landed_url",
    "check_redirect_uri",
    "install_link_from_settings",
    "mask_state",
    "new_state",
    "state_mode",
]

_AUTHORIZE_PATH: Final = re.compile(r"/oauth/v2/(?:chnlink_[A-Za-z0-9_]+/)?authorize")
_CLIENT_ID: Final = re.compile(r"ca_[A-Za-z0-9_]{1,255}")
_MAX_LINK: Final = 4096
_MAX_SHOWN: Final = 200  # characters of a user-supplied URL quoted in a message
_STATE_BYTES: Final = 32  # 256 bits; the checklist asks for at least 128


def new_state(mode: Mode) -> str:
    """A fresh state: the mode, a dot, and 256 random bits (``test.Xy…``)."""
    return f"{mode}.{secrets.token_urlsafe(_STATE_BYTES)}"


def state_mode(state: str) -> Mode | None:
    """The mode written into a state by :func:`new_state` (informative only: trust the record)."""
    head = state.split(".", 1)[0]
    return read_mode(head)


def mask_state(state: str | Secret) -> str:
    """``test.…`` : enough to tell the mode, nothing of the random part."""
    value = state.reveal() if isinstance(state, Secret) else state
    mode = state_mode(value)
    return f"{mode}.…" if mode else "…"


@dataclass(frozen=True, repr=False)
class InstallLink:
    """A built install link and the attempt recorded for it.

    ``url`` is the link to open (it contains the state: show it only as a link). ``repr`` and
    ``str`` show :attr:`masked_url`.
    """

    url: str
    attempt: Attempt
    log: AttemptLog

    @property
    def mode(self) -> Mode:
        return self.attempt.mode

    @property
    def state(self) -> Secret:
        return self.attempt.state

    @property
    def redirect_uri(self) -> str:
        return self.attempt.redirect_uri

    @property
    def client_id(self) -> str:
        return self.attempt.client_id

    @property
    def masked_url(self) -> str:
        """The URL with the state masked: safe to print and log."""
        return self.url.replace(
            urllib.parse.quote_plus(self.state.reveal()), mask_state(self.state)
        )

    def __repr__(self) -> str:
        return f"InstallLink(url={self.masked_url!r}, mode={self.mode!r})"

    def __str__(self) -> str:
        return self.masked_url


def _shown(text: str) -> str:
    """A user-supplied URL for a message: quoted, one line, capped, with any code, key or
    ``state=`` masked."""
    return repr(clean_server_text(text, _MAX_SHOWN))


def _marketplace(marketplace_base: str) -> urllib.parse.SplitResult:
    text = marketplace_base.strip().rstrip("/") if isinstance(marketplace_base, str) else ""
    problem = base_url_problem(text)
    base = split_url(text)
    if problem is not None or base is None:
        raise InstallLinkError(
            f"The marketplace address {_shown(str(marketplace_base))} "
            f"{problem or 'is not usable'}. It must be https://marketplace.stripe.com (or the "
            "sandbox's http://127.0.0.1:PORT). Check STRIPE_MARKETPLACE_BASE."
        )
    return base


def check_not_landed_url(redirect_uri: str) -> str:
    """Refuse a redirect URI with a query string or fragment: that is a landed URL.

    A URL with ``?code=…&state=…`` is where the browser arrived after Accept; typed into the
    redirect URI box it would carry a live code into messages. The message shows it masked.
    """
    if "?" in redirect_uri or "#" in redirect_uri:
        before = redirect_uri.split("?", 1)[0].split("#", 1)[0]
        raise InstallLinkError(
            f"The redirect URI {_shown(redirect_uri)} is not usable: it has a query string or "
            "#fragment, so that looks like the address the browser landed on: paste it in the "
            "Landed URL box; the redirect URI is the part before `?` "
            f"({_shown(before)}), as listed in the manifest's allowed_redirect_uris."
        )
    return redirect_uri


def check_redirect_uri(
    redirect_uri: str | RedirectURI, allowed_redirect_uris: Sequence[str] | None, *, mode: Mode
) -> str:
    """Return ``redirect_uri`` if it may be used, else raise :class:`InstallLinkError`.

    It must look like ``http(s)://host/path`` (a path is required, as in the manifest schema),
    carry no query string or fragment (a URL with ``?code=…`` is where the browser *landed*,
    not a redirect URI), be HTTPS in live mode, and equal one of ``allowed_redirect_uris``
    exactly (when given). Messages show the URI masked, never a code or state in it. A string
    is read here (the door); a value from :func:`~stripe_oauth_nb._urls.checked_redirect_uri`
    passed the shape rule already, and only what it may be used for is checked.
    """
    value = redirect_uri if isinstance(redirect_uri, RedirectURI) else None
    if value is None or not value.checked:
        value = _read_redirect_uri(value.uri if value is not None else redirect_uri)
    redirect = value.uri
    if mode == "live" and value.scheme != "https":
        raise InstallLinkError(
            f"Live mode needs an HTTPS redirect URI, and {_shown(redirect)} is HTTP. Use "
            f"https://127.0.0.1:{value.given_port or 8765}{value.path} (the notebook serves it "
            "with a self-signed certificate) or a hub URL, and add it to allowed_redirect_uris."
        )
    if allowed_redirect_uris is not None and redirect not in allowed_redirect_uris:
        listed = "\n".join(f"  - {uri}" for uri in allowed_redirect_uris) or "  (none)"
        raise InstallLinkError(
            f"The redirect URI {_shown(redirect)} is not one of the app's "
            "allowed_redirect_uris "
            "(Stripe requires an exact match, port and path included). The allowed ones are:\n"
            f"{listed}\nUse one of them, or add this one to stripe-app.json and upload the app "
            "again."
        )
    return redirect


def _read_redirect_uri(redirect_uri: object) -> RedirectURI:
    """A redirect URI entering as text: checked against the one rule and read apart (once)."""
    if not isinstance(redirect_uri, str):
        raise InstallLinkError(
            "The redirect URI must be text: a URL such as http://127.0.0.1:8765/callback from "
            "the manifest's allowed_redirect_uris."
        )
    check_not_landed_url(redirect_uri)
    read = checked_redirect_uri(redirect_uri)
    if isinstance(read, str):
        raise InstallLinkError(
            f"The redirect URI {_shown(redirect_uri)} is not usable: it {read}. It must look "
            "like http://127.0.0.1:8765/callback (scheme, host, port and a path; no #fragment). "
            "Copy one from the manifest's allowed_redirect_uris (no spaces around it)."
        )
    return read


def _parse_pasted(
    pasted_link: str, base: urllib.parse.SplitResult
) -> tuple[str, str, list[tuple[str, str]], str | None]:
    """(path, client_id, other params, redirect_uri) from a link copied from the Dashboard."""
    text = pasted_link.strip()
    if len(text) > _MAX_LINK:
        raise InstallLinkError(
            f"The pasted link is longer than {_MAX_LINK} characters. Copy it again from the "
            "Dashboard."
        )
    try:
        parts = urllib.parse.urlsplit(text)
        pairs = urllib.parse.parse_qsl(
            parts.query,
            keep_blank_values=True,
            strict_parsing=bool(parts.query),
            errors="strict",
            max_num_fields=32,
            separator="&",
        )
    except ValueError:
        raise InstallLinkError(
            "The pasted link cannot be read as a URL. Copy it again from the Dashboard (it "
            "starts with https://marketplace.stripe.com/oauth/v2/)."
        ) from None
    if parts.scheme != base.scheme or parts.netloc.lower() != base.netloc.lower():
        raise InstallLinkError(
            f"The pasted link points to {mask_text(f'{parts.scheme}://{parts.netloc}')}, not to "
            f"{base.scheme}://{base.netloc}. Copy the install link from your app's page in the "
            "Dashboard (External test or Settings tab)."
        )
    if not _AUTHORIZE_PATH.fullmatch(parts.path):
        raise InstallLinkError(
            f"The pasted link's path {_shown(parts.path)} is not an OAuth install link: "
            "expected /oauth/v2/authorize or /oauth/v2/chnlink_…/authorize. Copy the install "
            "link from your app's page in the Dashboard (External test or Settings tab)."
        )
    client_ids = [value for name, value in pairs if name == "client_id"]
    if len(client_ids) != 1:
        raise InstallLinkError(
            "The pasted link must carry exactly one client_id. Copy it again from the Dashboard."
        )
    redirects = [value for name, value in pairs if name == "redirect_uri"]
    if len(redirects) > 1:
        raise InstallLinkError(
            "The pasted link carries redirect_uri more than once, which the Dashboard never "
            "does. Copy the install link again from your app's page in the Dashboard."
        )
    others = [(n, v) for n, v in pairs if n not in ("client_id", "redirect_uri", "state")]
    return parts.path, client_ids[0], others, (redirects[0] if redirects else None)


def build_install_link(
    *,
    mode: Mode,
    log: AttemptLog,
    redirect_uri: str | RedirectURI | None = None,
    allowed_redirect_uris: Sequence[str] | None,
    client_id: str | None = None,
    pasted_link: str | None = None,
    marketplace_base: str = STRIPE_MARKETPLACE_BASE,
    clock: Callable[[], float] = time.time,
) -> InstallLink:
    """Build an install link for ``mode`` and record its attempt in ``log``.

    Give ``client_id`` (``ca_…``) or ``pasted_link`` (a link copied from the Dashboard, either
    ``/oauth/v2/authorize?client_id=…`` or ``/oauth/v2/chnlink_…/authorize?client_id=…``; any
    ``state`` in it is replaced). ``redirect_uri`` defaults to the pasted link's, then to the
    first allowed one. ``allowed_redirect_uris`` (from the manifest) is checked by exact match;
    pass ``None`` only where no manifest is at hand (Stripe still checks).
    """
    if read_mode(mode) is None:
        raise InstallLinkError(f"Mode {_shown(str(mode))} is not known: use 'test' or 'live'.")
    base = _marketplace(marketplace_base)
    path = "/oauth/v2/authorize"
    others: list[tuple[str, str]] = []
    if pasted_link is not None:
        path, pasted_client, others, pasted_redirect = _parse_pasted(pasted_link, base)
        if client_id is not None and client_id != pasted_client:
            raise InstallLinkError(
                f"The pasted link is for client {pasted_client}, but {client_id} is configured "
                f"for {mode} mode. Use the {mode}-mode link of the same app."
            )
        client_id = pasted_client
        redirect_uri = redirect_uri or pasted_redirect
    if not client_id or not _CLIENT_ID.fullmatch(client_id):
        raise InstallLinkError(
            f"A {mode}-mode client id (ca_…) is needed to build the install link: set "
            f"STRIPE_CLIENT_ID_{mode.upper()} or paste the install link from the Dashboard."
        )
    if redirect_uri is None:
        if not allowed_redirect_uris:
            raise InstallLinkError(
                "No redirect URI is given and the app lists no allowed_redirect_uris. Add one "
                "(e.g. http://127.0.0.1:8765/callback) to stripe-app.json."
            )
        redirect_uri = allowed_redirect_uris[0]
    redirect = check_redirect_uri(redirect_uri, allowed_redirect_uris, mode=mode)

    state = new_state(mode)
    params = [("client_id", client_id), *others, ("redirect_uri", redirect), ("state", state)]
    url = urllib.parse.urlunsplit(
        (base.scheme, base.netloc, path, urllib.parse.urlencode(params), "")
    )
    attempt = Attempt(
        state=Secret(state),
        mode=mode,
        client_id=client_id,
        redirect_uri=redirect,
        created_at=clock(),
        install_url=url,
    )
    log.record(attempt)
    return InstallLink(url=url, attempt=attempt, log=log)


def install_link_from_settings(
    settings: Settings,
    log: AttemptLog,
    *,
    allowed_redirect_uris: Sequence[str] | None,
    mode: Mode | None = None,
    redirect_uri: str | RedirectURI | None = None,
    pasted_link: str | None = None,
) -> InstallLink:
    """:func:`build_install_link` with the client id, redirect URI and marketplace of settings.

    A thin call, kept public for compatibility: the one door to an install link is
    :func:`~stripe_oauth_nb.oauth.start_authorization` (server first, then this link)."""
    chosen: Mode = mode or settings.mode
    client_id = settings.credentials(chosen).client_id
    return build_install_link(
        mode=chosen,
        log=log,
        redirect_uri=redirect_uri or settings.redirect_uri,
        allowed_redirect_uris=allowed_redirect_uris,
        client_id=client_id,
        pasted_link=pasted_link,
        marketplace_base=settings.marketplace_base,
    )
