"""The install app: onboarding page, install redirect, callback, health check (Starlette).

=================  ===========================================================================
``GET /``          the onboarding page (what the app does, its permissions and why, Install)
``GET /install``   a fresh ``state`` (recorded in the attempt log, and kept in a signed,
                   ``HttpOnly``, ``SameSite=Lax`` cookie, ``Secure`` over HTTPS), then a redirect
                   to the OAuth install link; ``?mode=test|live`` picks the mode
``GET /callback``  state checked against the cookie, then the attempt log; the code sent at
                   most once; the token set stored; a success page naming the account
``GET /healthz``   ``{"status": "ok", "store": "ok"|"unreachable"}`` for load balancers
=================  ===========================================================================

Order of the callback's checks, so that nothing is spent on a bad request: strict parse ->
the cookie holds this state (else 400, nothing used) -> the store answers (else 503 "try
again", the attempt stays open, so reloading works) -> the attempt log uses the state up
(once, across processes) -> its turn under the token endpoint's rate limit (the toolkit's
``ModeLimiter``: a code that meets a 429 cannot be sent again) -> the attempt log records the
code as sent, refusing a code any attempt sent before (else 400, no request) -> one token
request -> the token set stored (else 503 "try again", nothing stored). Handlers are plain
functions (Starlette runs them in its thread pool) over the synchronous core.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import urllib.parse
from collections.abc import Callable
from typing import Any, Final

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from .._errors import (
    AccessDeniedError,
    AttemptLogError,
    CallbackError,
    CallbackRequestError,
    CallbackStateError,
    CodeAlreadySentError,
    CodeAlreadyUsedError,
    ConfigError,
    InstallLinkError,
    NetworkError,
    StripeOAuthNBError,
    TokenError,
    TokenLockTimeoutError,
    TokenStoreError,
)
from .._http import DEFAULT_TIMEOUT, httpx
from .._masking import mask_text
from .._modes import read_mode
from .._ratelimit import STRIPE_RATES, ModeLimiter, token_endpoint_limiter
from .._settings import Mode
from .._tokenset import TokenSet
from .._urls import host_headers, is_loopback_host
from ..oauth._attempts import ATTEMPT_TTL, AuthorizationCode
from ..oauth._callback import parse_callback_query, resolve_callback
from ..oauth._install_link import build_install_link, mask_state
from ..tokens import TokenManager
from ._config import ServeConfig
from ._pages import PAGE_HEADERS, onboarding_page, problem_page, success_page

__all__ = ["COOKIE_NAME", "create_app"]

#: The install cookie (signed; holds the states this browser started).
COOKIE_NAME: Final = "stripe_oauth_nb_install"
#: States kept per browser (several tabs may start installs).
_MAX_STATES: Final = 5
#: An account id that no store holds: reading it shows whether the store answers.
_PROBE_ACCOUNT: Final = "acct_stripeoauthnbprobe"

logger = logging.getLogger("stripe_oauth_nb.serve")


def _fingerprint(state: str) -> str:
    """What the session keeps of a finished install's state (never the state itself)."""
    return hashlib.sha256(state.encode()).hexdigest()[:32]


class _Refusal(Exception):
    """A callback that ends on a page: status, title, message, and how to go on."""

    def __init__(self, status: int, title: str, message: str, action: str = "Start again"):
        super().__init__(message)
        self.status, self.title, self.message, self.action = status, title, message, action


def _try_again(message: str) -> _Refusal:
    """503: something of ours (the store, the attempt log) did not answer."""
    return _Refusal(503, "Please try again in a minute", message)


def _html(content: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(content, status_code=status, headers=dict(PAGE_HEADERS))


class _InstallApp:
    """The four routes over one :class:`ServeConfig`."""

    def __init__(self, config: ServeConfig, http: httpx.Client) -> None:
        self.config = config
        self.http = http
        rate = config.token_rate
        # At Stripe's rates, the process's one token-endpoint budget, which its token managers
        # (refreshes) share too; a rate of its own (``--token-rate``) is this app's alone.
        self.limiter = (
            token_endpoint_limiter()
            if rate is None
            else ModeLimiter(dict.fromkeys(STRIPE_RATES, rate))
        )
        self.home = config.public_url + "/"

    # -- helpers -------------------------------------------------------------------------
    def _problem(self, refusal: _Refusal) -> HTMLResponse:
        page = problem_page(
            title=refusal.title, message=refusal.message, home=self.home, action=refusal.action
        )
        return _html(page, refusal.status)

    def _probe_store(self) -> None:
        """Raise a 503 refusal when the token store does not answer."""
        try:
            self.config.store.load(_PROBE_ACCOUNT, False)
        except (StripeOAuthNBError, OSError) as exc:
            logger.error("token store unreachable before a callback: %s", mask_text(str(exc)))
            raise _try_again(
                "The connection could not be saved right now: our storage is not answering. "
                "Nothing was stored and your authorization was not used: reload this page in "
                "a minute to try again, or start again."
            ) from None

    # -- routes --------------------------------------------------------------------------
    def onboarding(self, request: Request) -> Response:
        config = self.config
        modes = [config.mode] + [m for m in config.modes() if m != config.mode]
        links = [
            (m, config.public_url + "/install" + ("" if m == config.mode else f"?mode={m}"))
            for m in modes
        ]
        page = onboarding_page(
            app_name=config.app_name,
            about=config.about,
            permissions=list(config.manifest.permissions.items()),
            install_links=links,
        )
        return _html(page)

    def install(self, request: Request) -> Response:
        try:
            mode = self._mode(request)
            client_id = self.config.check_mode(mode)
            link = build_install_link(
                mode=mode,
                log=self.config.attempts,
                redirect_uri=self.config.callback_url,
                allowed_redirect_uris=self.config.manifest.redirect_uris,
                client_id=client_id,
                marketplace_base=self.config.settings.marketplace_base,
            )
        except _Refusal as refusal:
            return self._problem(refusal)
        except (ConfigError, InstallLinkError) as exc:  # only a mode other than the page's
            logger.warning("install link refused: %s", mask_text(str(exc)))
            offered = " or ".join(self.config.modes())
            return self._problem(
                _Refusal(
                    400,
                    "That mode is not available here",
                    f"This page installs the app in {offered} mode. Start from the install page.",
                    "Back",
                )
            )
        except (AttemptLogError, TokenStoreError, OSError) as exc:  # the attempt log failed
            logger.error("attempt log unavailable: %s", mask_text(str(exc)))
            return self._problem(
                _try_again(
                    "The install could not be started: our storage is not answering. Nothing "
                    "was changed; try again in a minute."
                )
            )
        states = [s for s in request.session.get("states", []) if isinstance(s, str)]
        request.session["states"] = [*states, link.state.reveal()][-_MAX_STATES:]
        logger.info("install started: %s mode, state %s", mode, mask_state(link.state))
        return RedirectResponse(link.url, status_code=303, headers={"Cache-Control": "no-store"})

    def _mode(self, request: Request) -> Mode:
        try:
            pairs = urllib.parse.parse_qsl(
                request.url.query, strict_parsing=False, max_num_fields=8, separator="&"
            )
        except ValueError:
            pairs = [("mode", "?")]
        given = [v for k, v in pairs if k == "mode"]
        if not given:
            return self.config.mode
        mode = read_mode(given[0]) if len(given) == 1 else None
        if mode is not None:
            return mode
        raise _Refusal(
            400,
            "Unknown mode",
            "The install address asks for a mode other than test or live. Start from the "
            "install page.",
            "Back",
        )

    def callback(self, request: Request) -> Response:
        try:
            tokens = self._callback(request)
        except _Refusal as refusal:
            logger.info("callback ended with %s: %s", refusal.status, refusal.title)
            return self._problem(refusal)
        except Exception as exc:  # a page, not a traceback, whatever happened
            logger.error(
                "callback failed unexpectedly (%s): %s", type(exc).__name__, mask_text(str(exc))
            )
            return self._problem(
                _Refusal(
                    500,
                    "Something went wrong",
                    "The install could not be completed because of an error on this site. "
                    "Nothing was stored; please start again.",
                )
            )
        logger.info("install completed: account %s (%s mode)", tokens.account_id, tokens.mode)
        state = request.query_params.get("state") or ""
        # A reload of this page (the same address) shows the result again, not a refusal.
        request.session["done"] = [_fingerprint(state), tokens.account_id, tokens.mode]
        page = success_page(app_name=self.config.app_name, tokens=tokens, home=self.home)
        return _html(page)

    def _cookie_state(self, request: Request, state: str | None) -> None:
        """Refuse (400) unless this browser's signed cookie holds ``state``."""
        states = [s for s in request.session.get("states", []) if isinstance(s, str)]
        done = request.session.get("done")
        if (
            not states
            and state
            and isinstance(done, list)
            and len(done) == 3
            and hmac.compare_digest(str(done[0]), _fingerprint(state))
        ):
            raise _Refusal(
                200,
                "This install is already done",
                f"Account {done[1]} is connected in {done[2]} mode: this page was loaded again, "
                "and nothing new was sent to Stripe. You can close this page.",
                "Connect another account",
            )
        if not states:
            signed_but_bad = COOKIE_NAME in request.cookies
            raise _Refusal(
                400,
                "This browser did not start an install here",
                (
                    "The install cookie of this page is missing or no longer valid"
                    + (" (expired, or signed by another server key)" if signed_but_bad else "")
                    + ", so this redirect cannot be tied to an install started in this "
                    "browser. Nothing was connected. Start the install from this page (cookies "
                    "must be allowed for it)."
                ),
            )
        if not state:
            raise _Refusal(
                400,
                "The redirect carries no state",
                "Stripe's redirect came back without the state this page sent, so it cannot "
                "be tied to your install (it may not have started here). Nothing was "
                "connected. Start the install from this page.",
            )
        wanted = state.encode()
        matched = False
        for candidate in states:  # every one compared, in constant time
            matched |= hmac.compare_digest(candidate.encode(), wanted)
        if not matched:
            raise _Refusal(
                400,
                "This install was started in another browser",
                "The redirect's state does not belong to this browser (possible cross-site "
                "request forgery, or a link opened in another browser). Nothing was connected. "
                "Start the install from this page, in the browser you will finish it in.",
            )

    def _forget(self, request: Request, state: str) -> None:
        states = [s for s in request.session.get("states", []) if s != state]
        if states:
            request.session["states"] = states
        else:
            request.session.clear()

    def _callback(self, request: Request) -> TokenSet:
        try:
            query = parse_callback_query(request.url.query)
        except CallbackRequestError as exc:
            raise _Refusal(
                400, "This address is not a valid return from Stripe", str(exc)
            ) from None
        except CallbackStateError:
            raise _Refusal(
                400,
                "This address is not a valid return from Stripe",
                "The state in this address is malformed, so it cannot come from an install "
                "started here. Nothing was connected. Start the install from this page.",
            ) from None
        state = query.state.reveal() if query.state else None
        self._cookie_state(request, state)
        assert state is not None  # _cookie_state refuses a missing state
        self._probe_store()
        try:
            code = resolve_callback(
                query, self.config.attempts, redirect_uri=self.config.callback_url
            )
        except AccessDeniedError:
            self._forget(request, state)
            raise _Refusal(
                200,
                "Install cancelled",
                "You declined on Stripe's page, so nothing was connected. Press Install to "
                "try again whenever you like.",
                "Back to the install page",
            ) from None
        except CallbackStateError:
            self._forget(request, state)
            raise _Refusal(
                400,
                "This install link is used up",
                "This return from Stripe was already handled, or its install started more "
                "than 15 minutes ago. Nothing new was connected. Start the install again.",
            ) from None
        except CallbackError as exc:
            self._forget(request, state)
            raise _Refusal(400, "Stripe reported a problem", str(exc)) from None
        except (AttemptLogError, TokenStoreError, OSError) as exc:  # nothing was used
            logger.error("attempt log unavailable: %s", mask_text(str(exc)))
            raise _try_again(
                "Our storage is not answering. Nothing was stored and your authorization was "
                "not used: reload this page in a minute to try again."
            ) from None
        self._forget(request, state)
        return self._exchange(code)

    def _exchange(self, code: AuthorizationCode) -> TokenSet:
        manager = TokenManager(
            self.config.settings,
            store=self.config.store,
            attempts=self.config.attempts,
            http=self.http,
        )
        try:
            self.limiter.wait(code.mode)
            return manager.exchange(code)
        except (TokenStoreError, TokenLockTimeoutError) as exc:
            logger.error("token set not stored: %s", mask_text(str(exc)))
            if isinstance(exc, TokenStoreError) and exc.tokens is not None:
                try:
                    manager.save_pending()  # one more try; then the set dies with the request
                    return exc.tokens
                except TokenError:
                    pass
            raise _try_again(
                "The connection could not be completed: our storage is not answering. Please "
                "start the install again in a minute."
            ) from None
        except AttemptLogError as exc:  # the code could not be recorded as sent: not sent
            logger.error("attempt log unavailable: %s", mask_text(str(exc)))
            raise _try_again(
                "Our storage is not answering, so the code was not sent. Nothing was stored; "
                "please start the install again in a minute."
            ) from None
        except CodeAlreadySentError:  # the attempt log's rule: no request was made
            raise _Refusal(
                400,
                "This authorization code was already used",
                "The code in this address was already sent to Stripe once; a code works only "
                "once, and sending it again would revoke what it gave. Nothing new was "
                "connected. Start the install again for a new code.",
            ) from None
        except CodeAlreadyUsedError:
            raise _Refusal(
                400,
                "Stripe refused the authorization code",
                "Stripe says this code was already used or has expired (codes last five "
                "minutes). Nothing was connected. Start the install again.",
            ) from None
        except NetworkError:
            raise _Refusal(
                502,
                "Stripe did not answer",
                "Stripe did not answer in time, and a code is never sent twice. Nothing was "
                "connected. Start the install again.",
            ) from None
        except ConfigError as exc:
            logger.error("server configuration refused the exchange: %s", mask_text(str(exc)))
            raise _Refusal(
                500,
                "This install page is misconfigured",
                "The site could not finish the install because of its own settings. Nothing "
                "was connected; the site's operators have been told in their logs.",
            ) from None
        except TokenError as exc:
            raise _Refusal(502, "Stripe refused the install", str(exc)) from None
        finally:
            manager.close()

    def healthz(self, request: Request) -> Response:
        try:
            self.config.store.load(_PROBE_ACCOUNT, False)
            store = "ok"
        except (StripeOAuthNBError, OSError):
            store = "unreachable"
        body = {"status": "ok", "store": store, "mode": self.config.mode}
        return JSONResponse(body, headers={"Cache-Control": "no-store"})

    def not_found(self, request: Request, exc: Exception) -> Response:
        status = getattr(exc, "status_code", 404)
        title = "Method not allowed" if status == 405 else "Page not found"
        return self._problem(
            _Refusal(status, title, "There is nothing here.", "Go to the install page")
        )


def _allowed_hosts(config: ServeConfig) -> list[str]:
    return sorted(host_headers(config.host, also=(config.public.hostname,)))


def create_app(config: ServeConfig, *, http: httpx.Client | None = None) -> Starlette:
    """The ASGI app for ``config``; ``http`` is the client for the token endpoint (reused)."""
    client = http if http is not None else httpx.Client(timeout=DEFAULT_TIMEOUT)
    app = _InstallApp(config, client)
    handlers: list[tuple[str, Callable[[Request], Response]]] = [
        ("/", app.onboarding),
        ("/install", app.install),
        ("/callback", app.callback),
        ("/healthz", app.healthz),
    ]
    routes: list[BaseRoute] = [Route(path, fn, methods=["GET"]) for path, fn in handlers]
    if config.public.prefix:
        routes = [Mount(config.public.prefix, routes=routes)]
    middleware = [
        Middleware(
            SessionMiddleware,
            secret_key=config.signing_key.reveal(),
            session_cookie=COOKIE_NAME,
            max_age=int(ATTEMPT_TTL),
            path="/",
            same_site="lax",
            https_only=config.secure_cookie,
        )
    ]
    if is_loopback_host(config.host):
        # On a loopback bind, refuse other Host headers (DNS rebinding); behind a proxy the
        # proxy decides which hosts reach this process.
        middleware.insert(
            0, Middleware(TrustedHostMiddleware, allowed_hosts=_allowed_hosts(config))
        )
    handlers_by_status: dict[Any, Any] = {404: app.not_found, 405: app.not_found}
    starlette = Starlette(
        routes=routes, middleware=middleware, exception_handlers=handlers_by_status
    )
    starlette.state.http = client  # closed by whoever runs the app (InstallServer.stop)
    return starlette
