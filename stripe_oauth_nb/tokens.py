"""Step 4: exchange a code once, keep token sets, refresh them single-flight.

    from stripe_oauth_nb.tokens import TokenManager, FileTokenStore

:class:`TokenManager` is what everything else uses; the stores keep :class:`TokenSet` s keyed by
(account, mode).
"""

from __future__ import annotations

from ._tokens import (
    FileTokenStore,
    KeyringTokenStore,
    MemoryTokenStore,
    TokenClient,
    TokenManager,
    TokenStore,
    open_attempt_log,
)
from ._tokenset import TokenSet

__all__ = [
    "FileTokenStore",
    "KeyringTokenStore",
    "MemoryTokenStore",
    "TokenClient",
    "TokenManager",
    "TokenSet",
    "TokenStore",
    "open_attempt_log",
]


def __dir__() -> list[str]:
    return sorted(__all__)
