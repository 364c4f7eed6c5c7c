"""What the install app needs, checked once at start-up.

:class:`ServeConfig` holds the settings, the manifest, the public URL, the mode, the cookie
signing key, the token store and the attempt log. :meth:`ServeConfig.create` runs the start-up
checks, each with a message that says what to change:

- the public URL is ``http(s)://host[:port][/prefix]`` with no query or fragment;
- plain HTTP only on loopback: a non-loopback bind address, or a public URL on another host,
  needs ``https://`` in the public URL (a reverse proxy terminates TLS in production);
- ``{public URL}/callback`` is one of the manifest's ``allowed_redirect_uris`` (the one rule of
  :func:`~stripe_oauth_nb.oauth._install_link.check_redirect_uri`: exact match, HTTPS in live mode);
- the mode's client id is configured.

The signing key comes from ``STRIPE_OAUTH_NB_SERVE_SECRET`` (at least 32 characters, the same
on every process behind a load balancer); without it each process makes its own, and warns when
it may be one of several (a public URL other than its own address, a non-loopback address, or a
PostgreSQL store).
"""

from __future__ import annotations

import logging
import os
import secrets
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, Final

from .._errors import ConfigError, InstallLinkError
from .._masking import Secret, mask_text
from .._modes import MODES, Mode, read_mode
from .._settings import Settings
from .._urls import is_loopback_host
from ..manifest import Manifest
from ..oauth._attempts import AttemptLog
from ..oauth._install_link import check_redirect_uri
from ..tokens import TokenStore, open_attempt_log, open_store

if TYPE_CHECKING:
    from ..sandbox import Sandbox

__all__ = [
    "CALLBACK_PATH",
    "SECRET_ENV",
    "PublicURL",
    "ServeConfig",
    "check_bind",
    "signing_key_from_env",
]

#: Where Stripe redirects back to, under the public URL.
CALLBACK_PATH: Final = "/callback"
#: The environment variable holding the cookie signing key.
SECRET_ENV: Final = "STRIPE_OAUTH_NB_SERVE_SECRET"  # noqa: S105 (a variable name, not a secret)
_MIN_SECRET: Final = 32

logger = logging.getLogger("stripe_oauth_nb.serve")


@dataclass(frozen=True)
class PublicURL:
    """The address visitors and Stripe reach the server at, read once: ``http(s)://host[:port]
    [/prefix]``, with no query or fragment (:meth:`read` checks it)."""

    #: The URL as given, without a trailing slash.
    text: str
    scheme: str
    hostname: str
    #: The path prefix the app's routes are mounted under ("" for none), no trailing slash.
    prefix: str

    @classmethod
    def read(cls, public_url: str) -> PublicURL:
        """``public_url`` read; :class:`ConfigError` when it is not usable."""
        text = public_url.strip().rstrip("/")
        try:
            parts = urllib.parse.urlsplit(text)
            _ = parts.port  # raises ValueError on a bad port
        except ValueError:
            parts = urllib.parse.urlsplit("")
        if (
            parts.scheme not in ("http", "https")
            or not parts.hostname
            or parts.query
            or parts.fragment
        ):
            raise ConfigError(
                f"--public-url {mask_text(public_url)!r} is not usable: give the address "
                "visitors and Stripe reach this server at, scheme and host (and port or path "
                "prefix if any), e.g. https://install.example.com or http://127.0.0.1:8765."
            )
        if "?" in text or "#" in text:
            raise ConfigError(
                f"--public-url {mask_text(public_url)!r} has a query or fragment; give just "
                "the base address, e.g. https://install.example.com."
            )
        return cls(text, parts.scheme, parts.hostname, parts.path.rstrip("/"))

    @property
    def secure(self) -> bool:
        return self.scheme == "https"

    def __str__(self) -> str:
        return self.text


def check_bind(host: str, public_url: PublicURL) -> None:
    """Plain HTTP only on loopback: refuse a public bind or a remote public URL without HTTPS."""
    if public_url.secure:
        return
    if not is_loopback_host(host):
        raise ConfigError(
            f"Refusing to serve on {host} with the plain-HTTP public URL {public_url}: the "
            "authorization code and the install cookie would cross the network unencrypted. "
            "Put a reverse proxy that terminates TLS in front of this server and pass its "
            "address with --public-url https://…, or bind to 127.0.0.1 for local tests."
        )
    if not is_loopback_host(public_url.hostname):
        raise ConfigError(
            f"The public URL {public_url} is plain HTTP to another host. Use https:// (a "
            "reverse proxy terminating TLS), or http://127.0.0.1:PORT for local tests."
        )


def signing_key_from_env(
    environ: Mapping[str, str] | None = None, *, shared: bool = True
) -> Secret:
    """The cookie signing key from ``STRIPE_OAUTH_NB_SERVE_SECRET``, or a new one.

    ``shared``: this process may be one of several (it is reached through another address, or
    keeps tokens in a shared database), so a key of its own is warned about; a local try on
    loopback is not.
    """
    value = (os.environ if environ is None else environ).get(SECRET_ENV, "").strip()
    if value:
        if len(value) < _MIN_SECRET:
            raise ConfigError(
                f"{SECRET_ENV} is {len(value)} characters long; use at least {_MIN_SECRET} "
                'random ones, e.g. from `python -c "import secrets; '
                'print(secrets.token_urlsafe(32))"`.'
            )
        return Secret(value)
    if not shared:
        return Secret(secrets.token_urlsafe(32))
    logger.warning(
        "%s is not set: this process signs install cookies with a key of its own. With "
        "several server processes behind a load balancer, set the same %s on each, or an "
        "install started on one process is refused on another.",
        SECRET_ENV,
        SECRET_ENV,
    )
    return Secret(secrets.token_urlsafe(32))


@dataclass(frozen=True)
class ServeConfig:
    """Everything the install app uses; build it with :meth:`create` (which checks it)."""

    settings: Settings
    manifest: Manifest
    public_url: str
    mode: Mode
    signing_key: Secret
    store: TokenStore
    attempts: AttemptLog
    host: str = "127.0.0.1"
    port: int = 8765
    #: One paragraph for the onboarding page: what the app does (default: built from the name).
    description: str = ""
    #: Token requests a second, per mode, from this process; None: Stripe's limits (25 test,
    #: 100 live), as ``tokens refresh --all`` uses them.
    token_rate: float | None = None

    @property
    def callback_url(self) -> str:
        return self.public_url + CALLBACK_PATH

    @cached_property
    def public(self) -> PublicURL:
        """The public URL, read (host and path prefix)."""
        return PublicURL.read(self.public_url)

    @property
    def secure_cookie(self) -> bool:
        """``Secure`` on the install cookie: whenever visitors reach the server over HTTPS."""
        return self.public.secure

    @property
    def app_name(self) -> str:
        name = self.manifest.get("name")
        return name if isinstance(name, str) and name.strip() else "This app"

    @property
    def about(self) -> str:
        return self.description or (
            f"{self.app_name} connects to your Stripe account through Stripe's own install "
            "page. It asks only for the permissions listed here, each with the reason, and you "
            "can remove it at any time from your Stripe Dashboard."
        )

    def modes(self) -> list[Mode]:
        """The modes an install can use here (a client id, and a callback that mode allows);
        the install page offers these."""
        usable: list[Mode] = []
        for mode in MODES:
            try:
                self.check_mode(mode)
            except (ConfigError, InstallLinkError):
                continue
            usable.append(mode)
        return usable

    def check_mode(self, mode: Mode) -> str:
        """The client id of ``mode``, after the redirect-URI rules for that mode."""
        client_id = self.settings.credentials(mode).require_client_id()
        check_redirect_uri(self.callback_url, self.manifest.redirect_uris, mode=mode)
        return client_id

    @classmethod
    def create(
        cls,
        settings: Settings,
        manifest: Manifest,
        *,
        public_url: str | None = None,
        host: str = "127.0.0.1",
        port: int = 8765,
        mode: Mode | None = None,
        signing_key: Secret | str | None = None,
        store: TokenStore | None = None,
        attempts: AttemptLog | None = None,
        description: str = "",
        token_rate: float | None = None,
    ) -> ServeConfig:
        """Check everything that can be checked before serving, and build the config.

        ``public_url`` defaults to ``http://{host}:{port}`` (loopback only). ``store`` defaults
        to the store ``settings`` name (a file, or a PostgreSQL DSN); ``attempts`` to its
        attempt log (:func:`~stripe_oauth_nb.tokens.open_attempt_log`: beside the file, or in
        the database): the places every process behind a load balancer must share. ``signing_key``
        defaults to :func:`signing_key_from_env`.
        """
        if mode is not None and read_mode(mode) is None:
            raise ConfigError(f"Mode {mode!r} is not known: use 'test' or 'live'.")
        chosen: Mode = mode or settings.mode
        public = PublicURL.read(public_url or f"http://{host}:{port}")
        check_bind(host, public)
        url = public.text
        # The secret matters when several processes may serve the same visitors: behind another
        # address (a proxy or load balancer), on a non-loopback interface, or with a shared store.
        shared = (
            url != f"http://{host}:{port}"
            or not is_loopback_host(host)
            or settings.token_store_dsn is not None
        )
        key = (
            Secret(signing_key) if signing_key is not None else signing_key_from_env(shared=shared)
        )
        config = cls(
            settings=settings.with_changes(mode=chosen, redirect_uri=url + CALLBACK_PATH),
            manifest=manifest,
            public_url=url,
            mode=chosen,
            signing_key=key,
            store=store if store is not None else open_store(settings),
            attempts=attempts if attempts is not None else open_attempt_log(settings),
            host=host,
            port=port,
            description=description,
            token_rate=token_rate,
        )
        if token_rate is not None and not token_rate > 0:
            raise ConfigError(
                f"The token request rate must be positive (requests a second), not {token_rate}."
            )
        config.check_mode(chosen)
        return config

    @classmethod
    def for_sandbox(cls, sandbox: Sandbox, manifest: Manifest, **options: Any) -> ServeConfig:
        """:meth:`create` against ``sandbox`` (a started ``Sandbox``, which the caller stops):
        the manifest is registered there, and the developer keys and the app's client ids come
        from it. ``options`` are those of :meth:`create`."""
        from .._target import Target
        from ._target import app_settings

        mode: Mode = options.get("mode") or "test"
        target = Target.for_sandbox(sandbox, mode=mode)
        return cls.create(app_settings(target, manifest), manifest, **options)

    def __repr__(self) -> str:
        return (
            f"ServeConfig(public_url={self.public_url!r}, mode={self.mode!r}, "
            f"store={self.store!r}, app={self.app_name!r})"
        )
