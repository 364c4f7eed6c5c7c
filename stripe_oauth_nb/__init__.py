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
    # the flow that strings the steps together
    "Flow": "._flow",
    # step 1: manifest
    "Finding": ".manifest",
    "Manifest": ".manifest",
    "check_file": ".manifest",
    # steps 2 and 3: install link and callback
    "Attempt": "._attempts",
    "AttemptLog": "._attempts",
    "AuthorizationCode": "._attempts",
    "CallbackServer": "._callback",
    "InstallLink": "._install_link",
    "build_install_link": "._install_link",
    "code_from_pasted_url": "._callback",
    "detect_remote": "._callback",
    "install_link_from_settings": "._install_link",
    # step 4: tokens
    "FileTokenStore": "._tokens",
    "KeyringTokenStore": "._tokens",
    "MemoryTokenStore": "._tokens",
    "TokenClient": "._tokens",
    "TokenManager": "._tokens",
    "TokenSet": "._tokenset",
    # step 5: API calls and data
    "ApiClient": "._api",
    "RetryPolicy": "._api",
    "TokenAuth": "._api",
    "ValidationReport": "._api",
    "list_all": "._api",
    "to_dataframe": "._api",
    "validate": "._api",
}

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:  # pragma: no cover
    from ._api import (
        ApiClient,
        RetryPolicy,
        TokenAuth,
        ValidationReport,
        list_all,
        to_dataframe,
        validate,
    )
    from ._attempts import Attempt, AttemptLog, AuthorizationCode
    from ._callback import CallbackServer, code_from_pasted_url, detect_remote
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
    from ._flow import Flow
    from ._install_link import InstallLink, build_install_link, install_link_from_settings
    from ._masking import Secret, mask
    from ._settings import Settings, load_settings
    from ._tokens import (
        FileTokenStore,
        KeyringTokenStore,
        MemoryTokenStore,
        TokenClient,
        TokenManager,
    )
    from ._tokenset import TokenSet
    from .manifest import Finding, Manifest, check_file


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'stripe_oauth_nb' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
