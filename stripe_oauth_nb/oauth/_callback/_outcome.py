"""How each way a callback can end is shown: one table for the server's page and the form.

A callback ends with a code or a :class:`~stripe_oauth_nb._errors.CallbackError`; the server
answers the browser with an HTTP status and a page title, tells listeners an event kind, and the
notebook form colours its status by that kind. :func:`outcome_of` is the one mapping.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from ..._errors import (
    AccessDeniedError,
    CallbackError,
    CallbackRequestError,
    CallbackStateError,
    CallbackTimeoutError,
)

__all__ = ["EventKind", "Outcome", "outcome_of"]

EventKind = Literal["waiting", "rejected", "received", "refused", "expired", "error", "stopped"]


@dataclass(frozen=True)
class Outcome:
    """What a result looks like: the listeners' event kind, the page's status and title."""

    kind: EventKind
    status: int
    title: str
    #: True when it ends the wait (a refused stray request does not).
    final: bool = True


RECEIVED: Final = Outcome("received", 200, "Authorization received")

#: Most specific first; the first row whose type matches the error wins.
_TABLE: Final[tuple[tuple[type[BaseException], Outcome], ...]] = (
    (CallbackStateError, Outcome("rejected", 400, "Request refused", final=False)),
    (CallbackRequestError, Outcome("rejected", 400, "Request refused", final=False)),
    (AccessDeniedError, Outcome("refused", 200, "Install declined")),
    (CallbackTimeoutError, Outcome("expired", 408, "Time is up")),
    (CallbackError, Outcome("error", 200, "Stripe reported an error")),
)
_OTHER: Final = Outcome("error", 500, "Something went wrong")


def outcome_of(error: BaseException | None) -> Outcome:
    """How the code (``None``) or ``error`` is shown."""
    if error is None:
        return RECEIVED
    for kind, outcome in _TABLE:
        if isinstance(error, kind):
            return outcome
    return _OTHER
