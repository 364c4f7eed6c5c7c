"""Calling Stripe's API with the app's access token: auth, retries, pagination, validation.

``ApiClient`` sends calls with a :class:`TokenAuth` (refreshes the token before it expires and
once on a 401 ``api_key_expired``) over one keep-alive connection with one retry policy (bounded,
idempotent, honours ``Stripe-Should-Retry``); ``list_all``/``to_dataframe`` read whole lists;
``validate`` checks a token.
"""

from __future__ import annotations

from ._auth import TokenAuth, TokenSource, is_expired_key_response
from ._client import ApiClient, error_from_response
from ._pagination import PAGE_LIMIT, PageProgress, list_all, to_dataframe
from ._retry import RetryPolicy, RetryTransport
from ._validate import CheckResult, ValidationReport, validate

__all__ = [
    "PAGE_LIMIT",
    "ApiClient",
    "CheckResult",
    "PageProgress",
    "RetryPolicy",
    "RetryTransport",
    "TokenAuth",
    "TokenSource",
    "ValidationReport",
    "error_from_response",
    "is_expired_key_response",
    "list_all",
    "to_dataframe",
    "validate",
]
