"""The sandbox's HTTP face: Stripe's consent page, token endpoint and API, plus ``/_sandbox/``.

Routes only translate between HTTP and :class:`~._state.SandboxState`; the rules live there.
JSON answers carry ``Request-Id`` and ``Stripe-Version`` like Stripe's.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import secrets
import string
from collections.abc import Awaitable, Callable
from typing import Any, Final
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from .._errors import SandboxError
from ._logs import expect_drop
from ._pages import PAGE_HEADERS, consent_page, error_page
from ._state import (
    APIFailure,
    ConsentFailure,
    Fault,
    OAuthFailure,
    Principal,
    SandboxState,
)

__all__ = ["API_VERSION", "create_app"]

#: The API version the sandbox answers with when the request names none.
API_VERSION: Final = "2025-06-30.basil"
_MAX_BODY: Final = 64 * 1024
_ALNUM: Final = string.ascii_letters + string.digits
_LIST_PARAMS: Final = frozenset({"limit", "starting_after", "ending_before", "email"})
_Handler = Callable[[Request], Awaitable[Response]]


def _request_id() -> str:
    return "req_" + "".join(secrets.choice(_ALNUM) for _ in range(14))


def _json(request: Request, body: Any, status: int = 200, **headers: str) -> Response:
    """A JSON answer with Stripe's headers (``headers`` use ``_`` for ``-``)."""
    payload = body if isinstance(body, bytes) else json.dumps(body).encode()
    response = Response(payload, status_code=status, media_type="application/json")
    response.headers["Request-Id"] = _request_id()
    response.headers["Stripe-Version"] = request.headers.get("stripe-version", API_VERSION)
    response.headers["Cache-Control"] = "no-cache, no-store"
    for name, value in headers.items():
        response.headers[name.replace("_", "-")] = value
    return response


def _failure(request: Request, failure: APIFailure | OAuthFailure) -> Response:
    status = failure.status if isinstance(failure, APIFailure) else 400
    return _json(request, failure.body(), status)


def _html(content: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(content, status_code=status, headers=dict(PAGE_HEADERS))


class _DroppedResponse(Response):
    """Send the status line and headers (with the full Content-Length), then hang up."""

    def __init__(self, inner: Response) -> None:
        super().__init__(inner.body, status_code=inner.status_code)
        self.raw_headers = inner.raw_headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        expect_drop()
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )
        # Returning without the body makes uvicorn close the connection mid-response.


def _api_key(request: Request) -> str | None:
    """The key from ``Authorization: Bearer KEY`` or Basic ``KEY:`` (user name)."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer":
        return value or None
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return "invalid"
        return decoded.partition(":")[0] or None
    return None


async def _form(request: Request) -> dict[str, str]:
    """A urlencoded body as a dict; a repeated field is a 400."""
    body = await request.body()
    if len(body) > _MAX_BODY:
        raise APIFailure(413, "Request body too large.")
    fields: dict[str, str] = {}
    try:
        pairs = parse_qsl(body.decode(), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError as exc:
        raise APIFailure(400, "The request body is not valid UTF-8 form data.") from exc
    for name, value in pairs:
        if name in fields:
            raise APIFailure(400, f"Parameter {name!r} was given more than once.", param=name)
        fields[name] = value
    return fields


def _with_query(uri: str, params: dict[str, str]) -> str:
    parts = urlsplit(uri)
    query = "&".join(q for q in (parts.query, urlencode(params)) if q)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


class _Routes:
    def __init__(self, state: SandboxState) -> None:
        self.state = state

    async def _run(self, request: Request, endpoint: str, handler: _Handler) -> Response:
        """Count the request, apply a pending fault, run the handler."""
        fault = self.state.begin_request(endpoint)
        if fault is not None:
            if fault.kind == "delay":
                await asyncio.sleep(fault.seconds)
            elif fault.kind == "error":
                body = {
                    "error": {
                        "type": "api_error",
                        "message": "An unexpected error occurred (sandbox fault injection).",
                    }
                }
                return _json(request, body, fault.status)
            elif fault.kind == "rate_limit":
                body = {
                    "error": {
                        "type": "invalid_request_error",
                        "code": "rate_limit",
                        "message": "Too many requests hit the API too quickly. We recommend an "
                        "exponential backoff of your requests.",
                    }
                }
                return _json(
                    request,
                    body,
                    429,
                    Retry_After=str(fault.retry_after),
                    Stripe_Should_Retry="true",
                )
        try:
            response = await handler(request)
        except (APIFailure, OAuthFailure) as failure:
            response = _failure(request, failure)
        if fault is not None and fault.kind == "drop":
            return _DroppedResponse(response)
        return response

    # --- consent page ------------------------------------------------------------------------

    async def authorize(self, request: Request) -> Response:
        link = request.path_params.get("link")
        if link is not None and not (link.startswith("chnlink_") and link[8:].isalnum()):
            raise HTTPException(404)
        return await self._run(request, "authorize", self._authorize)

    async def _authorize(self, request: Request) -> Response:
        try:
            if request.method == "GET":
                params: dict[str, str] = {}
                for name, value in request.query_params.multi_items():
                    if name in params:
                        raise ConsentFailure(f"The install link repeats {name!r}.")
                    params[name] = value
                return self._show_consent(request, params)
            try:
                fields = await _form(request)
            except APIFailure as failure:
                raise ConsentFailure(failure.message) from failure
            return self._decide(fields)
        except ConsentFailure as failure:
            return _html(error_page(str(failure)), 400)

    def _show_consent(self, request: Request, params: dict[str, str]) -> Response:
        authz = self.state.check_authorize(params.get("client_id"), params.get("redirect_uri"))
        hidden = {"client_id": authz.app.client_id(authz.mode), "redirect_uri": authz.redirect_uri}
        if "state" in params:
            hidden["state"] = params["state"]
        page = consent_page(
            app_name=authz.app.name,
            mode=authz.mode,
            permissions=[(p, authz.app.purposes.get(p, "")) for p in authz.app.permissions],
            action=request.url.path,
            hidden=hidden,
            accounts=self.state.installing_accounts(),
            redirect_uri=authz.redirect_uri,
        )
        return _html(page)

    def _decide(self, fields: dict[str, str]) -> Response:
        # Hidden fields are user input: validate them exactly as on the GET.
        authz = self.state.check_authorize(fields.get("client_id"), fields.get("redirect_uri"))
        decision = fields.get("decision")
        params: dict[str, str]
        if decision == "accept":
            params = {"code": self.state.issue_code(authz, fields.get("account") or None)}
        elif decision == "deny":
            params = {
                "error": "access_denied",
                "error_description": "The user denied your request",
            }
        else:
            raise ConsentFailure("The form must be sent with decision=accept or decision=deny.")
        if "state" in fields:
            params["state"] = fields["state"]
        location = _with_query(authz.redirect_uri, params)
        return Response(status_code=302, headers={"Location": location, **PAGE_HEADERS})

    # --- token endpoint ----------------------------------------------------------------------

    async def token(self, request: Request) -> Response:
        return await self._run(request, "token", self._token)

    async def _token(self, request: Request) -> Response:
        key = _api_key(request)
        self.state.developer_key_mode(key)  # 401 before anything else, like Stripe
        try:
            fields = await _form(request)
        except APIFailure as failure:
            raise OAuthFailure("invalid_request", failure.message) from failure
        grant_type = fields.get("grant_type")
        if not grant_type:
            raise OAuthFailure("invalid_request", "No grant type specified.")
        self.state.count_grant(grant_type)
        if grant_type == "authorization_code":
            code = fields.get("code")
            if not code:
                raise OAuthFailure("invalid_request", "No authorization code provided.")
            body = self.state.exchange_code(key, code)
        elif grant_type == "refresh_token":
            refresh = fields.get("refresh_token")
            if not refresh:
                raise OAuthFailure("invalid_request", "No refresh token provided.")
            body = self.state.refresh(key, refresh)
        else:
            raise OAuthFailure(
                "unsupported_grant_type",
                f"Unsupported grant type: {grant_type[:40]!r}. Use authorization_code or "
                "refresh_token.",
            )
        return _json(request, body)

    # --- API ---------------------------------------------------------------------------------

    def _principal(self, request: Request) -> Principal:
        return self.state.authenticate(_api_key(request))

    async def account(self, request: Request) -> Response:
        return await self._run(request, "account", self._account)

    async def _account(self, request: Request) -> Response:
        principal = self._principal(request)
        return _json(request, principal.account.to_object(livemode=principal.livemode))

    async def customers(self, request: Request) -> Response:
        return await self._run(request, "customers", self._customers)

    async def _customers(self, request: Request) -> Response:
        principal = self._principal(request)
        self.state.require(principal, "customer_read")
        query = request.query_params
        for name in query:
            if name not in _LIST_PARAMS:
                raise APIFailure(
                    400,
                    f"Received unknown parameter: {name[:60]}",
                    code="parameter_unknown",
                    param=name[:60],
                )
        limit = _limit(query.get("limit"))
        after, before = query.get("starting_after"), query.get("ending_before")
        if after and before:
            raise APIFailure(
                400,
                "You may only specify one of these parameters: ending_before, starting_after.",
                param="ending_before",
            )
        account = principal.account
        # Positions into account.customers, newest first (all of them, or the email matches).
        rows: range | list[int] = range(len(account.customers))
        index = account.index
        email = query.get("email")
        if email is not None:
            rows = [i for i, c in enumerate(account.customers) if c["email"] == email]
            index = {account.customers[i]["id"]: n for n, i in enumerate(rows)}
        if after or before:
            cursor = after or before
            param = "starting_after" if after else "ending_before"
            position = index.get(cursor or "")
            if position is None:
                raise APIFailure(
                    400,
                    f"No such customer: '{(cursor or '')[:60]}'",
                    code="resource_missing",
                    param=param,
                )
            if after:
                page, has_more = (
                    rows[position + 1 : position + 1 + limit],
                    position + 1 + limit < len(rows),
                )
            else:
                start = max(0, position - limit)
                page, has_more = rows[start:position], start > 0
        else:
            page, has_more = rows[:limit], limit < len(rows)
        data = b",".join(account.customer_json(i, livemode=principal.livemode) for i in page)
        more = b"true" if has_more else b"false"
        body = b'{"object":"list","data":[%s],"has_more":%s,"url":"/v1/customers"}' % (data, more)
        return _json(request, body)

    async def customer(self, request: Request) -> Response:
        return await self._run(request, "customers", self._customer)

    async def _customer(self, request: Request) -> Response:
        principal = self._principal(request)
        self.state.require(principal, "customer_read")
        customer_id = request.path_params["customer_id"]
        position = principal.account.index.get(customer_id)
        if position is None:
            raise APIFailure(
                404, f"No such customer: '{customer_id[:60]}'", code="resource_missing", param="id"
            )
        return _json(
            request, principal.account.customer_json(position, livemode=principal.livemode)
        )

    # --- controls ----------------------------------------------------------------------------

    async def control(self, request: Request) -> Response:
        name = request.path_params["name"]
        try:
            body = await _control_body(request)
            result = self._control(request.method, name, body)
        except SandboxError as exc:
            return _json(
                request, {"error": {"type": "invalid_request_error", "message": str(exc)}}, 400
            )
        if result is None:
            raise HTTPException(404)
        return _json(request, result)

    def _control(self, method: str, name: str, body: dict[str, Any]) -> Any:
        state = self.state
        if name == "stats" and method == "GET":
            return state.stats()
        if name == "clock":
            if method == "POST":
                state.advance_clock(body.get("seconds", 0))
            return {"now": state.now()}
        if name == "faults":
            if method == "POST":
                state.add_fault(_fault_from(body))
            return {"faults": [f.to_json() for f in state.faults()]}
        if name == "reset" and method == "POST":
            state.reset()
            return {"reset": True}
        if name == "apps":
            if method == "POST":
                return state.register_app(body).to_json()
            return {"apps": [a.to_json() for a in state.apps()]}
        return None

    # --- fallbacks ---------------------------------------------------------------------------

    async def not_found(self, request: Request, exc: Exception) -> Response:
        self.state.begin_request("not_found")
        message = (
            f"Unrecognized request URL ({request.method}: {request.url.path[:200]}). Please see "
            "https://stripe.com/docs or we can help at https://support.stripe.com/."
        )
        return _json(request, {"error": {"type": "invalid_request_error", "message": message}}, 404)


def _limit(raw: str | None) -> int:
    if raw is None:
        return 10
    try:
        limit = int(raw)
    except ValueError:
        raise APIFailure(
            400, f"Invalid integer: {raw[:40]}", code="parameter_invalid_integer", param="limit"
        ) from None
    if not 1 <= limit <= 100:
        raise APIFailure(
            400,
            f"This value must be between 1 and 100 (it currently is '{limit}').",
            code="parameter_invalid_integer",
            param="limit",
        )
    return limit


async def _control_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise SandboxError(f"Control requests take a JSON object: {exc}") from exc
    if not isinstance(body, dict):
        raise SandboxError("Control requests take a JSON object.")
    return body


def _fault_from(body: dict[str, Any]) -> Fault:
    allowed = {"endpoint", "kind", "times", "status", "seconds", "retry_after"}
    unknown = set(body) - allowed
    if unknown:
        raise SandboxError(f"Unknown fault fields {sorted(unknown)}; use {sorted(allowed)}.")
    if "endpoint" not in body or "kind" not in body:
        raise SandboxError("A fault needs 'endpoint' and 'kind'.")
    return Fault(**body)


def create_app(state: SandboxState) -> Starlette:
    """The ASGI app serving ``state`` (marketplace and API on one origin)."""
    routes = _Routes(state)
    return Starlette(
        routes=[
            Route("/oauth/v2/authorize", routes.authorize, methods=["GET", "POST"]),
            Route("/oauth/v2/{link}/authorize", routes.authorize, methods=["GET", "POST"]),
            Route("/v1/oauth/token", routes.token, methods=["POST"]),
            Route("/v1/account", routes.account, methods=["GET"]),
            Route("/v1/customers", routes.customers, methods=["GET"]),
            Route("/v1/customers/{customer_id}", routes.customer, methods=["GET"]),
            Route("/_sandbox/{name}", routes.control, methods=["GET", "POST"]),
        ],
        exception_handlers={404: routes.not_found, 405: routes.not_found},
    )
