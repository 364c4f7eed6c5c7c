"""The sandbox's world and Stripe's rules, without HTTP: :class:`SandboxState`, one face over
the jobs it is made of, each in its own module and all behind one lock:

- ``_accounts`` (:class:`Directory`): the developer, the installing accounts, the registered
  apps and the consent page's check of an install link;
- ``_grants`` (:class:`Grants`): codes, grants and tokens, Stripe's token-endpoint rules, and
  who an API key speaks for;
- ``_worlds`` (:class:`Worlds`): each account's data per mode, built on first use and played up
  to the clock;
- ``_clock`` (:class:`SandboxClock`): frozen or wall time, plus every move forward;
- ``_faults`` (:class:`Traffic`): injected faults and request statistics;
- ``_limits`` (:class:`RateLimiter`): Stripe's rate limits.

Every public method takes the one lock, so the HTTP handlers (in the server thread) and
in-process calls (any thread) see consistent state; a refresh token can therefore be rotated
exactly once, however many threads race for it.

Rule outcomes a client must see are raised as :class:`OAuthFailure` (the token endpoint's
``{"error": ..., "error_description": ...}`` with 400) or :class:`APIFailure` (Stripe's
``{"error": {...}}`` shape with its status); bad control input raises
:class:`~stripe_oauth_nb._errors.SandboxError`.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping
from typing import Any

from .._app_record import RegisteredApp
from .._errors import SandboxError
from ._accounts import DEFAULT_REDIRECT_URIS, Authorization, Developer, Directory
from ._clock import SandboxClock
from ._faults import Fault, Traffic
from ._grants import Grants, Principal
from ._limits import RateLimiter, Refusal
from ._rules import DEFAULT_CUSTOMERS, Mode
from ._world import Account, LongLists, World
from ._worlds import Worlds

__all__ = ["SandboxState"]


class SandboxState:
    """Everything the sandbox knows, behind one lock.

    ``start``: the moment the seeded history ends (Unix seconds). Given, the clock is frozen
    there (only :meth:`advance_clock` and :meth:`simulate` move it), so the same seed and start
    give the same data and the same timestamps; None: the current time, and a running clock.
    """

    def __init__(
        self,
        *,
        customers: int = DEFAULT_CUSTOMERS,
        seed: int = 0,
        redirect_uris: tuple[str, ...] = DEFAULT_REDIRECT_URIS,
        start: float | None = None,
        rate_limit: bool = True,
        latency: float = 0.0,
        long_lists: LongLists | None = None,
    ) -> None:
        if not isinstance(customers, int) or customers < 0:
            raise SandboxError(f"customers must be a whole number, 0 or more, not {customers!r}.")
        if not isinstance(latency, int | float) or not 0 <= latency <= 60:
            raise SandboxError(f"latency must be 0 to 60 seconds, not {latency!r}.")
        if start is not None and not (isinstance(start, int | float) and math.isfinite(start)):
            raise SandboxError(f"start must be a Unix time in seconds, not {start!r}.")
        self._lock = threading.RLock()
        self.clock = SandboxClock(self._lock, start)
        self.start = self.clock.start
        self.seed = seed
        self.latency = float(latency)
        self.limiter = RateLimiter(enabled=rate_limit)
        self.directory = Directory(
            self._lock,
            start=self.start,
            seed=seed,
            customers=customers,
            redirect_uris=redirect_uris,
            long_lists=long_lists,
        )
        self.traffic = Traffic(self._lock)
        self.grants = Grants(self._lock, self.clock, self.directory, self.traffic)
        self.worlds = Worlds(self._lock, self.clock, self.directory, seed=seed)

    @property
    def lock(self) -> threading.RLock:
        """The one lock (re-entrant): hold it while reading a world's rows."""
        return self._lock

    # --- who: the developer, accounts, apps (``_accounts``) ---------------------------------

    @property
    def developer(self) -> Developer:
        return self.directory.developer

    @property
    def accounts(self) -> dict[str, Account]:
        return self.directory.accounts

    @property
    def publishable_keys(self) -> dict[tuple[str, Mode], str]:
        return self.directory.publishable_keys

    @property
    def default_account_id(self) -> str:
        return self.directory.default_account_id

    @property
    def demo_app(self) -> RegisteredApp:
        return self.directory.demo_app

    def add_account(
        self, name: str, *, customers: int = 0, long_lists: LongLists | None = None
    ) -> str:
        """Create an installing account (its data is made when first read); its ``acct_`` id.
        ``long_lists``: customers with more subscription items or invoice lines than Stripe
        embeds, on top of ``customers``."""
        return self.directory.add_account(name, customers=customers, long_lists=long_lists)

    def installing_accounts(self) -> list[tuple[str, str]]:
        """``(id, name)`` of every installing account, the default first."""
        return self.directory.installing_accounts()

    def account(self, account_id: str | None) -> Account:
        """An installing account, or the developer's own; the default when None."""
        return self.directory.account(account_id)

    def register_app(self, manifest: Mapping[str, Any]) -> RegisteredApp:
        """Register (or re-register, keeping its client ids) an app from a manifest dict."""
        return self.directory.register_app(manifest)

    def apps(self) -> list[RegisteredApp]:
        return self.directory.apps()

    def check_authorize(self, client_id: str | None, redirect_uri: str | None) -> Authorization:
        """Validate an authorize request, as on the GET and again on the POST."""
        return self.directory.check_authorize(client_id, redirect_uri)

    def developer_key_mode(self, key: str | None) -> Mode:
        """The mode of the developer's secret ``key``; 401 unless it is one of them."""
        return self.directory.developer_key_mode(key)

    # --- worlds and clock (``_worlds``, ``_clock``) -----------------------------------------

    def world(self, account: Account, mode: Mode) -> World:
        """The data of ``account`` in ``mode``, built on first use and played up to date (do
        not call it while holding :attr:`lock`)."""
        return self.worlds.world(account, mode)

    def prepare(self) -> None:
        """Build the default account's test-mode data now (the first request then is fast)."""
        self.world(self.account(None), "test")

    def simulate(self, days: int) -> dict[str, Any]:
        """Move the clock ``days`` forward and play the business up to then, in every world."""
        return self.worlds.simulate(days)

    def counts(self, account_id: str | None = None, mode: Mode = "test") -> dict[str, int]:
        """Objects per resource in one world (see :meth:`World.counts`)."""
        return self.worlds.counts(account_id, mode)

    def now(self) -> float:
        """The sandbox clock: the start (frozen) or wall time, plus every move forward."""
        return self.clock.now()

    def advance_clock(self, seconds: float) -> float:
        """Move the sandbox clock forward; return the new time."""
        return self.clock.advance(seconds)

    # --- codes and tokens (``_grants``) -----------------------------------------------------

    def issue_code(self, authorization: Authorization, account_id: str | None = None) -> str:
        """The user pressed Accept: a single-use ``ac_`` code for ``account_id``."""
        return self.grants.issue_code(authorization, account_id)

    def exchange_code(self, key: str | None, code: str) -> dict[str, Any]:
        """``grant_type=authorization_code``: Stripe's rules, then a fresh token pair."""
        return self.grants.exchange_code(key, code)

    def refresh(self, key: str | None, refresh_token: str) -> dict[str, Any]:
        """``grant_type=refresh_token``: rotate (the old token dies at once, no grace)."""
        return self.grants.refresh(key, refresh_token)

    def mint_tokens(
        self, mode: Mode = "test", app: RegisteredApp | None = None, account_id: str | None = None
    ) -> dict[str, Any]:
        """Shortcut for tests and benchmarks: the token response an install would produce."""
        return self.grants.mint_tokens(mode, app, account_id)

    def uninstall(self, account_id: str, mode: Mode) -> int:
        """The account uninstalled the app(s) in ``mode``: every token it gave is revoked."""
        return self.grants.uninstall(account_id, mode)

    def authenticate(self, key: str | None) -> Principal:
        """Resolve an API key (developer secret key or access token) or raise a 401."""
        return self.grants.authenticate(key)

    require = staticmethod(Grants.require)

    # --- rate limits (``_limits``) ----------------------------------------------------------

    def admit(self, principal: Principal, endpoint: str) -> Refusal | None:
        """Count an API request against its account's rate limits (see ``_limits``)."""
        return self.limiter.admit(principal.account.id, principal.mode, endpoint)

    def admit_developer(self, mode: Mode, endpoint: str) -> Refusal | None:
        """Count a token-endpoint request against the developer's account."""
        return self.limiter.admit(self.developer.account.id, mode, endpoint)

    # --- faults and stats (``_faults``) -----------------------------------------------------

    def add_fault(self, fault: Fault) -> None:
        """Queue a fault; checked in order, each used for ``times`` requests."""
        self.traffic.add_fault(fault)

    def faults(self) -> list[Fault]:
        return self.traffic.faults()

    def begin_request(self, endpoint: str) -> Fault | None:
        """Count a request to ``endpoint`` and take the first fault that applies to it."""
        return self.traffic.begin_request(endpoint)

    def count_grant(self, grant_type: str) -> None:
        self.traffic.count_grant(grant_type)

    def stats(self) -> dict[str, Any]:
        """Requests by endpoint, token requests by grant type, and tokens actually issued."""
        return self.traffic.stats()

    def reset(self) -> None:
        """Forget codes, tokens, faults, stats, clock moves, simulated days and rate-limit
        counts; keep keys, apps and accounts (their data is made afresh from the seed)."""
        with self._lock:
            self.clock.offset = 0.0
            self.worlds.reset()
            self.grants.reset()
            self.traffic.reset()
            self.limiter.reset()
