"""Codes already sent, by fingerprint: a code seen twice is refused without a token request.

The attempt log already sends the code of one *attempt* at most once. A public callback can also
be handed an old code with a fresh, valid state (a replayed redirect spliced into a new install);
Stripe would refuse it, and for Connect a reused code revokes every token it gave. This ledger
remembers the SHA-256 of every code sent for :data:`KEEP` seconds (Stripe's codes live five
minutes), beside the attempt log, under the same kind of file lock, so every process that shares
the attempt log shares it too. Only fingerprints are written: no code can be read back.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Final

from .._attempts import AttemptLog
from .._fileio import DamagedFile, atomic_write_text, hold_lock, read_section
from .._masking import Secret

__all__ = ["KEEP", "UsedCodes"]

#: How long a fingerprint is kept (seconds): twice a code's lifetime.
KEEP: Final = 600.0
_LOCK_TIMEOUT: Final = 10.0


class UsedCodes:
    """Fingerprints of codes sent, in memory or in a private JSON file (``path``)."""

    def __init__(self, path: Path | None = None, *, clock: Callable[[], float] = time.time):
        self.path = path
        self._clock = clock
        self._lock = threading.Lock()
        self._memory: dict[str, float] = {}

    @classmethod
    def beside(cls, attempts: AttemptLog) -> UsedCodes:
        """The ledger shared by everyone who shares ``attempts``: ``used-codes.json`` beside a
        file log. For a log kept elsewhere (the PostgreSQL store's table) it is per process;
        the per-state guarantee between hosts is then the attempt log's own."""
        if attempts.path is None:
            return cls()
        return cls(attempts.path.with_name("used-codes.json"))

    def _load(self) -> dict[str, float]:
        if self.path is None:
            return dict(self._memory)
        try:
            codes = read_section(self.path, "codes")
            return {str(k): float(v) for k, v in codes.items()}
        except (DamagedFile, TypeError, ValueError):
            return {}  # a damaged ledger only forgets fingerprints; the attempt log still guards

    def _save(self, codes: dict[str, float]) -> None:
        if self.path is None:
            self._memory = codes
            return
        atomic_write_text(self.path, json.dumps({"codes": codes}) + "\n")

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with self._lock:
            if self.path is None:
                yield
                return
            with hold_lock(Path(str(self.path) + ".lock"), _LOCK_TIMEOUT):
                yield

    def claim(self, code: Secret) -> bool:
        """Record ``code`` as sent; False (and nothing written) when it already was."""
        digest = hashlib.sha256(code.reveal().encode()).hexdigest()
        with self._locked():
            now = self._clock()
            codes = {k: t for k, t in self._load().items() if t > now - KEEP}
            if digest in codes:
                return False
            codes[digest] = now
            self._save(codes)
        return True
