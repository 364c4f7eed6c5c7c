"""Every error the toolkit raises, rooted at :class:`StripeOAuthNBError`.

Catch ``StripeOAuthNBError`` to catch everything from the toolkit; the tree, and when each error
is raised, is drawn in the docstring of :mod:`stripe_oauth_nb._errors`, where they are defined::

    from stripe_oauth_nb.errors import AuthorizeAgainError, StripeOAuthNBError
"""

from __future__ import annotations

from ._errors import (
    AccessDeniedError,
    AttemptLogError,
    AuthenticationError,
    AuthorizeAgainError,
    CallbackError,
    CallbackPortInUseError,
    CallbackRequestError,
    CallbackStateError,
    CallbackTimeoutError,
    CodeAlreadySentError,
    CodeAlreadyUsedError,
    ConfigError,
    DestinationError,
    DiskSpaceError,
    InsecureStoreError,
    InstallLinkError,
    ManifestError,
    ManifestSyntaxError,
    ModeMismatchError,
    NetworkError,
    PermissionDeniedError,
    QueryError,
    RefreshResponseLostError,
    SandboxError,
    StoreKeyError,
    StoreUnavailableError,
    StripeAPIError,
    StripeOAuthNBError,
    SyncConfigError,
    SyncError,
    SyncLockedError,
    SyncVersionError,
    TokenError,
    TokenLockTimeoutError,
    TokenRateLimitError,
    TokenStoreError,
)

__all__ = [
    "AccessDeniedError",
    "AttemptLogError",
    "AuthenticationError",
    "AuthorizeAgainError",
    "CallbackError",
    "CallbackPortInUseError",
    "CallbackRequestError",
    "CallbackStateError",
    "CallbackTimeoutError",
    "CodeAlreadySentError",
    "CodeAlreadyUsedError",
    "ConfigError",
    "DestinationError",
    "DiskSpaceError",
    "InsecureStoreError",
    "InstallLinkError",
    "ManifestError",
    "ManifestSyntaxError",
    "ModeMismatchError",
    "NetworkError",
    "PermissionDeniedError",
    "QueryError",
    "RefreshResponseLostError",
    "SandboxError",
    "StoreKeyError",
    "StoreUnavailableError",
    "StripeAPIError",
    "StripeOAuthNBError",
    "SyncConfigError",
    "SyncError",
    "SyncLockedError",
    "SyncVersionError",
    "TokenError",
    "TokenLockTimeoutError",
    "TokenRateLimitError",
    "TokenStoreError",
]


def __dir__() -> list[str]:
    return sorted(__all__)
