"""The worlds: one per installing account and mode, built on first use, played up to date.

Split from the state because building and playing worlds is the sandbox's heavy job, with its
own concurrency rule (a build runs outside the lock, concurrent readers wait for the one build)
and its own clock use (the business is played up to the sandbox clock, ``simulate`` moves both).
"""

from __future__ import annotations

import threading
from typing import Any

from .._errors import SandboxError
from ._accounts import Directory
from ._business import DAY, Business
from ._clock import SandboxClock
from ._rules import MODES, Mode
from ._world import Account, World, WorldSpec

__all__ = ["Worlds"]


class Worlds:
    """Every world the sandbox has built, behind the state's one lock; the accounts they belong
    to (and the seeded stream the default account's test-mode customers continue) from
    ``directory``."""

    def __init__(
        self, lock: threading.RLock, clock: SandboxClock, directory: Directory, *, seed: int
    ) -> None:
        self._lock = lock
        self._clock = clock
        self._directory = directory
        self._seed = seed
        self._worlds: dict[tuple[str, Mode], tuple[World, Business]] = {}
        self._building: dict[tuple[str, Mode], threading.Event] = {}
        self._business_until = clock.start

    def reset(self) -> None:
        """Forget every world and simulated day (called under the lock)."""
        self._business_until = self._clock.start
        self._worlds.clear()

    def world(self, account: Account, mode: Mode) -> World:
        """The data of ``account`` in ``mode``, built on first use and played up to date.

        The build (a second or more for many customers) runs outside the lock, so the consent
        page and the token endpoint keep answering meanwhile; concurrent callers wait for the
        one build. Do not call it while holding the lock.
        """
        key = (account.id, mode)
        while True:
            with self._lock:
                entry = self._worlds.get(key)
                if entry is not None:
                    world, business = entry
                    if business.until < self._business_until:
                        business.run_until(self._business_until)
                    return world
                pending = self._building.get(key)
                owner = pending is None
                if pending is None:
                    pending = self._building[key] = threading.Event()
                spec = WorldSpec(
                    account_id=account.id,
                    account_name=account.name,
                    mode=mode,
                    customers=account.customers,
                    seed=self._seed,
                    start=self._clock.start,
                    customer_rng_state=(
                        self._directory.customer_streams.get(account.id) if mode == "test" else None
                    ),
                    long_lists=account.long_lists,
                )
            if not owner:
                pending.wait()
                continue
            try:
                world = World(spec)
                business = Business(world)
                business.build()
                with self._lock:
                    self._worlds.setdefault(key, (world, business))
            finally:
                with self._lock:
                    self._building.pop(key, None)
                pending.set()

    def simulate(self, days: int) -> dict[str, Any]:
        """Move the clock ``days`` forward and play the business up to then, in every world
        (worlds not read yet catch up when first read, with the same result)."""
        if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 366:
            raise SandboxError(f"days must be a whole number from 1 to 366, not {days!r}.")
        with self._lock:
            self._clock.offset += days * DAY
            self._business_until = int(self._clock.now())
            for _world, business in self._worlds.values():
                business.run_until(self._business_until)
            return {"now": self._clock.now(), "days": days}

    def counts(self, account_id: str | None, mode: Mode) -> dict[str, int]:
        """Objects per resource in one world (see :meth:`World.counts`)."""
        if mode not in MODES:
            raise SandboxError(f"mode must be 'test' or 'live', not {mode!r}.")
        world = self.world(self._directory.account(account_id), mode)
        with self._lock:
            return world.counts(int(self._clock.now()))
