"""The URL rules, in one place: what loopback is, which base URLs may be plain HTTP, what a
redirect URI is, and which landed address belongs to a redirect URI.

- **Loopback** is ``localhost``, ``127.0.0.0/8`` and ``::1`` (RFC 8252 section 8.3, RFC 6761).
  Nothing else is "this machine", whatever a name resolves to.
- **Base URLs** (Stripe's API, the marketplace, the sandbox) are ``https://`` anywhere, or plain
  ``http://`` to a loopback host only: over plain HTTP to another host, the secret key, codes and
  tokens would cross the network readable by anyone on the path.
- **Redirect URIs** have two rules: the pattern Stripe's manifest schema gives
  (:data:`MANIFEST_REDIRECT_PATTERN`, what an upload accepts), and the stricter one the toolkit
  needs to build a link with (:func:`redirect_uri_problem`: a readable ``http(s)://host/path``
  with a valid port, no query string, fragment, credentials or surrounding spaces).
- **Host headers** a loopback server accepts (against DNS rebinding): :func:`host_headers`, for
  the callback server and the install app alike.
- A redirect URI **reaches the kernel** when its host is loopback (served directly) or its path
  goes through jupyter-server-proxy (``…/proxy/PORT/rest``, served on ``127.0.0.1:PORT`` at
  ``/rest``): :func:`parse_redirect_uri` says which.
- **Parse once, pass the value**: where a redirect URI enters (an argument, a setting, a form's
  box), :func:`checked_redirect_uri` checks it against the one rule and reads it apart in one
  split; the :class:`RedirectURI` it returns (``checked``) is what travels on (the callback
  server, its endpoint, the install link, the manifest check), and nothing further in splits the
  string again.

Functions here return facts or a problem phrase; callers raise their own error type with it.
"""

from __future__ import annotations

import ipaddress
import re
import urllib.parse
from dataclasses import dataclass, replace
from typing import Final, Literal

__all__ = [
    "MANIFEST_REDIRECT_PATTERN",
    "MAX_URL",
    "RedirectURI",
    "base_url_problem",
    "checked_redirect_uri",
    "host_headers",
    "is_loopback_host",
    "landed_on",
    "matches_manifest_redirect_pattern",
    "parse_redirect_uri",
    "redirect_uri_problem",
    "split_url",
]

#: Longest base URL or redirect URI accepted (characters).
MAX_URL: Final = 2048
#: Stripe's manifest schema pattern for ``allowed_redirect_uris`` items (an upload refuses others).
MANIFEST_REDIRECT_PATTERN: Final = re.compile(r"^https?://.*/.+")
_PROXY_PATH: Final = re.compile(r"(?P<prefix>.*)/proxy/(?P<port>[0-9]{1,5})(?P<rest>/.*)")


def is_loopback_host(host: str | None) -> bool:
    """True for ``localhost``, ``127.0.0.0/8`` and ``::1`` (with or without brackets)."""
    if not host:
        return False
    name = host.strip().lower()
    if name == "localhost":
        return True
    if name.startswith("[") and name.endswith("]"):
        name = name[1:-1]
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


#: The names a browser may use for this machine in a ``Host`` header.
_LOOPBACK_NAMES: Final = frozenset({"127.0.0.1", "localhost", "[::1]"})


def host_headers(
    host: str, port: int | None = None, *, scheme: str = "http", also: tuple[str, ...] = ()
) -> frozenset[str]:
    """The ``Host`` headers a server bound to ``host`` accepts; any other is DNS rebinding.

    Its own name (IPv6 in brackets), every loopback name when it is bound to loopback, and
    ``also`` (e.g. the public host a proxy forwards), lower-case. With ``port``, each name
    carries ``:port``, and also stands bare when ``port`` is the scheme's default.
    """
    name = host.strip().lower()
    if ":" in name and not name.startswith("["):
        name = f"[{name}]"
    names = {name, *(n.lower() for n in also if n)}
    if is_loopback_host(host):
        names |= _LOOPBACK_NAMES
    if port is None:
        return frozenset(names)
    hosts = {f"{n}:{port}" for n in names}
    if port == (443 if scheme == "https" else 80):
        hosts |= names
    return frozenset(hosts)


def split_url(url: object) -> urllib.parse.SplitResult | None:
    """``urlsplit(url)`` with its port checked; None when it is not readable as a URL."""
    if not isinstance(url, str) or len(url) > MAX_URL:
        return None
    try:
        parts = urllib.parse.urlsplit(url)
        _ = parts.port  # raises ValueError for a port that is not a number from 0 to 65535
    except ValueError:
        return None
    return parts


def base_url_problem(url: object) -> str | None:
    """Why ``url`` cannot be a base URL the toolkit sends keys or tokens to; None when it can.

    ``https://host[:port][/path]`` anywhere, or ``http://`` to a loopback host only. The answer
    is a phrase to put after "The address … ", e.g. "is plain http:// to another machine".
    """
    parts = split_url(url)
    if parts is None or not isinstance(url, str):
        return f"is not a URL (at most {MAX_URL} characters, a valid port)"
    if url != url.strip() or any(ch.isspace() for ch in url):
        return "contains spaces"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "is not an http(s) address with a host name"
    if parts.username is not None or parts.password is not None:
        return "carries a user name or password (user:password@), which would be sent with it"
    if parts.query or parts.fragment or "?" in url or "#" in url:
        return "has a query string or #fragment; give the address only"
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        return (
            "is plain http:// to another machine, so the secret key and tokens would cross the "
            "network unencrypted; plain http is only allowed to this machine (localhost, "
            "127.0.0.1, ::1). Use https://"
        )
    return None


def matches_manifest_redirect_pattern(uri: object) -> bool:
    """True when ``uri`` matches the pattern of Stripe's manifest schema."""
    return isinstance(uri, str) and MANIFEST_REDIRECT_PATTERN.match(uri) is not None


def redirect_uri_problem(uri: object) -> str | None:
    """Why the toolkit cannot build an install link with ``uri``; None when it can.

    The one rule for both the manifest check and the install link. A redirect URI is
    ``http(s)://host[:port]/path`` (lower-case scheme and a path beyond ``/``, as the manifest
    schema requires), at most :data:`MAX_URL` characters, with a valid port and no query string,
    fragment, credentials or surrounding spaces. Whether it is *allowed* (listed in the app's
    ``allowed_redirect_uris``, HTTPS in live mode) is the install link's business.
    """
    return _problem(uri, split_url(uri))


def _problem(uri: object, parts: urllib.parse.SplitResult | None) -> str | None:
    """:func:`redirect_uri_problem` of ``uri``, split already into ``parts``."""
    if parts is None or not isinstance(uri, str):
        return f"is not a URL (at most {MAX_URL} characters, a port from 1 to 65535)"
    if "?" in uri or "#" in uri:
        return "has a query string or #fragment"
    if uri != uri.strip() or any(ch.isspace() for ch in uri):
        return "contains spaces"
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or len(parts.path) < 2
        or not matches_manifest_redirect_pattern(uri)
    ):
        return "does not look like http://127.0.0.1:8765/callback (scheme, host, port, path)"
    if parts.username is not None or parts.password is not None:
        return "carries a user name or password (user:password@)"
    if parts.port == 0:
        return "has port 0"
    return None


@dataclass(frozen=True)
class RedirectURI:
    """A redirect URI read apart: where it points, and how (if at all) it reaches the kernel."""

    uri: str
    scheme: Literal["http", "https"]
    #: Lower-case host name, IPv6 addresses without brackets.
    host: str
    #: The port the browser connects to (the scheme's default when the URI names none).
    port: int
    path: str
    #: ``host[:port]`` as written, lower-case: the ``Host`` header a browser sends for it.
    netloc: str
    #: The jupyter-server-proxy port when the path is ``…/proxy/PORT/rest``, else None.
    proxy_port: int | None = None
    #: The path the proxy forwards to the kernel (``/rest``), when proxied.
    proxy_path: str | None = None
    #: The port as written (None when the URI names none).
    given_port: int | None = None
    #: True when read by :func:`checked_redirect_uri`: it passed the one rule, and whoever
    #: receives it checks nothing of its shape again.
    checked: bool = False

    @property
    def loopback(self) -> bool:
        """The browser reaches it on this machine directly."""
        return is_loopback_host(self.host)

    @property
    def proxied(self) -> bool:
        """It reaches the kernel through jupyter-server-proxy (``…/proxy/PORT/rest``)."""
        return self.proxy_port is not None

    @property
    def reaches_kernel(self) -> bool:
        return self.proxied or self.loopback


def parse_redirect_uri(uri: str) -> RedirectURI | None:
    """``uri`` read apart, or None when it is not an ``http(s)://host/...`` URL (port 0 included).

    A path ``…/proxy/PORT/rest`` (JupyterHub's ``/hub/user-redirect/proxy/PORT/callback`` or a
    server's ``/user/NAME/proxy/PORT/callback``) marks a proxied URI, unless PORT is the URI's
    own port.
    """
    return _read(uri, split_url(uri))


def checked_redirect_uri(uri: object) -> RedirectURI | str:
    """``uri`` read apart when it passes the one rule (:func:`redirect_uri_problem`), else that
    rule's problem phrase; one split either way. The value (``checked``) is what travels on."""
    parts = split_url(uri)
    problem = _problem(uri, parts)
    if problem is not None or not isinstance(uri, str):
        return problem or "is not a URL"
    read = _read(uri, parts)
    if read is None:  # pragma: no cover - the rule refuses every URI _read cannot read
        return "does not look like http://127.0.0.1:8765/callback (scheme, host, port, path)"
    return replace(read, checked=True)


def _read(uri: str, parts: urllib.parse.SplitResult | None) -> RedirectURI | None:
    """:func:`parse_redirect_uri` of ``uri``, split already into ``parts``."""
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    if parts.port == 0:
        return None
    scheme: Literal["http", "https"] = "https" if parts.scheme == "https" else "http"
    port = parts.port if parts.port is not None else (443 if scheme == "https" else 80)
    proxy_port: int | None = None
    proxy_path: str | None = None
    match = _PROXY_PATH.fullmatch(parts.path)
    if match and 0 < int(match["port"]) < 65536 and int(match["port"]) != parts.port:
        proxy_port, proxy_path = int(match["port"]), match["rest"]
    return RedirectURI(
        uri=uri,
        scheme=scheme,
        host=parts.hostname.lower(),
        port=port,
        path=parts.path or "/",
        netloc=parts.netloc.lower(),
        proxy_port=proxy_port,
        proxy_path=proxy_path,
        given_port=parts.port,
    )


def landed_on(landed_url: str, redirect_uri: str) -> bool:
    """True when ``landed_url`` (a pasted address, query and all) is where ``redirect_uri`` lands.

    The same binding the callback server applies: same scheme, host, port and exact path; for a
    proxied redirect URI, any address on the same host whose path goes through the proxy to the
    same port and path (JupyterHub's ``/hub/user-redirect/…`` forwards the browser to
    ``/user/NAME/…``).
    """
    address = landed_url.strip().split("#", 1)[0].split("?", 1)[0]
    landed = parse_redirect_uri(address)
    wanted = parse_redirect_uri(redirect_uri)
    if landed is None or wanted is None:
        return False
    if (landed.scheme, landed.host, landed.port) != (wanted.scheme, wanted.host, wanted.port):
        return False
    if wanted.proxied:
        return (landed.proxy_port, landed.proxy_path) == (wanted.proxy_port, wanted.proxy_path)
    return landed.path == wanted.path
