"""What a Stripe account id is: ``acct_`` and then letters and digits (``acct_1Nv0FGQ9RKHgCVdK``).

The one rule, asked where an id is typed in: a command's ``--account``/``--forget``, and the
``accounts=`` of :func:`~stripe_oauth_nb.sync.sync` and :func:`~stripe_oauth_nb.sync.forget`.
An id that is not one is refused there, with what to give instead, before a database is opened
or a token store read (an id names the account's dlt pipeline and lock, so it must be plain).
Ids in token answers are Stripe's own and are kept as they come: refusing an answer would lose
the rotated refresh token it carries.
"""

from __future__ import annotations

import re
from typing import Final

from ._masking import mask_text

__all__ = ["account_id_problem"]

_ACCOUNT_ID: Final = re.compile(r"acct_[A-Za-z0-9]{1,64}")


def account_id_problem(value: object) -> str | None:
    """None for an account id; otherwise one sentence saying why not and what to give."""
    if isinstance(value, str) and _ACCOUNT_ID.fullmatch(value):
        return None
    shown = mask_text(value) if isinstance(value, str) else type(value).__name__
    return (
        f"{shown!r} is not an account id (acct_ and then letters and digits, e.g. "
        "acct_1Nv0FGQ9RKHgCVdK): give one shown by `stripe-oauth-nb tokens list`."
    )
