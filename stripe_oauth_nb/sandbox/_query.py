"""Query parameters the way Stripe reads them: bracketed names, typed values, Stripe's errors.

``created[gte]=1`` is a range, ``expand[]=a`` or ``expand[0]=a`` an array, ``recurring[interval]``
a hash. Each endpoint accepts exactly the parameters Stripe's OpenAPI document lists for it
(:data:`LIST_PARAMS`); anything else is ``parameter_unknown``. Every refusal is an
:class:`APIFailure` with ``param`` set.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from ._failures import APIFailure
from ._rules import LIST_LIMIT_DEFAULT, LIST_LIMIT_MAX

__all__ = [
    "LIST_PARAMS",
    "RETRIEVE_PARAMS",
    "Params",
    "Range",
    "parse_params",
]

#: Parameter kinds: ``int``, ``str``, ``bool``, ``range`` (an integer or gt/gte/lt/lte),
#: ``array`` (of strings), ``enum:a,b`` and ``hash:key=kind;key=kind``.
_COMMON: Final = {
    "created": "range",
    "ending_before": "str",
    "expand": "array",
    "limit": "int",
    "starting_after": "str",
}
#: Lists without a ``created`` filter (Stripe's OpenAPI document lists none for them).
_PAGING: Final = {k: v for k, v in _COMMON.items() if k != "created"}
_INTERVALS: Final = "enum:day,month,week,year"
LIST_PARAMS: Final[dict[str, dict[str, str]]] = {
    "customers": {**_COMMON, "email": "str", "test_clock": "str"},
    "products": {**_COMMON, "active": "bool", "ids": "array", "shippable": "bool", "url": "str"},
    "prices": {
        **_COMMON,
        "active": "bool",
        "currency": "str",
        "lookup_keys": "array",
        "product": "str",
        "recurring": f"hash:interval={_INTERVALS};usage_type=enum:licensed,metered",
        "type": "enum:one_time,recurring",
    },
    "subscriptions": {
        **_COMMON,
        "automatic_tax": "hash:enabled=bool",
        "collection_method": "enum:charge_automatically,send_invoice",
        "current_period_end": "range",
        "current_period_start": "range",
        "customer": "str",
        "price": "str",
        "status": (
            "enum:active,all,canceled,ended,incomplete,incomplete_expired,past_due,paused,"
            "trialing,unpaid"
        ),
        "test_clock": "str",
    },
    "invoices": {
        **_COMMON,
        "collection_method": "enum:charge_automatically,send_invoice",
        "customer": "str",
        "due_date": "range",
        "status": "enum:draft,open,paid,uncollectible,void",
        "subscription": "str",
    },
    "charges": {**_COMMON, "customer": "str", "payment_intent": "str", "transfer_group": "str"},
    "payment_intents": {**_COMMON, "customer": "str"},
    "refunds": {**_COMMON, "charge": "str", "payment_intent": "str"},
    "balance_transactions": {
        **_COMMON,
        "currency": "str",
        "payout": "str",
        "source": "str",
        "type": "str",
    },
    "payouts": {**_COMMON, "arrival_date": "range", "destination": "str", "status": "str"},
    "disputes": {**_COMMON, "charge": "str", "payment_intent": "str"},
    "events": {**_COMMON, "delivery_success": "bool", "type": "str", "types": "array"},
    "coupons": dict(_COMMON),
    "promotion_codes": {
        **_COMMON,
        "active": "bool",
        "code": "str",
        "coupon": "str",
        "customer": "str",
    },
    "tax_rates": {**_COMMON, "active": "bool", "inclusive": "bool"},
    "invoiceitems": {**_COMMON, "customer": "str", "invoice": "str", "pending": "bool"},
    "setup_intents": {
        **_COMMON,
        "attach_to_self": "bool",
        "customer": "str",
        "payment_method": "str",
    },
    "checkout_sessions": {
        **_PAGING,
        "customer": "str",
        "customer_details": "hash:email=str",
        "payment_intent": "str",
        "payment_link": "str",
        "subscription": "str",
    },
    "credit_notes": {**_PAGING, "customer": "str", "invoice": "str"},
    "subscription_schedules": {
        **_COMMON,
        "canceled_at": "range",
        "completed_at": "range",
        "customer": "str",
        "released_at": "range",
        "scheduled": "bool",
    },
}
#: Parameters of ``GET /v1/<resource>/{id}`` (and of ``GET /v1/account``: ``account``).
RETRIEVE_PARAMS: Final[dict[str, dict[str, str]]] = {
    **{resource: {"expand": "array"} for resource in LIST_PARAMS},
    "payment_intents": {"expand": "array", "client_secret": "str"},
    "setup_intents": {"expand": "array", "client_secret": "str"},
    "account": {"expand": "array"},
}
_NAME: Final = re.compile(r"^([A-Za-z0-9_]+)((?:\[[^\[\]]*\])*)$")
_SUBSCRIPT: Final = re.compile(r"\[([^\[\]]*)\]")
_INTEGER: Final = re.compile(r"^[+-]?\d{1,18}$")
_MAX_STRING: Final = 5000
_RANGE_KEYS: Final = ("gt", "gte", "lt", "lte")


@dataclass(frozen=True)
class Range:
    """``created`` (or another timestamp) bounds, inclusive: ``low <= t <= high``."""

    low: int | None = None
    high: int | None = None

    def contains(self, value: int | None) -> bool:
        if value is None:
            return False
        return (self.low is None or value >= self.low) and (self.high is None or value <= self.high)


@dataclass
class Params:
    """A request's parameters, typed; ``values`` holds every parameter except the list ones."""

    limit: int = LIST_LIMIT_DEFAULT
    starting_after: str | None = None
    ending_before: str | None = None
    created: Range | None = None
    expand: list[str] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)


def _unknown(name: str) -> APIFailure:
    return APIFailure(
        400, f"Received unknown parameter: {name[:100]}", code="parameter_unknown", param=name[:100]
    )


def _integer(name: str, raw: str) -> int:
    if raw == "":
        raise _empty(name)
    if not _INTEGER.match(raw.strip()):
        raise APIFailure(
            400, f"Invalid integer: {raw[:40]}", code="parameter_invalid_integer", param=name
        )
    return int(raw)


def _empty(name: str) -> APIFailure:
    return APIFailure(
        400,
        f"You passed an empty string for '{name}'. We assume empty values are an attempt to "
        f"unset a parameter; however '{name}' cannot be unset. You should remove '{name}' "
        "from your request or supply a non-empty value.",
        code="parameter_invalid_empty",
        param=name,
    )


def _string(name: str, raw: str) -> str:
    if raw == "":
        raise _empty(name)
    if len(raw) > _MAX_STRING:
        raise APIFailure(
            400,
            f"Invalid string: {raw[:20]}...; must be at most {_MAX_STRING} characters",
            code="parameter_invalid_string",
            param=name,
        )
    return raw


def _boolean(name: str, raw: str) -> bool:
    if raw in ("true", "false"):
        return raw == "true"
    if raw == "":
        raise _empty(name)
    raise APIFailure(400, f"Invalid boolean: {raw[:40]}", param=name)


def _enum(name: str, raw: str, choices: Sequence[str]) -> str:
    if raw == "":
        raise _empty(name)
    if raw not in choices:
        raise APIFailure(
            400,
            f"Invalid {name.split('[')[-1].rstrip(']')}: must be one of {', '.join(choices)}",
            param=name,
        )
    return raw


def _scalar(name: str, kind: str, raw: str) -> Any:
    if kind == "int":
        return _integer(name, raw)
    if kind == "bool":
        return _boolean(name, raw)
    if kind.startswith("enum:"):
        return _enum(name, raw, kind[5:].split(","))
    return _string(name, raw)


def _range(name: str, entries: list[tuple[tuple[str, ...], str]]) -> Range:
    if len(entries) == 1 and entries[0][0] == ():
        value = _integer(name, entries[0][1])
        return Range(value, value)
    low: int | None = None
    high: int | None = None
    seen: set[str] = set()
    for subscripts, raw in entries:
        full = name + "".join(f"[{s}]" for s in subscripts)
        if len(subscripts) != 1 or subscripts[0] not in _RANGE_KEYS:
            if subscripts == ():
                raise APIFailure(400, f"Invalid hash: {name}", param=name)
            raise _unknown(full)
        key = subscripts[0]
        if key in seen:
            raise APIFailure(400, f"Parameter {full} was given more than once.", param=full)
        seen.add(key)
        value = _integer(full, raw)
        if key == "gt":
            low = max(low, value + 1) if low is not None else value + 1
        elif key == "gte":
            low = max(low, value) if low is not None else value
        elif key == "lt":
            high = min(high, value - 1) if high is not None else value - 1
        else:
            high = min(high, value) if high is not None else value
    return Range(low, high)


def _array(name: str, entries: list[tuple[tuple[str, ...], str]]) -> list[str]:
    indexed: list[tuple[int, int, str]] = []
    for order, (subscripts, raw) in enumerate(entries):
        if len(subscripts) != 1 or not (subscripts[0] == "" or subscripts[0].isdigit()):
            raise APIFailure(
                400,
                f"Invalid array: {name} takes {name}[]=VALUE (or {name}[0]=VALUE) entries.",
                param=name,
            )
        index = int(subscripts[0]) if subscripts[0] else 1 << 40
        indexed.append((index, order, _string(f"{name}[{subscripts[0]}]", raw)))
    return [value for _, _, value in sorted(indexed)]


def _hash(name: str, spec: str, entries: list[tuple[tuple[str, ...], str]]) -> dict[str, Any]:
    keys = dict(part.split("=", 1) for part in spec.split(";"))
    result: dict[str, Any] = {}
    for subscripts, raw in entries:
        full = name + "".join(f"[{s}]" for s in subscripts)
        if subscripts == ():
            raise APIFailure(400, f"Invalid hash: {name}", param=name)
        if len(subscripts) != 1 or subscripts[0] not in keys:
            raise _unknown(full)
        if subscripts[0] in result:
            raise APIFailure(400, f"Parameter {full} was given more than once.", param=full)
        result[subscripts[0]] = _scalar(full, keys[subscripts[0]], raw)
    return result


def parse_params(pairs: list[tuple[str, str]], spec: dict[str, str]) -> Params:
    """Type ``pairs`` (the decoded query) by ``spec``; raise Stripe's 400 for the first fault."""
    grouped: dict[str, list[tuple[tuple[str, ...], str]]] = {}
    for name, raw in pairs:
        if not name:  # "&&" or "=x": no parameter at all (as Rack parses it)
            continue
        match = _NAME.match(name)
        if match is None:
            raise _unknown(name)
        base = match.group(1)
        if base not in spec:
            raise _unknown(name)
        subscripts = tuple(_SUBSCRIPT.findall(match.group(2)))
        grouped.setdefault(base, []).append((subscripts, raw))
    params = Params()
    for name, entries in grouped.items():
        kind = spec[name]
        if kind == "range":
            value: Any = _range(name, entries)
        elif kind == "array":
            value = _array(name, entries)
        elif kind.startswith("hash:"):
            value = _hash(name, kind[5:], entries)
        else:
            if entries[0][0] != ():
                raise _unknown(name + "".join(f"[{s}]" for s in entries[0][0]))
            if len(entries) > 1:
                raise APIFailure(400, f"Parameter {name} was given more than once.", param=name)
            value = _scalar(name, kind, entries[0][1])
        if name == "limit":
            if not 1 <= value <= LIST_LIMIT_MAX:
                raise APIFailure(
                    400,
                    f"This value must be between 1 and {LIST_LIMIT_MAX} (it currently is "
                    f"'{value}').",
                    code="parameter_invalid_integer",
                    param="limit",
                )
            params.limit = value
        elif name == "starting_after":
            params.starting_after = value
        elif name == "ending_before":
            params.ending_before = value
        elif name == "created":
            params.created = value
        elif name == "expand":
            params.expand = value
        else:
            params.values[name] = value
    if params.starting_after is not None and params.ending_before is not None:
        raise APIFailure(
            400,
            "You may only specify one of these parameters: ending_before, starting_after.",
            param="ending_before",
        )
    return params
