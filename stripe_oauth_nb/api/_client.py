"""One keep-alive HTTP client for Stripe's API, with the access token, retries and typed errors.

:class:`ApiClient` wraps a single ``httpx.Client`` (explicit timeouts, connection reuse) whose auth
is a :class:`TokenAuth` and whose transport applies the :class:`RetryPolicy`. Answers are parsed
once; an error answer becomes :class:`StripeAPIError` (401: :class:`AuthenticationError`,
403: :class:`PermissionDeniedError` naming the missing permission), and a call that could not
reach the server becomes :class:`NetworkError`. Every message says what to do next and is masked.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from .._errors import (
    AuthenticationError,
    ConfigError,
    NetworkError,
    PermissionDeniedError,
    StripeAPIError,
)
from .._http import DEFAULT_TIMEOUT, deadline, httpx, transport
from .._masking import clean_server_text, mask_text, shown
from .._settings import (
    DEFAULT_MARGIN,
    STRIPE_API_VERSION,
    Mode,
    Settings,
    check_api_version,
    key_mode,
)
from .._urls import base_url_problem, is_loopback_host
from .._version import __version__
from ._auth import TokenAuth, TokenSource, error_fields
from ._retry import RetryPolicy, RetryTransport

if TYPE_CHECKING:  # pragma: no cover
    import pandas

    from ._pagination import PageProgress

__all__ = ["ApiClient", "Params", "error_from_response"]

Params = Mapping[str, str | int | float | bool | None]

#: How a 403 names the permission the app lacks ("Having the 'customer_read' permission would
#: allow this request to continue."), and, failing that, any permission-looking word.
_HAVING = re.compile(r"Having the '([a-z_]+)' permission")
_PERMISSION = re.compile(r"\b([a-z][a-z_]*_(?:read|write))\b")
_USER_AGENT = f"stripe-oauth-nb/{__version__}"
#: How much of Stripe's error message an exception quotes (characters).
_MAX_MESSAGE = 500
#: Seconds one call may take in all, retries and waits included (per-read timeouts alone let a
#: server that trickles a byte a second hold a call for hours).
CALL_DEADLINE = 60.0
#: What Stripe's ``Request-Id`` header looks like (``req_…``); anything else is not quoted.
_REQUEST_ID = re.compile(r"req_[A-Za-z0-9]{1,64}")


class ApiClient:
    """Calls Stripe's API (or the sandbox) with a self-refreshing access token.

    Build it with :meth:`from_settings` (or give any ``httpx.Auth``), use it as a context
    manager or call :meth:`close`. Thread-safe: one client can serve many threads.

    ``base_url`` must be ``https://``, or plain ``http://`` to this machine (the sandbox).
    ``call_deadline``: seconds one call may take in all, retries included (a slower one raises
    :class:`NetworkError`); an enclosing :func:`stripe_oauth_nb._http.deadline` can shorten it.
    ``api_version``: the ``Stripe-Version`` every call names (:meth:`from_settings` takes the
    settings' ``STRIPE_API_VERSION``); a malformed one is a ConfigError before any call.
    """

    def __init__(
        self,
        auth: httpx.Auth,
        *,
        base_url: str,
        mode: Mode | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
        on_retry: Callable[[httpx.Request, str, float], None] | None = None,
        call_deadline: float = CALL_DEADLINE,
        loads: Callable[[bytes], Any] = json.loads,
        api_version: str = STRIPE_API_VERSION,
    ) -> None:
        self.api_version = check_api_version(api_version)
        problem = base_url_problem(base_url.rstrip("/") if isinstance(base_url, str) else base_url)
        if problem is not None:
            raise ConfigError(
                f"The API base {shown(base_url)} {problem}. Use https://api.stripe.com, or the "
                "sandbox's http://127.0.0.1:PORT (check STRIPE_API_BASE)."
            )
        if not 0 < call_deadline < float("inf"):
            raise ConfigError(
                f"call_deadline must be a positive number of seconds, not {call_deadline!r}."
            )
        self.base_url = base_url.rstrip("/")
        #: The JSON decoder of answers (the sync passes a faster one for big pages).
        self.loads = loads
        self.auth = auth
        self.mode = mode
        self.call_deadline = call_deadline
        inner = transport if transport is not None else _transport(proxy=_env_proxy(base_url))
        self.retry = retry if retry is not None else RetryPolicy()
        self._http = httpx.Client(
            base_url=self.base_url,
            auth=auth,
            timeout=timeout,
            transport=RetryTransport(inner, self.retry, on_retry=on_retry),
            headers={
                "User-Agent": _USER_AGENT,
                "Accept": "application/json",
                "Stripe-Version": self.api_version,
            },
            follow_redirects=False,
            # Proxies from the environment go into ``inner`` (above), under the retry policy;
            # with trust_env the client would mount proxy transports that bypass it.
            trust_env=False,
        )

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        tokens: TokenSource,
        *,
        account_id: str | None = None,
        mode: Mode | None = None,
        margin: float = DEFAULT_MARGIN,
        clock: Callable[[], float] | None = None,
        **options: Any,
    ) -> ApiClient:
        """A client for ``settings.api_base`` using the stored tokens of (account, mode).

        A piece of the one door, :func:`~stripe_oauth_nb.connect` (``Connection.api`` is this
        client); the commands and forms that already hold settings and tokens call it directly.

        ``clock`` defaults to the token source's own ``clock`` (a TokenManager following a
        sandbox's moved clock), else the wall clock.
        """
        chosen: Mode = mode or settings.mode
        if clock is None:
            found = getattr(tokens, "clock", None)
            clock = found if callable(found) else time.time
        auth = TokenAuth(tokens, account_id, chosen == "live", margin=margin, clock=clock)
        options.setdefault("api_version", settings.api_version)
        return cls(auth, base_url=settings.api_base, mode=chosen, **options)

    # -- calls ---------------------------------------------------------------------------
    def request(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        data: Params | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """Send one call and return its JSON object; raise a typed error for an error answer.

        ``path`` is a path on the API base (``/v1/customers``); a full URL is refused, so the
        access token only ever goes to the base URL checked when the client was made.
        """
        if not isinstance(path, str) or not path.startswith("/") or path.startswith("//"):
            raise ValueError(
                f"{shown(path)} is not an API path: give a path such as /v1/customers (the "
                f"client sends its token only to {self.base_url})."
            )
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        try:
            with deadline(self.call_deadline) as end:
                response = self._http.request(
                    method,
                    path,
                    params=_clean(params),
                    data=_clean(data),
                    headers=headers,
                )
        except httpx.TimeoutException as exc:
            if time.monotonic() >= end:
                raise NetworkError(
                    f"{method} {path} did not finish in time: {self.base_url} answered too "
                    f"slowly ({type(exc).__name__} at the deadline; a call may take "
                    f"{self.call_deadline:g} s in all, retries included). Check your connection "
                    "and that the server is up, then try again."
                ) from None
            raise NetworkError(
                f"{method} {path} timed out after {self.retry.max_retries} retries "
                f"({type(exc).__name__}). Check your connection and that {self.base_url} is "
                "up, then try again."
            ) from None
        except httpx.TransportError as exc:
            raise NetworkError(
                f"{method} {path} could not reach {self.base_url} after "
                f"{self.retry.max_retries} retries ({type(exc).__name__}: "
                f"{mask_text(str(exc))}). Check your connection (or that the sandbox is "
                "running), then try again."
            ) from None
        if response.status_code >= 400:
            raise error_from_response(response)
        try:
            body = self.loads(response.content)
        except ValueError:
            raise StripeAPIError(
                f"{method} {path} answered {response.status_code} with something that is not "
                f"JSON. Check that the API base {self.base_url} is Stripe's API.",
                status=response.status_code,
            ) from None
        if not isinstance(body, dict):
            raise StripeAPIError(
                f"{method} {path} answered {response.status_code} with JSON that is not an "
                f"object, which Stripe's API never does. Check that the API base "
                f"{self.base_url} is Stripe's API (or the sandbox) and that {path} is an API "
                "path, e.g. /v1/customers.",
                status=response.status_code,
            )
        return body

    def get(self, path: str, params: Params | None = None) -> dict[str, Any]:
        """``GET path`` and its JSON object."""
        return self.request("GET", path, params=params)

    def post(
        self, path: str, data: Params | None = None, *, idempotency_key: str | None = None
    ) -> dict[str, Any]:
        """``POST path`` (form-encoded); retries reuse one ``Idempotency-Key``."""
        return self.request("POST", path, data=data, idempotency_key=idempotency_key)

    def list_all(
        self,
        path: str,
        params: Params | None = None,
        *,
        progress: PageProgress | None = None,
        total: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Every object of a list endpoint, 100 per request (see :func:`list_all`)."""
        from ._pagination import list_all

        return list_all(self, path, params, progress=progress, total=total)

    def dataframe(
        self,
        path: str,
        params: Params | None = None,
        *,
        columns: list[str] | None = None,
        progress: PageProgress | None = None,
        total: int | None = None,
    ) -> pandas.DataFrame:
        """Every object of a list endpoint as a pandas DataFrame (pandas needed)."""
        from ._pagination import to_dataframe

        rows = self.list_all(path, params, progress=progress, total=total)
        return to_dataframe(rows, columns=columns)

    # -- lifecycle -----------------------------------------------------------------------
    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called (a closed client sends nothing)."""
        return bool(self._http.is_closed)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"ApiClient(base_url={self.base_url!r}, mode={self.mode!r}, auth={self.auth!r})"


def _transport(proxy: str | None) -> httpx.BaseTransport:
    """The network transport: every connect, read and write ends at the call's deadline."""
    return transport(proxy=proxy)


def _env_proxy(base_url: str) -> str | None:
    """The proxy the environment names for ``base_url`` (``HTTPS_PROXY``…), unless bypassed."""
    import urllib.parse
    import urllib.request

    parts = urllib.parse.urlsplit(base_url)
    if not parts.hostname or is_loopback_host(parts.hostname):
        return None  # this machine is never reached through a proxy
    if urllib.request.proxy_bypass(parts.hostname):
        return None
    return urllib.request.getproxies().get(parts.scheme)


def _clean(params: Params | None) -> dict[str, str] | None:
    """Drop None values; booleans as Stripe spells them."""
    if params is None:
        return None
    out: dict[str, str] = {}
    for name, value in params.items():
        if value is None:
            continue
        out[name] = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return out


def error_from_response(response: httpx.Response) -> StripeAPIError:
    """The typed, masked, what-to-do error for an error answer (status >= 400)."""
    response.read()
    status = response.status_code
    fields = error_fields(response)
    code = fields.get("code") if isinstance(fields.get("code"), str) else None
    message = clean_server_text(
        fields.get("message") or response.reason_phrase or "no message", _MAX_MESSAGE
    )
    call = f"{response.request.method} {response.request.url.path}"
    request_id = _request_id(response)
    if status == 401:
        token = response.request.headers.get("Authorization", "")
        mode = key_mode(token.removeprefix("Bearer ").strip())
        if code == "api_key_expired":
            hint = (
                "The access token expired and refreshing it did not help. Run "
                "`stripe-oauth-nb tokens refresh` (or the tokens step of the walkthrough); if "
                "that fails, install the app again to get new tokens."
            )
        else:
            hint = (
                "Stripe did not accept the access token. Check that the tokens belong to this "
                f"target and mode ({mode or 'unknown'} mode), or install the app again."
            )
        return AuthenticationError(
            _with_request_id(f"{call} answered 401: {message} {hint}", request_id),
            status=401,
            code=code,
            request_id=request_id,
        )
    if status == 403:
        raw = str(fields.get("message") or "")
        match = _HAVING.search(raw) or _PERMISSION.search(raw)
        permission = match.group(1) if match else None
        if permission:
            hint = (
                f"Add the '{permission}' permission to the app's manifest (stripe-app.json), "
                "upload it (`stripe apps upload`; with the sandbox, register it again) and "
                "install the app again so the account grants it."
            )
        else:
            hint = "The app lacks a permission for this call: check the manifest's permissions."
        return PermissionDeniedError(
            _with_request_id(f"{call} answered 403: {message} {hint}", request_id),
            code=code,
            permission=permission,
            request_id=request_id,
        )
    if status == 429:
        hint = (
            "Stripe is rate-limiting these calls and retries did not get through: wait a "
            "minute and try again (test mode allows 25 reads per second)."
        )
    elif status >= 500:
        hint = "Stripe had a problem and retries did not help: try again in a few minutes."
    elif status == 404:
        hint = "Check the path and the object id (test and live objects are separate)."
    else:
        hint = "Check the parameters of the call against Stripe's API reference."
    return StripeAPIError(
        _with_request_id(f"{call} answered {status}: {message} {hint}", request_id),
        status=status,
        code=code,
        request_id=request_id,
    )


def _request_id(response: httpx.Response) -> str | None:
    """Stripe's ``Request-Id`` of the answer (what Stripe support asks for), if it has one."""
    value = response.headers.get("Request-Id", "").strip()
    return value if _REQUEST_ID.fullmatch(value) else None


def _with_request_id(message: str, request_id: str | None) -> str:
    if request_id is None:
        return message
    return f"{message} (Stripe request id {request_id}: quote it if you contact Stripe support.)"
