"""Settings from the environment and a ``.env`` file.

With nothing configured the target is the embedded sandbox. Real Stripe is configuration only:

    STRIPE_OAUTH_NB_TARGET=stripe          # or "sandbox" (default when no key is set)
    STRIPE_SECRET_KEY_TEST=sk_test_...     # the app developer's secret key, test mode
    STRIPE_SECRET_KEY_LIVE=sk_live_...     # ... and live mode (optional)
    STRIPE_CLIENT_ID_TEST=ca_...           # the app's OAuth client id, test mode
    STRIPE_CLIENT_ID_LIVE=ca_...           # ... and live mode (optional)
    STRIPE_REDIRECT_URI=http://127.0.0.1:8765/callback
    STRIPE_OAUTH_NB_MODE=test              # which mode the notebooks use
    STRIPE_OAUTH_NB_TOKEN_STORE=~/.config/stripe-oauth-nb/tokens.json   # or postgresql://...
    STRIPE_OAUTH_NB_STORE_KEY=...          # encrypt stored tokens (`tokens new-key`), optional
    STRIPE_OAUTH_NB_SANDBOX_URL=http://127.0.0.1:PORT   # a running `stripe-oauth-nb sandbox`
    STRIPE_API_VERSION=2026-07-29.dahlia   # the Stripe-Version every request names (default)

Environment variables win over ``.env``; ``.env`` is looked up from the working folder upwards.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from ._errors import ConfigError, ModeMismatchError
from ._masking import Secret, mask, shown
from ._modes import MODES, Mode, read_mode
from ._textfile import read_small_text
from ._urls import base_url_problem, is_loopback_host, split_url

__all__ = [
    "DEFAULT_MARGIN",
    "DEFAULT_REDIRECT_URI",
    "REFRESH_WARNING_WINDOW",
    "STRIPE_API_BASE",
    "STRIPE_API_VERSION",
    "STRIPE_MARKETPLACE_BASE",
    "Mode",
    "ModeCredentials",
    "Settings",
    "StoreLocation",
    "TargetKind",
    "check_api_version",
    "default_token_store_path",
    "is_dsn",
    "load_settings",
]

TargetKind = Literal["sandbox", "stripe"]

STRIPE_API_BASE = "https://api.stripe.com"
STRIPE_MARKETPLACE_BASE = "https://marketplace.stripe.com"
DEFAULT_REDIRECT_URI = "http://127.0.0.1:8765/callback"
#: The Stripe API version every request of the toolkit names (``Stripe-Version``): the version
#: the sandbox's objects follow, so tables have one shape whatever each account's default is.
#: ``STRIPE_API_VERSION`` pins another (the README says what changes then).
STRIPE_API_VERSION = "2026-07-29.dahlia"
#: What a Stripe version looks like: a date, and since 2024-09-30 a release name after a dot.
_VERSION_SHAPE = re.compile(r"(\d{4}-\d{2}-\d{2})(?:\.([a-z]{1,30}))?")

#: Refresh the access token when less than this is left (seconds; Stripe's tokens live one
#: hour). The token manager, ``TokenAuth`` and ``tokens refresh --margin`` all default to it.
DEFAULT_MARGIN = 300.0
#: Refresh (rolling it for another year), and warn, when a refresh token has less than this
#: left of its year (seconds).
REFRESH_WARNING_WINDOW = 30 * 24 * 3600.0

_ENV_PREFIX = "STRIPE_OAUTH_NB_"
#: Largest ``.env`` file read (bytes); a settings file is a few hundred.
MAX_ENV_FILE = 1024 * 1024


def default_token_store_path() -> Path:
    """The token file under the user's config folder (platform-specific)."""
    from platformdirs import user_config_path

    return user_config_path("stripe-oauth-nb", appauthor=False) / "tokens.json"


@dataclass(frozen=True)
class ModeCredentials:
    """The app developer's secret key and the app's client id for one mode."""

    mode: Mode
    secret_key: Secret | None = None
    client_id: str | None = None

    def __post_init__(self) -> None:
        if self.secret_key is not None:
            check_key_mode(
                self.secret_key.reveal(),
                self.mode,
                what=f"{self.mode}-mode secret key (STRIPE_SECRET_KEY_{self.mode.upper()})",
            )

    def require_secret_key(self) -> Secret:
        if not self.secret_key:
            name = f"STRIPE_SECRET_KEY_{self.mode.upper()}"
            raise ConfigError(
                f"No {self.mode}-mode secret key is configured: set {name}=sk_{self.mode}_... in "
                "your .env file (Dashboard > Developers > API keys), or use the sandbox."
            )
        return self.secret_key

    def require_client_id(self) -> str:
        if not self.client_id:
            name = f"STRIPE_CLIENT_ID_{self.mode.upper()}"
            raise ConfigError(
                f"No {self.mode}-mode client id is configured: set {name}=ca_... in your .env "
                "file (your app's page in the Dashboard, or the sandbox's registration)."
            )
        return self.client_id

    def __repr__(self) -> str:
        key = self.secret_key.masked if self.secret_key else None
        return (
            f"ModeCredentials(mode={self.mode!r}, secret_key={key!r}, client_id={self.client_id!r})"
        )


def check_api_version(version: object) -> str:
    """``version`` if it is a Stripe API version (``2026-07-29.dahlia``, ``2024-06-20``), else
    one ConfigError saying what to set (before any request names it)."""
    match = _VERSION_SHAPE.fullmatch(version) if isinstance(version, str) else None
    if match is not None:
        try:
            dt.date.fromisoformat(match.group(1))
        except ValueError:
            match = None
    if match is None:
        raise ConfigError(
            f"STRIPE_API_VERSION={shown(version)} is not a Stripe API version: use a version "
            "date such as 2026-07-29.dahlia (a date, and the release name after a dot for "
            f"versions since 2024-09-30; see https://docs.stripe.com/upgrades), or leave it out "
            f"for the toolkit's {STRIPE_API_VERSION}."
        )
    return str(version)


def key_mode(key: str) -> Mode | None:
    """The mode a Stripe key or token belongs to, from its prefix; None if it has none."""
    for mode in MODES:
        if key.startswith((f"sk_{mode}_", f"rk_{mode}_", f"pk_{mode}_")):
            return mode
    return None


def check_key_mode(key: str, mode: Mode, *, what: str = "key") -> None:
    """Refuse a key whose prefix says another mode than ``mode``."""
    found = key_mode(key)
    if found is not None and not key.startswith("sk_"):
        kind = "publishable key" if key.startswith("pk_") else "restricted key or access token"
        raise ConfigError(
            f"The {what} {mask(key)} is a {kind}, not a secret key. Stripe's token endpoint "
            f"takes the app developer's secret key: use the sk_{mode}_ key from "
            "Dashboard > Developers > API keys."
        )
    if found is None:
        raise ConfigError(
            f"The {what} {mask(key)} is not a Stripe secret key: it should start with "
            f"sk_{mode}_. Copy it from Dashboard > Developers > API keys."
        )
    if found != mode:
        raise ModeMismatchError(
            f"The {what} {mask(key)} is a {found}-mode key but is used for {mode} mode. "
            f"Use the sk_{mode}_ key for {mode} mode: test and live values cannot be mixed."
        )


@dataclass(frozen=True)
class Settings:
    """Where to talk to, with which credentials, and where tokens live."""

    target: TargetKind = "sandbox"
    mode: Mode = "test"
    api_base: str = STRIPE_API_BASE
    marketplace_base: str = STRIPE_MARKETPLACE_BASE
    test: ModeCredentials = field(default_factory=lambda: ModeCredentials("test"))
    live: ModeCredentials = field(default_factory=lambda: ModeCredentials("live"))
    redirect_uri: str = DEFAULT_REDIRECT_URI
    token_store_path: Path = field(default_factory=default_token_store_path)
    #: A PostgreSQL DSN (``postgresql://...``): the shared token store, instead of the file.
    token_store_dsn: Secret | None = None
    #: ``STRIPE_OAUTH_NB_STORE_KEY``: key(s) that encrypt stored tokens (``_tokens._crypto``).
    token_store_key: Secret | None = None
    #: A sandbox running in another process (``stripe-oauth-nb sandbox``) to talk to: its
    #: address; :class:`~stripe_oauth_nb._target.Target` reads its keys from it.
    sandbox_url: str | None = None
    #: Whether ``token_store_path`` was configured (else it is the default location).
    token_store_configured: bool = False
    #: ``STRIPE_API_VERSION``: the ``Stripe-Version`` every request names.
    api_version: str = STRIPE_API_VERSION

    def __post_init__(self) -> None:
        # Every way of making settings (load_settings, with_changes, a sandbox, by hand) ends
        # here, so no request can go to a base URL this refuses.
        for name, value, default in (
            ("STRIPE_API_BASE", self.api_base, STRIPE_API_BASE),
            ("STRIPE_MARKETPLACE_BASE", self.marketplace_base, STRIPE_MARKETPLACE_BASE),
        ):
            problem = base_url_problem(value)
            if problem is not None:
                raise ConfigError(
                    f"{name}={shown(value)} {problem}. Use {default}, or the sandbox's "
                    "http://127.0.0.1:PORT (plain http only to this machine)."
                )
        check_api_version(self.api_version)

    def credentials(self, mode: Mode | None = None) -> ModeCredentials:
        """The credentials of ``mode`` (default: the configured mode)."""
        return self.live if (mode or self.mode) == "live" else self.test

    @property
    def is_sandbox(self) -> bool:
        return self.target == "sandbox"

    def describe(self) -> str:
        """One line for people: where the notebook is talking to, and how to switch."""
        if self.is_sandbox:
            return (
                f"Target: the embedded sandbox at {self.api_base} ({self.mode} mode). Nothing "
                "reaches Stripe. To use real Stripe, put STRIPE_OAUTH_NB_TARGET=stripe and your "
                "keys in a .env file (see the README)."
            )
        return f"Target: Stripe at {self.api_base} ({self.mode} mode)."

    def with_changes(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]

    def with_store(
        self, store: str | os.PathLike[str] | None, *, what: str = "--store"
    ) -> Settings:
        """These settings with ``store`` (a command's ``--store``: a file path or a
        ``postgresql://`` DSN) as the token store; unchanged when ``store`` is None.

        The first rule of where tokens are (see :meth:`stripe_oauth_nb._target.Target.open`):
        ``--store``, then ``STRIPE_OAUTH_NB_TOKEN_STORE``, then a running sandbox's token
        folder, then the default folder.
        """
        if store is None:
            return self
        text = os.fspath(store)
        if not text.strip():
            raise ConfigError(
                f"{what} is empty. Give a file path (e.g. ~/.config/stripe-oauth-nb/tokens.json) "
                f"or a postgresql:// DSN, or leave {what} out for STRIPE_OAUTH_NB_TOKEN_STORE."
            )
        location = StoreLocation.read(text, what=what)
        if location.dsn is not None:
            return self.with_changes(token_store_dsn=location.dsn, token_store_configured=True)
        return self.with_changes(
            token_store_path=location.path, token_store_dsn=None, token_store_configured=True
        )

    @property
    def unconfigured(self) -> bool:
        """Nothing says where to talk to: no Stripe keys, no sandbox address (the default)."""
        return (
            self.is_sandbox
            and self.sandbox_url is None
            and not any(c.secret_key for c in (self.test, self.live))
        )


def is_dsn(text: str) -> bool:
    """Whether a token store setting names a PostgreSQL database rather than a file."""
    return text.strip().lower().startswith(("postgresql://", "postgres://"))


@dataclass(frozen=True)
class StoreLocation:
    """Where tokens are kept, read once where the text enters (``STRIPE_OAUTH_NB_TOKEN_STORE``,
    ``--store``, ``store=``, ``tokens migrate --from/--to``): a PostgreSQL database (``dsn``,
    masked) or a file (``path``, ``~`` expanded). Exactly one is set; the value travels on."""

    path: Path | None = None
    dsn: Secret | None = None

    @classmethod
    def read(cls, text: str | os.PathLike[str], *, what: str) -> StoreLocation:
        """``text`` read apart; ``what`` names the setting in a message (an unknown ``~user``,
        an empty path)."""
        text = os.fspath(text)
        if is_dsn(text):
            return cls(dsn=Secret(text))
        from ._fileio import user_path

        return cls(path=user_path(text, what=what))


def _loopback_base(url: str, name: str) -> str:
    """``http://LOOPBACK:PORT``, without a trailing slash; else ConfigError."""
    parts = split_url(url)
    if (
        parts is None
        or parts.scheme != "http"
        or not is_loopback_host(parts.hostname)
        or parts.port is None
        or parts.path.strip("/")
        or parts.query
        or parts.fragment
        or parts.username is not None
    ):
        raise ConfigError(
            f"{name}={shown(url)} is not a sandbox address: use the address "
            "`stripe-oauth-nb sandbox` prints, e.g. http://127.0.0.1:8700."
        )
    return f"http://{parts.netloc}"


def _read(source: Mapping[str, str | None], name: str) -> str | None:
    value = source.get(name)
    if value is None:
        return None
    value = value.strip()
    return value or None


def _find_env_file() -> str:
    """The nearest ``.env`` from the working folder upwards ('' when there is none)."""
    from dotenv import find_dotenv

    try:
        return find_dotenv(usecwd=True)
    except OSError:  # the working folder was deleted, or a parent is unreadable
        return ""


def _read_env_file(path: str) -> dict[str, str | None]:
    """The values of the ``.env`` file at ``path`` ({} when there is none)."""
    from dotenv import dotenv_values

    try:
        text = read_small_text(path, limit=MAX_ENV_FILE)
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        reason = exc if isinstance(exc, ValueError) else f"cannot be read: {exc.strerror or exc}"
        raise ConfigError(
            f"The settings file {path} {reason}. Save it as UTF-8 text with one NAME=value per "
            "line, or move it away to run without it."
        ) from None
    return dict(dotenv_values(stream=io.StringIO(text)))


def load_settings(
    env_file: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Read settings from ``environ`` (default ``os.environ``) over a ``.env`` file.

    ``env_file`` defaults to the nearest ``.env`` from the working folder upwards.
    """
    path = str(env_file) if env_file is not None else _find_env_file()
    file_values = _read_env_file(path) if path else {}
    source: dict[str, str | None] = {**file_values, **(os.environ if environ is None else environ)}

    credentials: dict[Mode, ModeCredentials] = {}
    for mode in MODES:
        key = _read(source, f"STRIPE_SECRET_KEY_{mode.upper()}")
        client_id = _read(source, f"STRIPE_CLIENT_ID_{mode.upper()}")
        if client_id is not None and not client_id.startswith("ca_"):
            raise ConfigError(
                f"STRIPE_CLIENT_ID_{mode.upper()} should start with ca_ (it is the app's OAuth "
                "client id, shown on the app's page in the Dashboard)."
            )
        credentials[mode] = ModeCredentials(mode, Secret(key) if key else None, client_id)

    any_key = any(c.secret_key for c in credentials.values())
    target_raw = _read(source, f"{_ENV_PREFIX}TARGET") or ("stripe" if any_key else "sandbox")
    if target_raw not in ("sandbox", "stripe"):
        raise ConfigError(
            f"{_ENV_PREFIX}TARGET={shown(target_raw)} is not known: use 'sandbox' or 'stripe'."
        )
    mode_raw = _read(source, f"{_ENV_PREFIX}MODE") or "test"
    read = read_mode(mode_raw)
    if read is None:
        raise ConfigError(
            f"{_ENV_PREFIX}MODE={shown(mode_raw)} is not known: use 'test' or 'live'."
        )
    target: TargetKind = "stripe" if target_raw == "stripe" else "sandbox"
    chosen_mode: Mode = read

    store = _read(source, f"{_ENV_PREFIX}TOKEN_STORE")
    store_key = _read(source, f"{_ENV_PREFIX}STORE_KEY")
    sandbox_url = _read(source, f"{_ENV_PREFIX}SANDBOX_URL")
    if sandbox_url is not None:
        if target_raw == "stripe":
            raise ConfigError(
                f"{_ENV_PREFIX}SANDBOX_URL points at a sandbox, but the target is Stripe (keys "
                f"or {_ENV_PREFIX}TARGET=stripe are set). Remove {_ENV_PREFIX}SANDBOX_URL to use "
                f"Stripe, or the keys and {_ENV_PREFIX}TARGET to use the sandbox."
            )
        target = "sandbox"
        sandbox_url = _loopback_base(sandbox_url, f"{_ENV_PREFIX}SANDBOX_URL")
    redirect_uri = _read(source, "STRIPE_REDIRECT_URI") or DEFAULT_REDIRECT_URI
    location = StoreLocation.read(store, what=f"{_ENV_PREFIX}TOKEN_STORE") if store else None
    settings = Settings(
        target=target,
        mode=chosen_mode,
        api_base=(_read(source, "STRIPE_API_BASE") or STRIPE_API_BASE).rstrip("/"),
        marketplace_base=(
            _read(source, "STRIPE_MARKETPLACE_BASE") or STRIPE_MARKETPLACE_BASE
        ).rstrip("/"),
        test=credentials["test"],
        live=credentials["live"],
        redirect_uri=redirect_uri,
        token_store_path=(
            location.path
            if location is not None and location.path is not None
            else default_token_store_path()
        ),
        token_store_dsn=location.dsn if location is not None else None,
        token_store_key=Secret(store_key) if store_key else None,
        sandbox_url=sandbox_url,
        token_store_configured=store is not None,
        api_version=_read(source, "STRIPE_API_VERSION") or STRIPE_API_VERSION,
    )
    if target == "stripe":
        settings.credentials().require_secret_key()
    return settings
