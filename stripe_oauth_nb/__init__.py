"""stripe-oauth-nb: from a Stripe account to a self-refreshing Stripe Apps OAuth token.

The core (settings, manifest, install link, callback, tokens, API) is plain Python; the forms in
``stripe_oauth_nb.widgets`` sit on top of it. Names are imported on first use, so
``import stripe_oauth_nb`` stays light (no HTTP client, server or widget library is loaded).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> private module that defines it
_EXPORTS: dict[str, str] = {
    # errors
    "AccessDeniedError": "._errors",
    "AuthenticationError": "._errors",
    "AuthorizeAgainError": "._errors",
    "CallbackError": "._errors",
    "CallbackPortInUseError": "._errors",
    "CallbackRequestError": "._errors",
    "CallbackStateError": "._errors",
    "CallbackTimeoutError": "._errors",
    "CodeAlreadyUsedError": "._errors",
    "ConfigError": "._errors",
    "InsecureStoreError": "._errors",
    "InstallLinkError": "._errors",
    "ManifestError": "._errors",
    "ManifestSyntaxError": "._errors",
    "ModeMismatchError": "._errors",
    "NetworkError": "._errors",
    "PermissionDeniedError": "._errors",
    "RefreshResponseLostError": "._errors",
    "SandboxError": "._errors",
    "StripeAPIError": "._errors",
    "StripeOAuthNBError": "._errors",
    "TokenError": "._errors",
    "TokenLockTimeoutError": "._errors",
    "TokenStoreError": "._errors",
    # secrets
    "Secret": "._masking",
    "mask": "._masking",
    # settings
    "Settings": "._settings",
    "load_settings": "._settings",
    # attempts and tokens
    "Attempt": "._attempts",
    "AttemptLog": "._attempts",
    "AuthorizationCode": "._attempts",
    "TokenSet": "._tokenset",
}

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:  # pragma: no cover
    from ._attempts import Attempt, AttemptLog, AuthorizationCode
    from ._errors import (
        AccessDeniedError,
        AuthenticationError,
        AuthorizeAgainError,
        CallbackError,
        CallbackPortInUseError,
        CallbackRequestError,
        CallbackStateError,
        CallbackTimeoutError,
        CodeAlreadyUsedError,
        ConfigError,
        InsecureStoreError,
        InstallLinkError,
        ManifestError,
        ManifestSyntaxError,
        ModeMismatchError,
        NetworkError,
        PermissionDeniedError,
        RefreshResponseLostError,
        SandboxError,
        StripeAPIError,
        StripeOAuthNBError,
        TokenError,
        TokenLockTimeoutError,
        TokenStoreError,
    )
    from ._masking import Secret, mask
    from ._settings import Settings, load_settings
    from ._tokenset import TokenSet


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'stripe_oauth_nb' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
