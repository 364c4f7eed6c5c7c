"""Stripe's rules as the sandbox states them, independently of the client's own constants.

The client (``_tokenset``, ``_settings``) has its own idea of token lifetimes and modes; the
sandbox must not borrow it, or a wrong client constant could never be caught by a test against
the sandbox. Every number here comes from Stripe's public documentation (the facts are listed in
``docs/SANDBOX.md``).
"""

from __future__ import annotations

import re
from typing import Final, Literal

__all__ = [
    "ACCESS_TOKEN_LIFETIME",
    "CODE_LIFETIME",
    "DEFAULT_CUSTOMERS",
    "ENDPOINT_RATE",
    "EVENT_RETENTION",
    "GLOBAL_RATE",
    "LIST_LIMIT_DEFAULT",
    "LIST_LIMIT_MAX",
    "MAX_EXPAND_DEPTH",
    "MODES",
    "REDIRECT_URI_PATTERN",
    "REFRESH_TOKEN_LIFETIME",
    "Mode",
    "is_redirect_uri",
]

#: Not Stripe's: the sandbox's own size when none is given, the one default of every door that
#: starts one (``Sandbox()``, ``Target.open()`` and so ``connect()``, ``stripe-oauth-nb sandbox``
#: and ``serve``): customers of the default installing account (``tests/test_doors.py``).
DEFAULT_CUSTOMERS: Final = 250

Mode = Literal["test", "live"]
#: Test mode and live mode: separate keys, separate client ids, separate data.
MODES: Final[tuple[Mode, Mode]] = ("test", "live")

#: Authorization codes are single-use and valid for five minutes.
CODE_LIFETIME: Final = 300.0
#: Access tokens (``rk_…``) live one hour.
ACCESS_TOKEN_LIFETIME: Final = 3600.0
#: Refresh tokens (``rt_…``) live one year and rotate on every use.
REFRESH_TOKEN_LIFETIME: Final = 365 * 86_400.0

#: Requests per second per account: live mode 100, test mode 25.
GLOBAL_RATE: Final[dict[Mode, float]] = {"live": 100.0, "test": 25.0}
#: Requests per second per endpoint (they count against the global limit too).
ENDPOINT_RATE: Final = 25.0

#: ``limit`` on list endpoints: 1 to 100, 10 when absent.
LIST_LIMIT_DEFAULT: Final = 10
LIST_LIMIT_MAX: Final = 100
#: ``expand[]`` reaches at most four levels deep.
MAX_EXPAND_DEPTH: Final = 4
#: ``/v1/events`` lists (and retrieves) only the last 30 days of events.
EVENT_RETENTION: Final = 30 * 86_400

#: An app upload accepts an ``allowed_redirect_uris`` item only when it matches this pattern
#: (Stripe's manifest schema: an http(s) URL with a path).
REDIRECT_URI_PATTERN: Final = re.compile(r"^https?://.*/.+")


def is_redirect_uri(uri: object) -> bool:
    """True when an upload accepts ``uri`` as an ``allowed_redirect_uris`` item."""
    return isinstance(uri, str) and REDIRECT_URI_PATTERN.match(uri) is not None
