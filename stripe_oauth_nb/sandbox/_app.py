"""The sandbox's HTTP face: Stripe's consent page, token endpoint and API, plus ``/_sandbox/``.

Routes only translate between HTTP and :class:`~._state.SandboxState` (the rules live there and
in the modules it uses). Every API answer carries ``Request-Id`` (``req_…``) and
``Stripe-Version``; every API error carries ``request_log_url`` once the caller is known.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import secrets
import string
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import Any, Final
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from .._errors import SandboxError
from ._expand import KIND_OF, ExpandError, Tree, plan_expansions
from ._failures import APIFailure, ConsentFailure, OAuthFailure
from ._faults import Fault
from ._grants import Principal
from ._lists import find, missing, select
from ._logs import expect_drop
from ._pages import PAGE_HEADERS, consent_page, error_page
from ._query import LIST_PARAMS, RETRIEVE_PARAMS, Params, parse_params
from ._render import Renderer, account_json, list_body
from ._rules import MODES, Mode
from ._state import SandboxState
from ._stripe_paths import is_stripe_endpoint
from ._sublists import SUBLISTS, SubList, page
from ._versions import API_VERSION, is_legacy, valid_version
from ._world import RESOURCES, LongLists, World, api_path

__all__ = ["create_app"]

_log = logging.getLogger("stripe_oauth_nb.sandbox")

_MAX_BODY: Final = 64 * 1024
_ALNUM: Final = string.ascii_letters + string.digits
#: Resources with a Search API on Stripe (``/v1/<resource>/search``), which the sandbox lacks.
_SEARCHABLE: Final = frozenset(
    {"charges", "customers", "invoices", "payment_intents", "prices", "products", "subscriptions"}
)
_SERVED: Final = (
    "POST /v1/oauth/token, GET /v1/account, GET /v1/<resource> and /v1/<resource>/<id> for "
    + ", ".join(api_path(r)[4:] for r in RESOURCES)
    + ", GET /v1/balance, and "
    + ", ".join(spec.path.replace("{parent}", "{id}") for spec in SUBLISTS)
)


@dataclass
class _Call:
    """One API request as the handlers see it."""

    request_id: str
    version: str
    mode: Mode | None = None

    @property
    def legacy(self) -> bool:
        return is_legacy(self.version)

    def log_url(self) -> str | None:
        if self.mode is None:
            return None
        where = "test/" if self.mode == "test" else ""
        return f"https://dashboard.stripe.com/{where}logs/{self.request_id}"


_Handler = Callable[[Request, _Call], Awaitable[Response]]


def _request_id() -> str:
    return "req_" + "".join(secrets.choice(_ALNUM) for _ in range(14))


def _json(
    body: Any,
    status: int = 200,
    *,
    call: _Call | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """A JSON answer with Stripe's headers."""
    if isinstance(body, str):
        payload = body.encode()
    elif isinstance(body, bytes):
        payload = body
    else:
        payload = json.dumps(body).encode()
    response = Response(payload, status_code=status, media_type="application/json")
    response.headers["Request-Id"] = call.request_id if call else _request_id()
    response.headers["Stripe-Version"] = call.version if call else API_VERSION
    response.headers["Cache-Control"] = "no-cache, no-store"
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _failure(failure: APIFailure | OAuthFailure, call: _Call) -> Response:
    if isinstance(failure, OAuthFailure):
        return _json(failure.body(), 400, call=call)
    return _json(failure.body(call.log_url()), failure.status, call=call, headers=failure.headers)


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


def _query_pairs(request: Request) -> list[tuple[str, str]]:
    return list(request.query_params.multi_items())


def _rate_limited(reason: str | None, retry_after: int) -> APIFailure:
    """Stripe's 429; ``reason`` (``global-rate``, ``endpoint-rate``) None for an injected one."""
    headers = {"Retry-After": str(retry_after), "Stripe-Should-Retry": "true"}
    if reason is not None:
        headers["Stripe-Rate-Limited-Reason"] = reason
    return APIFailure(
        429,
        "Too many requests hit the API too quickly. We recommend an exponential backoff of "
        "your requests.",
        code="rate_limit",
        headers=headers,
    )


class _Routes:
    def __init__(self, state: SandboxState, info: Callable[[], dict[str, Any]]) -> None:
        self.state = state
        self.info = info

    async def _run(self, request: Request, endpoint: str, handler: _Handler) -> Response:
        """Latency, stats, a pending fault, the version check, then the handler."""
        call = _Call(_request_id(), API_VERSION)
        latency = self.state.latency if endpoint != "authorize" else 0.0
        if latency:
            await asyncio.sleep(latency / 2)
        response = await self._answer(request, endpoint, handler, call)
        if latency:
            await asyncio.sleep(latency / 2)
        return response

    async def _answer(
        self, request: Request, endpoint: str, handler: _Handler, call: _Call
    ) -> Response:
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
                return _json(body, fault.status, call=call)
            elif fault.kind == "rate_limit":
                limited = _rate_limited(None, fault.retry_after)
                return _json(limited.body(), 429, call=call, headers=limited.headers)
        try:
            version = request.headers.get("stripe-version")
            if version is not None and endpoint != "authorize":
                if not valid_version(version):
                    raise APIFailure(
                        400,
                        f"Invalid Stripe API version: {version[:60]}. Use a version from "
                        "https://docs.stripe.com/upgrades (this sandbox's objects follow "
                        f"{API_VERSION}).",
                    )
                call.version = version
            response = await handler(request, call)
        except (APIFailure, OAuthFailure) as failure:
            response = _failure(failure, call)
        except Exception:  # a sandbox bug: answer like Stripe's 500, keep serving
            _log.exception("The sandbox failed on %s %s", request.method, request.url.path)
            body = {
                "error": {
                    "type": "api_error",
                    "message": "The sandbox failed on this request (a bug in the sandbox; its "
                    "log has the details).",
                }
            }
            response = _json(body, 500, call=call)
        if fault is not None and fault.kind == "drop":
            return _DroppedResponse(response)
        return response

    # --- consent page ------------------------------------------------------------------------

    async def authorize(self, request: Request) -> Response:
        link = request.path_params.get("link")
        if link is not None and not (link.startswith("chnlink_") and link[8:].isalnum()):
            raise HTTPException(404)
        return await self._run(request, "authorize", self._authorize)

    async def _authorize(self, request: Request, call: _Call) -> Response:
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

    async def _token(self, request: Request, call: _Call) -> Response:
        key = _api_key(request)
        mode = self.state.developer_key_mode(key)  # 401 before anything else, like Stripe
        call.mode = mode
        refusal = self.state.admit_developer(mode, "POST /v1/oauth/token")
        if refusal is not None:
            raise _rate_limited(refusal.reason, refusal.retry_after)
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
        return _json(body, call=call)

    # --- API ---------------------------------------------------------------------------------

    def _caller(self, request: Request, call: _Call, endpoint: str) -> Principal:
        """Authenticate (401), then count the request against its account's rate limits."""
        principal = self.state.authenticate(_api_key(request))
        call.mode = principal.mode
        refusal = self.state.admit(principal, endpoint)
        if refusal is not None:
            raise _rate_limited(refusal.reason, refusal.retry_after)
        return principal

    def _expansions(
        self, principal: Principal, kind: str, params: Params, *, on_list: bool, legacy: bool
    ) -> Tree:
        try:
            tree, reads = plan_expansions(kind, params.expand, on_list=on_list, legacy=legacy)
        except ExpandError as error:
            raise APIFailure(error.status, error.message, param="expand") from None
        for resource in sorted(reads):
            self.state.require(principal, resource)
        return tree

    async def account(self, request: Request) -> Response:
        return await self._run(request, "account", self._account)

    async def _account(self, request: Request, call: _Call) -> Response:
        principal = self._caller(request, call, "GET /v1/account")
        params = parse_params(_query_pairs(request), RETRIEVE_PARAMS["account"])
        self._expansions(principal, "account", params, on_list=False, legacy=call.legacy)
        return _json(account_json(principal.account), call=call)

    def _read(
        self, request: Request, call: _Call, resource: str, *, on_list: bool
    ) -> tuple[Params, Tree, World]:
        """Authenticate, rate-limit, check the permission, parse the parameters and plan the
        expansions of a list (``on_list``) or retrieve request; and the caller's world."""
        route = f"GET {api_path(resource)}" if on_list else f"GET {api_path(resource)}/{{id}}"
        principal = self._caller(request, call, route)
        self.state.require(principal, resource)
        spec = LIST_PARAMS[resource] if on_list else RETRIEVE_PARAMS[resource]
        params = parse_params(_query_pairs(request), spec)
        tree = self._expansions(
            principal, KIND_OF[resource], params, on_list=on_list, legacy=call.legacy
        )
        return params, tree, self.state.world(principal.account, principal.mode)

    def _renderer(self, world: World, call: _Call) -> Renderer:
        return Renderer(world, now=int(self.state.now()), legacy=call.legacy, version=call.version)

    def lister(self, resource: str) -> Callable[[Request], Awaitable[Response]]:
        async def handler(request: Request, call: _Call) -> Response:
            params, tree, world = self._read(request, call, resource, on_list=True)
            with self.state.lock:
                renderer = self._renderer(world, call)
                positions, has_more = select(world, resource, params, renderer.now)
                data = [renderer.at(resource, p, tree) for p in positions]
            return _json(list_body(data, has_more, api_path(resource)), call=call)

        return self._routed(resource, handler)

    def retriever(self, resource: str) -> Callable[[Request], Awaitable[Response]]:
        async def handler(request: Request, call: _Call) -> Response:
            object_id = request.path_params["object_id"]
            if object_id == "search" and resource in _SEARCHABLE:
                return self._unserved(request, call)
            _, tree, world = self._read(request, call, resource, on_list=False)
            with self.state.lock:
                renderer = self._renderer(world, call)
                try:
                    position = find(world, resource, object_id, "id", renderer.now)
                except APIFailure:
                    raise missing(resource, object_id, "id", status=404) from None
                body = renderer.at(resource, position, tree)
            return _json(body, call=call)

        return self._routed(resource, handler)

    def sublister(self, spec: SubList) -> Callable[[Request], Awaitable[Response]]:
        """A sub-list endpoint (``/v1/invoices/{id}/lines``, ``/v1/subscription_items``...)."""

        async def handler(request: Request, call: _Call) -> Response:
            principal = self._caller(request, call, spec.route)
            self.state.require(principal, spec.needs or spec.parent)
            params = parse_params(_query_pairs(request), spec.params)
            if spec.query_parent is None:
                parent_id, in_path = request.path_params["parent"], True
            else:
                parent_id, in_path = params.values.get(spec.query_parent), False
                if parent_id is None and spec.optional_parent:
                    # Payment methods of no customer (Treasury's): the sandbox has none.
                    self._expansions(principal, spec.kind, params, on_list=True, legacy=call.legacy)
                    return _json(list_body([], False, spec.path), call=call)
                if parent_id is None:
                    raise APIFailure(
                        400,
                        f"Missing required param: {spec.query_parent}.",
                        code="parameter_missing",
                        param=spec.query_parent,
                    )
            tree = self._expansions(principal, spec.kind, params, on_list=True, legacy=call.legacy)
            world = self.state.world(principal.account, principal.mode)
            with self.state.lock:
                renderer = self._renderer(world, call)
                parent, positions, has_more = page(
                    world, spec, parent_id, params, renderer.now, in_path=in_path
                )
                data = [spec.render(renderer, p, parent, tree) for p in positions]
                url = spec.url(world.table(spec.parent).rows[parent].id)
            return _json(list_body(data, has_more, url), call=call)

        return self._routed(spec.name, handler)

    def child_retriever(
        self,
        name: str,
        resource: str,
        kind: str,
        render: Callable[[Renderer, str, Tree], str | None],
    ) -> Callable[[Request], Awaitable[Response]]:
        """``GET <path>/{id}`` of an object that lives in another resource's rows (a
        subscription item, a customer's card): ``resource``'s permission, ``expand[]``, and
        ``render`` (None: no such object, 404)."""

        async def handler(request: Request, call: _Call) -> Response:
            principal = self._caller(request, call, f"GET /v1/{name}/{{id}}")
            self.state.require(principal, resource)
            params = parse_params(_query_pairs(request), {"expand": "array"})
            tree = self._expansions(principal, kind, params, on_list=False, legacy=call.legacy)
            world = self.state.world(principal.account, principal.mode)
            object_id = request.path_params["object_id"]
            with self.state.lock:
                body = render(self._renderer(world, call), object_id, tree)
            if body is None:
                raise missing(name, object_id, "id", status=404)
            return _json(body, call=call)

        return self._routed(name, handler)

    async def balance(self, request: Request) -> Response:
        return await self._run(request, "balance", self._balance)

    async def _balance(self, request: Request, call: _Call) -> Response:
        principal = self._caller(request, call, "GET /v1/balance")
        self.state.require(principal, "balance")
        params = parse_params(_query_pairs(request), {"expand": "array"})
        self._expansions(principal, "balance", params, on_list=False, legacy=call.legacy)
        world = self.state.world(principal.account, principal.mode)
        with self.state.lock:
            body = self._renderer(world, call).balance()
        return _json(body, call=call)

    def _routed(self, resource: str, handler: _Handler) -> Callable[[Request], Awaitable[Response]]:
        async def route(request: Request) -> Response:
            return await self._run(request, resource, handler)

        return route

    # --- controls ----------------------------------------------------------------------------

    async def control(self, request: Request) -> Response:
        name = request.path_params["name"]
        try:
            body = await _control_body(request)
            result = self._control(request.method, name, body, dict(request.query_params))
        except SandboxError as exc:
            return _json({"error": {"type": "invalid_request_error", "message": str(exc)}}, 400)
        if result is None:
            raise HTTPException(404)
        return _json(result)

    def _control(self, method: str, name: str, body: dict[str, Any], query: dict[str, str]) -> Any:
        state = self.state
        if name == "stats" and method == "GET":
            return state.stats()
        if name == "info" and method == "GET":
            return self.info()
        if name == "clock":
            if method == "POST":
                state.advance_clock(body.get("seconds", 0))
            return {"now": state.now()}
        if name == "simulate" and method == "POST":
            _only(body, {"days"})
            return state.simulate(body.get("days"))  # type: ignore[arg-type]
        if name == "counts" and method == "GET":
            _only(query, {"account", "mode"})
            mode = query.get("mode", "test")
            if mode not in MODES:
                raise SandboxError(f"mode must be 'test' or 'live', not {mode!r}.")
            account = state.account(query.get("account"))
            counts = state.counts(account.id, mode)
            return {"account": account.id, "mode": mode, "now": state.now(), "counts": counts}
        if name == "accounts":
            if method == "POST":
                _only(body, {"name", "customers", "long_lists"})
                account_id = state.add_account(
                    body.get("name", ""),
                    customers=body.get("customers", 0),
                    long_lists=_long_lists(body.get("long_lists")),
                )
                return asdict(state.account(account_id))
            accounts = [asdict(state.account(a)) for a, _ in state.installing_accounts()]
            return {"accounts": accounts}
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

    def _unserved(self, request: Request, call: _Call) -> Response:
        path = request.url.path[:200]
        message = (
            f"The sandbox does not serve {request.method} {path}: it is a Stripe endpoint, but "
            f"the sandbox answers only {_SERVED}. Use real Stripe for it."
        )
        return _json(
            {"error": {"type": "invalid_request_error", "message": message}}, 404, call=call
        )

    async def not_found(self, request: Request, exc: Exception) -> Response:
        self.state.begin_request("not_found")
        if self.state.latency and not request.url.path.startswith("/_sandbox/"):
            await asyncio.sleep(self.state.latency)
        call = _Call(_request_id(), API_VERSION)
        if is_stripe_endpoint(request.url.path) and not request.url.path.startswith("/_sandbox"):
            return self._unserved(request, call)
        message = (
            f"Unrecognized request URL ({request.method}: {request.url.path[:200]}). Please see "
            "https://stripe.com/docs or we can help at https://support.stripe.com/."
        )
        return _json(
            {"error": {"type": "invalid_request_error", "message": message}}, 404, call=call
        )


def _only(fields: dict[str, Any], allowed: set[str]) -> None:
    unknown = set(fields) - allowed
    if unknown:
        raise SandboxError(f"Unknown fields {sorted(unknown)}; use {sorted(allowed)}.")


def _subscription_item(renderer: Renderer, object_id: str, tree: Tree) -> str | None:
    world = renderer.w
    position = world.subscription_items.find(object_id)
    if position is None:
        return None
    sub = world.subscriptions.rows[world.subscription_items.rows[position].subscription]
    return renderer.subscription_item(position, sub, tree)


def _payment_method(renderer: Renderer, object_id: str, tree: Tree) -> str | None:
    """A customer's card: ``pm_<customer id without cus_>Card``."""
    if not (object_id.startswith("pm_") and object_id.endswith("Card")):
        return None
    position = renderer.w.customers.find("cus_" + object_id[3:-4])
    if position is None:
        return None
    return renderer.render("payment_methods", renderer.w.customers.rows[position], tree)


def _long_lists(value: Any) -> LongLists | None:
    """``{"invoices", "lines", "subscriptions", "items", "credit_notes"}`` as a LongLists."""
    if value is None:
        return None
    allowed = {"invoices", "lines", "subscriptions", "items", "credit_notes"}
    if not isinstance(value, dict):
        raise SandboxError(f"long_lists must be an object with some of {sorted(allowed)}.")
    _only(value, allowed)
    return LongLists(**value)


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


def create_app(state: SandboxState, info: Callable[[], dict[str, Any]]) -> Starlette:
    """The ASGI app serving ``state`` (marketplace and API on one origin); ``info`` answers
    ``GET /_sandbox/info``."""
    routes = _Routes(state, info)
    table = [
        Route("/oauth/v2/authorize", routes.authorize, methods=["GET", "POST"]),
        Route("/oauth/v2/{link}/authorize", routes.authorize, methods=["GET", "POST"]),
        Route("/v1/oauth/token", routes.token, methods=["POST"]),
        Route("/v1/account", routes.account, methods=["GET"]),
        Route("/_sandbox/{name}", routes.control, methods=["GET", "POST"]),
    ]
    for spec in SUBLISTS:
        table.append(Route(spec.path, routes.sublister(spec), methods=["GET"]))
    for name, resource, kind, render in (
        ("subscription_items", "subscriptions", "subscription_item", _subscription_item),
        ("payment_methods", "payment_methods", "payment_method", _payment_method),
    ):
        handler = routes.child_retriever(name, resource, kind, render)
        table.append(Route(f"/v1/{name}/{{object_id}}", handler, methods=["GET"]))
    table.append(Route("/v1/balance", routes.balance, methods=["GET"]))
    for resource in RESOURCES:
        path = api_path(resource)
        table.append(Route(path, routes.lister(resource), methods=["GET"]))
        table.append(Route(f"{path}/{{object_id}}", routes.retriever(resource), methods=["GET"]))
    app = Starlette(routes=table, exception_handlers={404: routes.not_found, 405: routes.not_found})
    app.router.redirect_slashes = False  # Stripe answers /v1/customers/ with 404
    return app
