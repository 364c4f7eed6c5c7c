"""Step 5: call Stripe's API with the access token, check it works, read whole lists.

    from stripe_oauth_nb.api import ApiClient, validate

:class:`ApiClient` refreshes its token itself and retries as Stripe asks; :func:`validate` makes
the sample calls and says what works; :func:`list_all` and :func:`to_dataframe` read every page.
"""

from __future__ import annotations

from ._api import (
    ApiClient,
    RetryPolicy,
    TokenAuth,
    ValidationReport,
    list_all,
    to_dataframe,
    validate,
)

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
