"""``Sandbox``: the state, the app and the server thread behind one small object."""

from __future__ import annotations

import shutil
import tempfile
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from .._app_record import RegisteredApp
from .._errors import SandboxError
from .._masking import Secret, mask
from .._settings import ModeCredentials, Settings
from ._accounts import DEFAULT_REDIRECT_URIS
from ._app import create_app
from ._browser import approve
from ._faults import Fault, FaultEndpoint, FaultKind
from ._rules import DEFAULT_CUSTOMERS, Mode
from ._server import ServerThread
from ._state import SandboxState
from ._truth import ground_truth
from ._world import LongLists, World

__all__ = ["ModeKeys", "Sandbox"]


@dataclass(frozen=True)
class ModeKeys:
    """The developer's secret key for one mode, and the demo app's client id in that mode."""

    mode: Mode
    secret_key: str
    client_id: str

    def __repr__(self) -> str:
        return (
            f"ModeKeys(mode={self.mode!r}, secret_key={mask(self.secret_key)!r}, "
            f"client_id={self.client_id!r})"
        )

    __str__ = __repr__


class Sandbox:
    """A local stand-in for marketplace.stripe.com and api.stripe.com, on 127.0.0.1.

    ``customers``: customers of the default installing account (two sample accounts get a half
    and a fifth as many); every other object scales from them. The default,
    :data:`~stripe_oauth_nb.sandbox.DEFAULT_CUSTOMERS` (250), is every door's: ``Target.open()``
    (and so ``connect()``) and ``stripe-oauth-nb sandbox`` start the same sandbox. ``seed``:
    same seed, same data.
    ``start``: when the seeded history ends (Unix seconds); given, the clock stands still there
    until :meth:`advance_clock` or :meth:`simulate` moves it, so data and timestamps repeat
    exactly. ``long_lists``: :class:`LongLists`, customers of the default account whose
    subscriptions or first invoices hold more entries than Stripe embeds (on top of
    ``customers``). ``rate_limit``: Stripe's per-account limits (429 beyond them). ``latency_ms``: a
    round trip added to every API answer. ``redirect_uris``: the demo app's allowed redirect
    URIs. ``port``: 0 picks a free one.
    """

    def __init__(
        self,
        *,
        customers: int = DEFAULT_CUSTOMERS,
        redirect_uris: Sequence[str] | None = None,
        seed: int = 0,
        port: int = 0,
        start: float | None = None,
        rate_limit: bool = True,
        latency_ms: float = 0.0,
        long_lists: LongLists | None = None,
    ) -> None:
        self.state = SandboxState(
            customers=customers,
            seed=seed,
            redirect_uris=tuple(redirect_uris or DEFAULT_REDIRECT_URIS),
            start=start,
            rate_limit=rate_limit,
            latency=latency_ms / 1000,
            long_lists=long_lists,
        )
        self._server = ServerThread(create_app(self.state, self.connection_info), port=port)
        self._store_dir: Path | None = None

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self, *, abort: Callable[[], bool] | None = None) -> Sandbox:
        """Start serving (idempotent); returns self. The default account's test-mode data is
        then made in a background thread (requests that need it wait for it). ``abort``: asked
        while the server starts; True gives up at once (the sandbox is then not running)."""
        if not self._server.running:
            self._server.start(abort=abort)
            if self._server.running:
                threading.Thread(
                    target=self.state.prepare, name="sandbox-data", daemon=True
                ).start()
        return self

    def stop(self) -> None:
        """Stop serving and free the port; forget the token folder of :meth:`settings`."""
        self._server.stop()
        if self._store_dir is not None:
            shutil.rmtree(self._store_dir, ignore_errors=True)
            self._store_dir = None

    @property
    def store_dir(self) -> Path:
        """A private temporary folder for this sandbox's tokens and attempts (removed on stop).

        Sandbox tokens are only good for the sandbox that issued them, so they never go to the
        user's real token store.
        """
        if self._store_dir is None:
            self._store_dir = Path(tempfile.mkdtemp(prefix="stripe-oauth-nb-sandbox-"))
        return self._store_dir

    @property
    def running(self) -> bool:
        return self._server.running

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # --- where and who -----------------------------------------------------------------------

    @property
    def port(self) -> int:
        if not self._server.port:
            raise SandboxError(
                "The sandbox is not started: use `with Sandbox() as sb:` or .start()."
            )
        return self._server.port

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def marketplace_base(self) -> str:
        return self.api_base

    @property
    def demo_app(self) -> RegisteredApp:
        return self.state.demo_app

    @property
    def test(self) -> ModeKeys:
        return self._keys("test")

    @property
    def live(self) -> ModeKeys:
        return self._keys("live")

    def _keys(self, mode: Mode) -> ModeKeys:
        return ModeKeys(mode, self.state.developer.secret_keys[mode], self.demo_app.client_id(mode))

    @property
    def account_id(self) -> str:
        """The default installing account (``acct_…``), the consent page's first choice."""
        return self.state.default_account_id

    @property
    def account_ids(self) -> list[str]:
        """Every installing account, the default first (the consent page offers them all)."""
        return [account_id for account_id, _ in self.state.installing_accounts()]

    @property
    def developer_account_id(self) -> str:
        """The app developer's own account (no customers), what the secret keys read."""
        return self.state.developer.account.id

    def connection_info(self) -> dict[str, Any]:
        """What a separate process needs (holds the sandbox's secret keys); also served as
        ``GET /_sandbox/info``. ``token_store``: where commands keep this sandbox's tokens (in
        :attr:`store_dir`, removed when the sandbox stops: its tokens are good for nothing else).
        """
        return {
            "api_base": self.api_base,
            "marketplace_base": self.marketplace_base,
            "redirect_uris": list(self.demo_app.redirect_uris),
            "account_id": self.account_id,
            "account_ids": self.account_ids,
            "developer_account_id": self.developer_account_id,
            "token_store": str(self.store_dir / "tokens.json"),
            **{
                mode: {"secret_key": keys.secret_key, "client_id": keys.client_id}
                for mode, keys in (("test", self.test), ("live", self.live))
            },
        }

    def settings(
        self,
        mode: Mode = "test",
        app: RegisteredApp | None = None,
        redirect_uri: str | None = None,
        *,
        token_store_path: str | Path | None = None,
    ) -> Settings:
        """Settings (target "sandbox") pointing here, with the developer keys and ``app``'s ids.

        Tokens go to ``token_store_path``, by default a file in :attr:`store_dir`.
        """
        app = app or self.demo_app
        keys = self.state.developer.secret_keys
        store = Path(token_store_path) if token_store_path is not None else None
        extra: dict[str, Any] = {"token_store_path": store or self.store_dir / "tokens.json"}
        return Settings(
            target="sandbox",
            mode=mode,
            api_base=self.api_base,
            marketplace_base=self.marketplace_base,
            test=ModeCredentials("test", Secret(keys["test"]), app.client_id("test")),
            live=ModeCredentials("live", Secret(keys["live"]), app.client_id("live")),
            redirect_uri=redirect_uri or app.redirect_uris[0],
            **extra,
        )

    # --- world -------------------------------------------------------------------------------

    def register_app(self, manifest: Mapping[str, Any]) -> RegisteredApp:
        """The sandbox's "stripe apps upload": same manifest id keeps the same client ids."""
        return self.state.register_app(manifest)

    def create_account(
        self,
        name: str = "Another Installer",
        *,
        customers: int = 0,
        long_lists: LongLists | None = None,
    ) -> str:
        """Another installing account (selectable on the consent page); returns its id."""
        return self.state.add_account(name, customers=customers, long_lists=long_lists)

    def approve(self, install_url: str, decision: str = "accept", **options: Any) -> str:
        """:func:`stripe_oauth_nb.sandbox.approve` (the one implementation)."""
        return approve(install_url, decision=decision, **options)

    def mint_tokens(
        self, mode: Mode = "test", app: RegisteredApp | None = None, account_id: str | None = None
    ) -> dict[str, Any]:
        """Shortcut: the token endpoint's answer for a fresh install (no HTTP, no stats)."""
        return self.state.mint_tokens(mode, app, account_id)

    def uninstall(self, account_id: str, mode: Mode = "test") -> int:
        """The account uninstalls the app: every token it gave in ``mode`` is revoked."""
        return self.state.uninstall(account_id, mode)

    def world(self, account_id: str | None = None, mode: Mode = "test") -> World:
        """The rows behind an account's data in one mode (for tests and benchmarks)."""
        return self.state.world(self.state.account(account_id), mode)

    def ground_truth(
        self, account_id: str | None = None, mode: Mode = "test"
    ) -> dict[str, list[dict[str, Any]]]:
        """Every invoice, invoice line, subscription and subscription item of an account in
        one mode, straight from the sandbox's rows (not through the API): what tables built
        from the API must hold. See ``docs/SANDBOX.md``."""
        world = self.world(account_id, mode)
        with self.state.lock:
            return ground_truth(world)

    def counts(self, account_id: str | None = None, mode: Mode = "test") -> dict[str, int]:
        """Objects per resource that a client can read (``GET /_sandbox/counts``)."""
        return self.state.counts(account_id, mode)

    # --- controls ----------------------------------------------------------------------------

    def now(self) -> float:
        return self.state.now()

    def advance_clock(self, seconds: float) -> float:
        """Move the sandbox clock forward (codes and tokens age); returns the new time."""
        return self.state.advance_clock(seconds)

    def simulate(self, days: int) -> dict[str, Any]:
        """Move the clock ``days`` forward and play that many days of business in every
        account and mode (new customers, renewals, failures, refunds, disputes, payouts,
        deletions), each change with its event; returns ``{"now", "days"}``."""
        return self.state.simulate(days)

    def inject_fault(
        self,
        endpoint: FaultEndpoint,
        kind: FaultKind,
        *,
        times: int = 1,
        status: int = 500,
        seconds: float = 0.0,
        retry_after: int = 1,
    ) -> None:
        """Misbehave on the next ``times`` requests to ``endpoint`` (see the package doc)."""
        self.state.add_fault(Fault(endpoint, kind, times, status, seconds, retry_after))

    def stats(self) -> dict[str, Any]:
        return self.state.stats()

    def reset(self) -> None:
        """Forget codes, tokens, faults, stats, clock moves, simulated days and rate-limit
        counts; keys, apps and accounts stay."""
        self.state.reset()

    def __repr__(self) -> str:
        where = self.api_base if self._server.port else "not started"
        return f"Sandbox({where}, account_id={self.account_id!r})"
