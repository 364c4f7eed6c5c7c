"""``connect()``: the one call an analyst needs, and the :class:`Connection` it returns.

    from stripe_oauth_nb import connect

    conn = connect()                  # stored tokens if any, else authorize right here
    conn.stripe.customers.list()      # the official stripe library, token always fresh
    conn.dataframe("/v1/charges")     # the fast path for data
    conn.sql("SELECT status, count(*) FROM charges GROUP BY 1")   # synced tables, kept fresh

With stored tokens for the chosen account and mode, ``connect`` uses them (refreshing as
needed). Otherwise it runs the authorization where it is called: in a notebook it shows the
install link and a paste box and waits for the code; in a terminal it prints the link, opens a
browser when there is one, waits on the callback server and reads a pasted URL from the
terminal too. Against the sandbox, ``approve=True`` accepts the consent page itself. The code is
exchanged once and the tokens stored (:class:`~stripe_oauth_nb.tokens.TokenManager`).

:func:`authorize` is that authorization on its own; ``stripe-oauth-nb login`` uses it too.
"""

from __future__ import annotations

import os
import queue
import sys
import threading
import time
import webbrowser
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from ._errors import (
    AccessDeniedError,
    AuthorizeAgainError,
    CallbackError,
    CallbackTimeoutError,
    ConfigError,
    InstallLinkError,
    StripeOAuthNBError,
)
from ._masking import clean_server_text
from ._settings import Mode, Settings
from ._target import Target, sandbox_refusal
from ._tokenset import TokenSet
from .oauth._attempts import ATTEMPT_TTL, AuthorizationCode

if TYPE_CHECKING:
    import pandas
    import stripe

    from .api import ApiClient
    from .api._client import Params
    from .api._pagination import PageProgress
    from .oauth._callback import CallbackEvent, CallbackServer
    from .oauth._install_link import InstallLink
    from .sync import ForgetReport, SyncReport
    from .tokens import TokenManager

__all__ = [
    "Connection",
    "Presenter",
    "TerminalPresenter",
    "authorize",
    "code_of",
    "connect",
    "refuse_what_the_sandbox_refuses",
]


# -- the connection ----------------------------------------------------------------------
class Connection:
    """A connected account: its tokens, an API client, the official ``stripe`` client.

    Use it as a context manager or call :meth:`close` (which also stops a sandbox that
    :func:`connect` started for it).
    """

    def __init__(
        self,
        target: Target,
        tokens: TokenManager,
        account_id: str,
        mode: Mode,
        *,
        owns_target: bool = False,
    ) -> None:
        self.target = target
        self.settings: Settings = target.settings
        self.tokens = tokens
        self.account_id = account_id
        self.mode: Mode = mode
        self._owns_target = owns_target
        self._api: ApiClient | None = None
        self._stripe: stripe.StripeClient | None = None
        self._lock = threading.Lock()

    @property
    def livemode(self) -> bool:
        return self.mode == "live"

    @property
    def token_set(self) -> TokenSet:
        """The stored tokens of this connection (masked in every repr)."""
        return self.tokens.get(self.account_id, self.livemode)

    # -- the fast path for data --------------------------------------------------------------
    @property
    def api(self) -> ApiClient:
        """A keep-alive :class:`~stripe_oauth_nb.api.ApiClient` for this account and mode."""
        with self._lock:
            if self._api is None:
                from .api import ApiClient

                self._api = ApiClient.from_settings(
                    self.settings, self.tokens, account_id=self.account_id, mode=self.mode
                )
            return self._api

    def get(self, path: str, params: Params | None = None) -> dict[str, Any]:
        """``GET path`` (e.g. ``"/v1/account"``) and its JSON object."""
        return self.api.get(path, params)

    def list_all(
        self, path: str, params: Params | None = None, *, progress: PageProgress | None = None
    ) -> Iterator[dict[str, Any]]:
        """Every object of a list endpoint (``"/v1/customers"``), 100 per request."""
        return self.api.list_all(path, params, progress=progress)

    def dataframe(
        self,
        path: str,
        params: Params | None = None,
        *,
        columns: list[str] | None = None,
        progress: PageProgress | None = None,
    ) -> pandas.DataFrame:
        """Every object of a list endpoint as a pandas DataFrame (the ``data`` extra)."""
        return self.api.dataframe(path, params, columns=columns, progress=progress)

    # -- the official library --------------------------------------------------------------
    @property
    def stripe(self) -> stripe.StripeClient:
        """An official ``stripe.StripeClient`` whose every request carries a fresh access token.

        It is built on stripe-python's own extension point (a custom ``http_client``), so a
        client kept for hours keeps working: the token is refreshed before it expires and once
        more when Stripe answers ``api_key_expired``.
        """
        with self._lock:
            if self._stripe is None:
                from .api._stripe_client import stripe_client

                self._stripe = stripe_client(self.settings, self.tokens, self.account_id, self.mode)
            return self._stripe

    # -- SQL tables ----------------------------------------------------------------------------
    def sync(self, *, all_accounts: bool = False, **options: Any) -> SyncReport:
        """This account's Stripe data as SQL tables (``stripe.duckdb`` by default), loaded
        incrementally at Stripe's rate limit: :func:`stripe_oauth_nb.sync.sync` (the ``sql``
        extra). ``all_accounts``: every account stored for this mode, not only this one;
        ``options``: ``db=``, ``destination=``/``dsn=``, ``resources=``, ``full=``, ...
        """
        from .sync import sync

        accounts: list[str] | Literal["all"] = "all" if all_accounts else [self.account_id]
        return sync(self.settings, self.tokens, accounts=accounts, mode=self.mode, **options)

    def sql(
        self,
        query: str,
        *,
        fresh: float | None = 300.0,
        db: str | Path | None = None,
        relation: bool = False,
    ) -> Any:
        """The answer to a ``SELECT`` on the synced tables, as a pandas DataFrame (a DuckDB
        relation with ``relation=True``): :func:`stripe_oauth_nb.sync.query` (the ``sql`` extra).

        The tables the query names (DuckDB's parser finds them) are first synced incrementally
        for this account when their last sync is older than ``fresh`` seconds (5 minutes;
        ``fresh=0`` always, ``None`` never). ``db``: the DuckDB file (``stripe.duckdb``). The
        query reads every row of the file, every account's; writing statements are refused.
        """
        from .sync import query as run_query

        return run_query(
            self.settings,
            self.tokens,
            query,
            db=db,
            fresh=fresh,
            accounts=[self.account_id],
            mode=self.mode,
            result="relation" if relation else "dataframe",
        )

    def forget(self, **options: Any) -> ForgetReport:
        """Delete every row of this account (in this mode) from every synced table, with its
        sync state: :func:`stripe_oauth_nb.sync.forget` (for an account that uninstalled the
        app). ``options``: the ``db=``/``destination=``/``dsn=`` the sync was given."""
        from .sync import forget

        return forget(self.account_id, self.mode, **options)

    # -- lifecycle ---------------------------------------------------------------------------
    def close(self) -> None:
        """Close the clients; stop the sandbox if :func:`connect` started it."""
        with self._lock:
            api, self._api = self._api, None
            self._stripe = None
        if api is not None:
            api.close()
        self.tokens.close()
        if self._owns_target:
            self.target.close()

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"Connection(account_id={self.account_id!r}, mode={self.mode!r}, "
            f"target={self.target.kind!r})"
        )


# -- where the authorization is shown ----------------------------------------------------
class Presenter(Protocol):
    """Shows an authorization to a person and hands back what they pasted (if anything)."""

    def show_link(self, link: InstallLink, server: CallbackServer | None) -> None:
        """The link is ready (and the server listens, unless ``server`` is None)."""

    def pasted(self, submit: Callable[[str], None]) -> None:
        """Call ``submit(text)`` for every landed URL the person pastes (from any thread)."""

    def say(self, message: str) -> None:
        """Progress and refusals, already masked."""

    def done(self, tokens: TokenSet, location: str) -> None:
        """Authorized: the tokens are stored at ``location``."""

    # Optional (called when present): ``approved()`` says the sandbox's consent page was
    # accepted by code (``approve=True``), not by the person, so no form looks filled by them.


class TerminalPresenter:
    """Prints to the terminal; reads pasted URLs from standard input when it is a terminal."""

    def __init__(self, *, open_browser: bool = True, read_stdin: bool | None = None) -> None:
        self.open_browser = open_browser
        self.read_stdin = sys.stdin.isatty() if read_stdin is None else read_stdin

    def say(self, message: str) -> None:
        print(message, flush=True)

    def show_link(self, link: InstallLink, server: CallbackServer | None) -> None:
        self.say("Open this link in a browser, review the permissions and press Accept:\n")
        self.say(f"  {link.url}\n")
        if server is not None:
            self.say(f"Listening on {server.local_url} for the redirect.")
        if self.open_browser and sys.stdout.isatty() and _can_open_browser():
            webbrowser.open(link.url, new=2)
        if self.read_stdin or server is None:
            self.say(
                "If the browser cannot reach this machine, paste the address it landed on "
                "(it may fail to load) here and press Enter."
            )

    def pasted(self, submit: Callable[[str], None]) -> None:
        if not self.read_stdin:
            return

        def read() -> None:
            for line in sys.stdin:
                if line.strip():
                    submit(line)

        threading.Thread(target=read, name="som-paste-reader", daemon=True).start()

    def approved(self) -> None:
        self.say("approve=True: the sandbox's consent page was accepted for you (no browser).")

    def done(self, tokens: TokenSet, location: str) -> None:
        self.say(f"Authorized: account {tokens.account_id} ({tokens.mode} mode), tokens stored in")
        self.say(f"  {location}")


def _can_open_browser() -> bool:
    try:
        webbrowser.get()
    except webbrowser.Error:
        return False
    return True


def _in_notebook() -> bool:
    """True inside a Jupyter kernel (where a form can be shown)."""
    shell = sys.modules.get("IPython")
    if shell is None:
        return False
    try:
        ipython = shell.get_ipython()
    except AttributeError:
        return False
    return ipython is not None and "IPKernelApp" in getattr(ipython, "config", {})


#: What shows the authorization in a notebook. The flow never imports a widget: the front door
#: (``stripe_oauth_nb.connect``) registers the widgets' form here (:func:`use_notebook_presenter`).
_notebook_presenter: Callable[[], Presenter] | None = None


def use_notebook_presenter(factory: Callable[[], Presenter] | None) -> None:
    """Show the authorization in a notebook with ``factory()`` (None: in the terminal's way)."""
    global _notebook_presenter
    _notebook_presenter = factory


def _default_presenter() -> Presenter:
    if _in_notebook() and _notebook_presenter is not None:
        return _notebook_presenter()
    return TerminalPresenter()


# -- the authorization ---------------------------------------------------------------------
# The core path of an authorization, the same for :func:`authorize` (``connect()``, ``login``)
# and the notebook's ``CallbackForm``: ``oauth.start_authorization`` (server first, then the
# link), :func:`code_of` (what a server's event means), ``code_from_pasted_url`` (a pasted
# address, checked as the server would). The faces show what these return and raise.
def refuse_what_the_sandbox_refuses(
    settings: Settings, link: InstallLink, server: CallbackServer | None
) -> None:
    """Against the sandbox, a link its consent page refuses raises :class:`InstallLinkError`
    at once, with ``server`` stopped: nothing could come back to it. (A form asks, where
    nothing else would say it before the wait ends; Stripe's page is never fetched.)"""
    refused = sandbox_refusal(settings, link.url)
    if refused is None:
        return
    if server is not None:
        server.stop()
    raise InstallLinkError(
        f"The sandbox's consent page refuses this install link: {refused} Nothing is waiting "
        "for it. Add the redirect URI to the manifest's allowed_redirect_uris and register it "
        "again (live mode needs an https:// one), or use one the app lists; or switch Mode back "
        "to test."
    )


def code_of(event: CallbackEvent) -> AuthorizationCode | None:
    """What a callback server's event means for the authorization: the code it caught, None
    (a refused request, or the server stopping: keep waiting or say so), or its error, raised
    (a refused or expired code, Decline, any other failure)."""
    if event.kind == "received" and event.code is not None:
        return event.code
    if event.kind in ("refused", "expired", "error") and event.error is not None:
        raise event.error
    return None


def authorize(
    target: Target,
    manager: TokenManager,
    *,
    mode: Mode | None = None,
    approve: bool = False,
    paste: bool = False,
    timeout: float = float(ATTEMPT_TTL),
    redirect_uri: str | None = None,
    allowed_redirect_uris: Sequence[str] | None = None,
    pasted_link: str | None = None,
    account: str | None = None,
    presenter: Presenter | None = None,
) -> TokenSet:
    """Install link, callback (or pasted URL), code exchanged once, tokens stored.

    ``approve``: sandbox only, accept the consent page automatically (``account`` picks a
    sample account). ``paste``: do not listen, only take a pasted URL. Raises
    :class:`AccessDeniedError` on Decline and :class:`CallbackTimeoutError` after ``timeout``.
    """
    from .oauth._authorize import start_authorization

    settings = target.settings
    chosen: Mode = mode or settings.mode
    settings.credentials(chosen).require_secret_key()  # before anything starts
    if approve and not target.is_sandbox:
        raise ConfigError(
            "approve=True only works with the sandbox; with Stripe, open the link in a browser "
            "and press Accept yourself."
        )
    if not timeout > 0 or timeout == float("inf"):
        raise ConfigError(
            f"The timeout must be a positive number of seconds, not {timeout!r}: e.g. 300."
        )
    presenter = presenter if presenter is not None else _default_presenter()
    events: queue.Queue[tuple[str, Any]] = queue.Queue()

    def on_event(event: CallbackEvent) -> None:
        events.put(("event", event))

    link, server = start_authorization(
        settings,
        manager.attempts,
        allowed_redirect_uris=allowed_redirect_uris,
        mode=chosen,
        redirect_uri=redirect_uri,
        pasted_link=pasted_link,
        deadline=timeout,
        listen=not paste,
        listener=on_event,
    )
    try:
        presenter.show_link(link, server)
        if approve:
            landed = target.approve(link.url, account=account, follow=server is not None)
            said = getattr(presenter, "approved", None)
            if callable(said):
                said()
            if server is None:
                events.put(("paste", landed))
        else:
            presenter.pasted(lambda text: events.put(("paste", text)))
        code = _wait_for_code(events, link, presenter, timeout)
    finally:
        if server is not None:
            server.stop()
    presenter.say(f"Received code {code.code.masked}; exchanging it for tokens once...")
    tokens = manager.exchange(code)
    presenter.done(tokens, manager.location)
    return tokens


def _wait_for_code(
    events: queue.Queue[tuple[str, Any]],
    link: InstallLink,
    presenter: Presenter,
    timeout: float,
) -> AuthorizationCode:
    from .oauth._callback import code_from_pasted_url

    until = time.monotonic() + timeout
    while True:
        left = until - time.monotonic()
        if left <= 0:
            raise CallbackTimeoutError(
                f"No redirect arrived within {timeout:g} s. Call connect() again for a new link."
            )
        try:
            kind, item = events.get(timeout=min(left, 1.0))
        except queue.Empty:
            continue
        if kind == "paste":
            try:
                return code_from_pasted_url(str(item), link.log)
            except AccessDeniedError:
                raise
            except CallbackError as exc:
                presenter.say(f"That URL was refused: {exc} ({clean_server_text(item, 120)})")
                continue
        event: CallbackEvent = item
        code = code_of(event)
        if code is not None:
            return code
        if event.kind == "rejected":
            presenter.say(f"A request was refused; still waiting: {event.message}")


# -- the one call ------------------------------------------------------------------------
def connect(
    account: str | None = None,
    *,
    mode: Mode | None = None,
    target: Target | None = None,
    settings: Settings | None = None,
    store: str | os.PathLike[str] | None = None,
    approve: bool = False,
    new: bool = False,
    timeout: float = float(ATTEMPT_TTL),
    presenter: Presenter | None = None,
) -> Connection:
    """A :class:`Connection` to ``account`` (default: the most recently authorized one).

    Uses stored tokens when there are any for that account and ``mode`` (default: the
    configured mode); otherwise, or with ``new=True``, authorizes here (see the module doc).
    ``target``: what to talk to (default :meth:`Target.open`: Stripe per your ``.env``, a
    sandbox given by ``STRIPE_OAUTH_NB_SANDBOX_URL``, or a sandbox started for this connection,
    which :meth:`Connection.close` stops). ``store``: the token store (a file or a
    ``postgresql://`` DSN) instead of the one the settings name, as ``--store`` does for the
    commands (:meth:`Target.open` has the order).
    """
    from .tokens import TokenManager

    owns = target is None
    if target is not None and store is not None:
        raise ConfigError(
            "connect() takes store= or target=, not both: the target already names its token "
            "store (Target.open(store=...))."
        )
    target = target if target is not None else Target.open(settings, store=store)
    manager: TokenManager | None = None
    try:
        chosen: Mode = mode or target.settings.mode
        manager = TokenManager(target.settings)
        tokens = None if new else _stored(manager, account, chosen)
        if tokens is not None:
            connection = Connection(target, manager, tokens.account_id, chosen, owns_target=owns)
            try:
                _check_usable(connection)
            except BaseException:
                connection.close()  # its HTTP client, the store's connections, an owned target
                raise
            return connection
        if account is not None and not approve:
            raise _account_missing(manager, account, chosen)
        tokens = authorize(
            target,
            manager,
            mode=chosen,
            approve=approve,
            timeout=timeout,
            account=account,
            presenter=presenter,
        )
        return Connection(target, manager, tokens.account_id, chosen, owns_target=owns)
    except BaseException:
        if manager is not None:
            manager.close()
        if owns:
            target.close()
        raise


def _check_usable(connection: Connection) -> None:
    """One ``GET /v1/account``: stored tokens that were revoked fail here, clearly."""
    from ._errors import AuthenticationError

    try:
        connection.get("/v1/account")
    except (AuthenticationError, AuthorizeAgainError) as exc:
        raise AuthorizeAgainError(
            f"The stored tokens of {connection.account_id} ({connection.mode} mode) no longer "
            f"work: the app was uninstalled or the tokens revoked ({type(exc).__name__}). Call "
            "connect(new=True) (or run `stripe-oauth-nb login`) to authorize the app again."
        ) from None


def _stored(manager: TokenManager, account: str | None, mode: Mode) -> TokenSet | None:
    try:
        return manager.get(account, mode == "live")
    except AuthorizeAgainError:
        return None


def _account_missing(manager: TokenManager, account: str, mode: Mode) -> StripeOAuthNBError:
    others = sorted({t.account_id for t in manager.all() if t.mode == mode})
    listed = ", ".join(others) if others else "none"
    return AuthorizeAgainError(
        f"No {mode}-mode tokens are stored for {account} in {manager.location} (stored: "
        f"{listed}). Call connect() without account= to install the app on another account, "
        "or pick one of the stored accounts."
    )
