"""Injected faults and request statistics: what the sandbox counts and spoils per request.

Split from the state because it is its own job, with its own controls (``/_sandbox/faults``,
``/_sandbox/stats``): every request passes :meth:`Traffic.begin_request` (counted, and the first
fault that applies taken), and nothing else in the sandbox reads these counters. It holds the
state's one lock, so a fault is used exactly ``times`` times however many threads race.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, replace
from typing import Any, Final, Literal

from .._errors import SandboxError
from ._sublists import SUBLISTS
from ._world import RESOURCES

__all__ = [
    "FAULT_ENDPOINTS",
    "FAULT_KINDS",
    "GRANT_TYPES",
    "Fault",
    "FaultEndpoint",
    "FaultKind",
    "Traffic",
]

#: ``token``, ``account``, ``authorize``, a resource (``customers``, ``charges``...) or ``*``.
FaultEndpoint = str
FaultKind = Literal["delay", "error", "rate_limit", "drop"]
#: Endpoints a ``"*"`` fault applies to (the API; not the consent page).
_EXTRA_ENDPOINTS: Final = (*(spec.name for spec in SUBLISTS), "balance")
_STAR_ENDPOINTS: Final = frozenset({"token", "account", *RESOURCES, *_EXTRA_ENDPOINTS})
FAULT_ENDPOINTS: Final = ("token", "account", *RESOURCES, *_EXTRA_ENDPOINTS, "authorize", "*")
FAULT_KINDS: Final = ("delay", "error", "rate_limit", "drop")
GRANT_TYPES: Final = ("authorization_code", "refresh_token")


@dataclass(frozen=True)
class Fault:
    """A misbehaviour for the next ``times`` requests to ``endpoint``."""

    endpoint: FaultEndpoint
    kind: FaultKind
    times: int = 1
    status: int = 500
    seconds: float = 0.0
    retry_after: int = 1

    def to_json(self) -> dict[str, Any]:
        return {
            "endpoint": self.endpoint,
            "kind": self.kind,
            "times": self.times,
            "status": self.status,
            "seconds": self.seconds,
            "retry_after": self.retry_after,
        }


class Traffic:
    """The queued faults and the counters of requests, token requests and tokens issued."""

    def __init__(self, lock: threading.RLock) -> None:
        self._lock = lock
        self.reset()

    def reset(self) -> None:
        self._faults: list[Fault] = []
        self._requests: Counter[str] = Counter()
        self._grant_requests: Counter[str] = Counter()
        self._issued: Counter[str] = Counter()

    def add_fault(self, fault: Fault) -> None:
        """Queue a fault; checked in order, each used for ``times`` requests."""
        if fault.endpoint not in FAULT_ENDPOINTS:
            raise SandboxError(
                f"Unknown fault endpoint {fault.endpoint!r}: use one of {FAULT_ENDPOINTS}."
            )
        if fault.kind not in FAULT_KINDS:
            raise SandboxError(f"Unknown fault kind {fault.kind!r}: use one of {FAULT_KINDS}.")
        if not isinstance(fault.times, int) or fault.times < 1:
            raise SandboxError("A fault needs times >= 1.")
        if fault.kind == "error" and not (
            isinstance(fault.status, int) and 500 <= fault.status <= 599
        ):
            raise SandboxError(f"An error fault needs a 5xx status, not {fault.status!r}.")
        if not (isinstance(fault.seconds, int | float) and 0 <= fault.seconds <= 60):
            raise SandboxError("A delay must be between 0 and 60 seconds.")
        if not (isinstance(fault.retry_after, int) and 0 <= fault.retry_after <= 3600):
            raise SandboxError("retry_after must be a whole number of seconds, 0 to 3600.")
        with self._lock:
            self._faults.append(fault)

    def faults(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def begin_request(self, endpoint: str) -> Fault | None:
        """Count a request to ``endpoint`` and take the first fault that applies to it."""
        with self._lock:
            self._requests[endpoint] += 1
            for i, fault in enumerate(self._faults):
                if fault.endpoint == endpoint or (
                    fault.endpoint == "*" and endpoint in _STAR_ENDPOINTS
                ):
                    if fault.times > 1:
                        self._faults[i] = replace(fault, times=fault.times - 1)
                    else:
                        del self._faults[i]
                    return fault
            return None

    def count_grant(self, grant_type: str) -> None:
        with self._lock:
            self._grant_requests[grant_type if grant_type in GRANT_TYPES else "other"] += 1

    def count_issued(self, grant_type: str) -> None:
        """A token pair was issued for a ``grant_type`` request (called under the lock)."""
        self._issued[grant_type] += 1

    def stats(self) -> dict[str, Any]:
        """Requests by endpoint, token requests by grant type, and tokens actually issued."""
        with self._lock:
            return {
                "requests": dict(self._requests),
                "grants": {g: 0 for g in GRANT_TYPES} | dict(self._grant_requests),
                "issued": {g: 0 for g in GRANT_TYPES} | dict(self._issued),
            }
