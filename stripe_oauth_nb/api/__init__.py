"""Step 5: call Stripe's API with the access token, check it works, read whole lists.

    from stripe_oauth_nb.api import ApiClient, validate

:class:`ApiClient` refreshes its token itself and retries as Stripe asks; :func:`validate` makes
the sample calls and says what works; :func:`list_all` and :func:`to_dataframe` read every page.

The private modules, one concern each: ``_auth`` (:class:`TokenAuth`: refreshes the token before
it expires and once on a 401 ``api_key_expired``), ``_retry`` (one bounded retry policy,
idempotent, honours ``Stripe-Should-Retry``), ``_client`` (one keep-alive connection),
``_pagination``, ``_validate``, ``_table``, and ``_stripe_client`` (the official ``stripe``
library's HTTP client, sending a fresh token with every request).
"""

from __future__ import annotations

from ._auth import TokenAuth
from ._auth import TokenSource as TokenSource
from ._auth import is_expired_key_response as is_expired_key_response
from ._client import ApiClient
from ._client import error_from_response as error_from_response
from ._pagination import PAGE_LIMIT as PAGE_LIMIT
from ._pagination import PageProgress as PageProgress
from ._pagination import list_all, to_dataframe
from ._retry import RetryPolicy
from ._retry import RetryTransport as RetryTransport
from ._validate import CheckResult as CheckResult
from ._validate import ValidationReport, validate

__all__ = [
    "ApiClient",
    "RetryPolicy",
    "TokenAuth",
    "ValidationReport",
    "list_all",
    "to_dataframe",
    "validate",
]


def __dir__() -> list[str]:
    return sorted(__all__)
