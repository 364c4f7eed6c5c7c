"""Every error the toolkit raises, rooted at one exception.

    StripeOAuthNBError                 root: catch this to catch everything from the toolkit
    ├── ConfigError                    settings or .env are missing, malformed or inconsistent
    │   └── ModeMismatchError          a test key meets a live client id or token, or the reverse
    ├── ManifestError                  stripe-app.json cannot be read or written
    │   └── ManifestSyntaxError        the file is not JSON (carries .line and .column)
    ├── InstallLinkError               an install link cannot be built or parsed
    ├── CallbackError                  the redirect back from Stripe did not deliver a usable code
    │   ├── CallbackPortInUseError     the redirect URI's port is taken by someone else
    │   ├── CallbackStateError         state missing, repeated or different (possible CSRF)
    │   ├── AccessDeniedError          the user pressed Decline (error=access_denied)
    │   ├── CallbackTimeoutError       nothing arrived before the deadline
    │   └── CallbackRequestError       the callback URL is malformed (bad query, duplicates, size)
    ├── TokenError                     exchanging or refreshing tokens failed
    │   ├── CodeAlreadyUsedError       the code was already sent once (or expired): authorize again
    │   │   └── CodeAlreadySentError   refused here, with no request: this code was sent once before
    │   ├── AuthorizeAgainError        the refresh token is gone; a new install link is the only way
    │   │   └── RefreshResponseLostError   a refresh rotated the token but its answer was lost
    │   ├── TokenRateLimitError        the token endpoint answered 429 (carries .retry_after)
    │   ├── TokenStoreError            the store cannot be read or written (carries .tokens)
    │   │   ├── InsecureStoreError     the store is readable by others
    │   │   ├── StoreKeyError          the encryption key is missing, malformed or not the one used
    │   │   └── StoreUnavailableError  the shared (PostgreSQL) store cannot be reached or used
    │   └── TokenLockTimeoutError      another process held the refresh lock too long
    ├── AttemptLogError                the record of install links cannot be read or written
    ├── StripeAPIError                 an API call failed (carries .status, .code, .request_id)
    │   ├── AuthenticationError        401: bad key, or an expired token that could not be refreshed
    │   └── PermissionDeniedError      403: the app lacks a permission (carries .permission)
    ├── NetworkError                   Stripe (or the sandbox) could not be reached in time
    ├── SyncError                      loading Stripe data into SQL tables could not run or finish
    │   ├── SyncConfigError            the sync was asked for something unknown (resource, account)
    │   ├── DestinationError           the database cannot be reached, opened or written
    │   │   └── DiskSpaceError         the sync will not fit, or did not fit, on the disk
    │   ├── SyncLockedError            another sync is loading into the same database
    │   │   └── SyncVersionError       ... and writes another version of the tables
    │   └── QueryError                 a query on the synced tables was refused or failed
    └── SandboxError                   the embedded sandbox refused a control request

Each message says what happened and what to do next. Messages and ``args`` never contain a
whole secret: use :func:`stripe_oauth_nb._masking.mask` when a value must be named.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from ._tokenset import TokenSet


class StripeOAuthNBError(Exception):
    """Root of every error raised by stripe-oauth-nb."""


class ConfigError(StripeOAuthNBError):
    """Settings are missing, malformed or inconsistent."""


class ModeMismatchError(ConfigError):
    """A test-mode value was combined with a live-mode value (or the reverse)."""


class ManifestError(StripeOAuthNBError):
    """stripe-app.json cannot be read or written."""


class ManifestSyntaxError(ManifestError):
    """The manifest is not valid JSON."""

    def __init__(self, message: str, *, line: int, column: int) -> None:
        super().__init__(message)
        self.line = line
        self.column = column


class InstallLinkError(StripeOAuthNBError):
    """An install link cannot be built or parsed."""


class CallbackError(StripeOAuthNBError):
    """The redirect back from Stripe did not deliver a usable authorization code."""


class CallbackPortInUseError(CallbackError):
    """The redirect URI's port is already taken."""


class CallbackStateError(CallbackError):
    """The callback's state is missing, repeated or different from the attempt's."""


class AccessDeniedError(CallbackError):
    """The user declined the install (``error=access_denied``)."""


class CallbackTimeoutError(CallbackError):
    """No callback arrived before the deadline."""


class CallbackRequestError(CallbackError):
    """The callback request or pasted URL is malformed."""


class TokenError(StripeOAuthNBError):
    """Exchanging or refreshing tokens failed."""


class CodeAlreadyUsedError(TokenError):
    """The authorization code was already sent once, or has expired."""


class CodeAlreadySentError(CodeAlreadyUsedError):
    """The attempt log says this code was sent once before (by its own attempt or by another
    attempt that carried the same code): refused here, without a request."""


class AuthorizeAgainError(TokenError):
    """The stored refresh token can no longer be used; authorize the app again."""


class RefreshResponseLostError(AuthorizeAgainError):
    """A refresh was in flight when its answer was lost; the old refresh token is dead."""


class TokenRateLimitError(TokenError):
    """The token endpoint answered 429: nothing was processed. ``retry_after`` in seconds."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class TokenStoreError(TokenError):
    """The token store cannot be read or written safely.

    ``tokens``: the new token set that was received but could not be stored (it stays usable
    in memory; ``TokenManager.save_pending()`` writes it later), else ``None``. It is kept out
    of ``args``, and its repr is masked. ``kept_at``: where the set is also kept on disk for the
    next run to store (the in-flight record, a spool file), else ``None``.
    """

    def __init__(
        self, message: str, *, tokens: TokenSet | None = None, kept_at: str | None = None
    ) -> None:
        super().__init__(message)
        self.tokens = tokens
        self.kept_at = kept_at


class InsecureStoreError(TokenStoreError):
    """The token store's file or folder is readable by other users."""


class StoreKeyError(TokenStoreError):
    """The store key is missing, malformed, or not the key the tokens were sealed with."""


class StoreUnavailableError(TokenStoreError):
    """The shared token store (PostgreSQL) cannot be reached, or refused the request."""


class TokenLockTimeoutError(TokenError):
    """Another process held the refresh lock longer than the bounded wait."""


class AttemptLogError(StripeOAuthNBError):
    """The attempt log (the record of install links built here) cannot be read or written."""


class StripeAPIError(StripeOAuthNBError):
    """A Stripe API call answered with an error.

    ``request_id``: Stripe's ``Request-Id`` of the answer (``req_…``), which Stripe support asks
    for; the message quotes it too.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.request_id = request_id


class AuthenticationError(StripeAPIError):
    """401: the key or token was refused."""


class PermissionDeniedError(StripeAPIError):
    """403: the app lacks a permission for this call."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = 403,
        code: str | None = None,
        permission: str | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message, status=status, code=code, request_id=request_id)
        self.permission = permission


class NetworkError(StripeOAuthNBError):
    """Stripe (or the sandbox) could not be reached in time."""


class SyncError(StripeOAuthNBError):
    """Loading Stripe data into SQL tables could not run or finish (``stripe_oauth_nb.sync``)."""


class SyncConfigError(SyncError):
    """The sync was asked for something it does not know: a resource name, an account."""


class DestinationError(SyncError):
    """The database cannot be reached, opened or written (its password is never shown)."""


class DiskSpaceError(DestinationError):
    """The sync will not fit on the work folder's disk (checked before a full sync), or the disk
    filled up during a run; the message says how many MB to free. Loaded tables are unchanged."""

    def __init__(self, message: str, *, shortfall: int = 0) -> None:
        super().__init__(message)
        #: Bytes to free before running again.
        self.shortfall = shortfall


class SyncLockedError(SyncError):
    """Another sync holds the database; this one refused to start rather than interleave."""


class SyncVersionError(SyncLockedError):
    """Another sync process loading into the same dataset writes another version of the
    tables (another stripe-oauth-nb): this one refused to start rather than mix them."""


class QueryError(SyncError):
    """A query on the synced tables (``conn.sql``, ``stripe-oauth-nb sql``) was refused (it
    writes, names an unknown table) or failed (DuckDB's message, one line)."""


class SandboxError(StripeOAuthNBError):
    """The embedded sandbox refused a control request."""


# Tracebacks and reprs name the public home: ``stripe_oauth_nb.errors.ConfigError``.
for _error in [v for v in list(globals().values()) if isinstance(v, type)]:
    if issubclass(_error, StripeOAuthNBError):
        _error.__module__ = "stripe_oauth_nb.errors"
del _error

# -- the one "install the extra" message ------------------------------------------------------

#: The extra of ``pip install 'stripe-oauth-nb[EXTRA]'`` that brings each optional package.
EXTRA_FOR: dict[str, str] = {
    "starlette": "server",
    "uvicorn": "server",
    "itsdangerous": "server",
    "ipywidgets": "lab",
    "pandas": "data",
    "stripe": "data",
    "keyring": "keyring",
    "psycopg": "postgres",
    "dlt": "sql",
    "duckdb": "sql",
    "pyarrow": "sql",
    "orjson": "sql",
    "psycopg2": "sql-postgres",
}


def needs_extra(
    what: str, packages: str | list[str], *, extra: str | None = None, otherwise: str = ""
) -> str:
    """The one message for a missing optional package: what needs it, and the install line.

    ``extra`` defaults to :data:`EXTRA_FOR` of the first package; ``otherwise`` follows the
    install line (", or use the default file store").
    """
    names = [packages] if isinstance(packages, str) else list(packages)
    chosen = extra or EXTRA_FOR.get(names[0].split(".")[0], "all")
    verb = "is" if len(names) == 1 else "are"
    return (
        f"{what} needs {', '.join(names)}, which {verb} not installed: "
        f"pip install 'stripe-oauth-nb[{chosen}]'{otherwise}."
    )
