"""Stripe's JSON schema for ``stripe-app.json``, with its errors turned into readable findings.

``schema/stripe-app.schema.json`` is Stripe's own file (MIT License, Copyright (c) 2022 Stripe,
Inc.; github.com/stripe/stripe-apps, ``schema/stripe-app.schema.json``). jsonschema validates
against it; this module translates each error into a :class:`Finding` with a fix. Two errors are
changed on purpose: a permission name outside the schema's list is left to the permission
catalogue (the schema lags behind Stripe's docs and has typos), and an unknown key becomes one
"did you mean" finding per key.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from functools import cache
from importlib import resources
from typing import Any

from ._findings import Finding, pointer
from ._suggest import closest

# jsonschema's format checkers import rfc3987-syntax when it is installed (JupyterLab's
# jupyter-events brings it), and that module builds a parser grammar as it loads: about 2 s of CPU
# before the first manifest check, in every process. This check validates no formats, so the
# module is kept out while jsonschema loads, unless something in this process loaded it already
# (then nothing changes). The only effect: jsonschema's "iri" format checks, which nothing in
# this package uses, are absent in a process that loaded this module first.
_KEEP_OUT = "rfc3987_syntax"
_kept_out = _KEEP_OUT not in sys.modules
if _kept_out:
    sys.modules[_KEEP_OUT] = None  # type: ignore[assignment]  # "import" raises ImportError
try:
    # jsonschema ships no type hints (types-jsonschema is not a dependency).
    from jsonschema import Draft7Validator  # type: ignore[import-untyped]
    from jsonschema.exceptions import ValidationError  # type: ignore[import-untyped]
finally:
    if _kept_out:
        del sys.modules[_KEEP_OUT]

__all__ = ["load_schema", "schema_findings", "top_level_keys"]

_TYPE_NAMES = {
    "string": "a string",
    "array": "a list",
    "object": "an object",
    "boolean": "true or false",
    "null": "null",
    "number": "a number",
    "integer": "a whole number",
}

_REQUIRED_FIX = {
    "id": 'Add "id": "com.example.your-app" (letters, digits, _, - and . only).',
    "version": 'Add "version": "0.0.1".',
    "name": 'Add "name": "Your App Name".',
    "icon": 'Add "icon": "./icon.png" and put a 300x300 PNG next to the manifest.',
    "permissions": 'Add "permissions": [] and then one entry per permission the app needs.',
    "ui_extension": (
        'Add "ui_extension": {"views": [], "content_security_policy": {"purpose": "…"}} '
        "(an OAuth-only app needs no views)."
    ),
    "purpose": 'Add "purpose": "…", the sentence users see at install.',
    "permission": 'Add "permission": "customer_read" (the permission\'s name).',
    "viewport": 'Add "viewport": "stripe.dashboard.drawer.default" (or another viewport).',
    "component": 'Add "component": "App" (a React component in src/views).',
    "type": 'Add "type": "onboarding", "settings" or "external".',
    "url": 'Add "url": "https://example.com/welcome".',
}


@cache
def load_schema() -> dict[str, Any]:
    """Stripe's schema, shipped with the package."""
    text = (
        resources.files(__package__)
        .joinpath("schema", "stripe-app.schema.json")
        .read_text(encoding="utf-8")
    )
    schema: dict[str, Any] = json.loads(text)
    return schema


@cache
def _validator() -> Draft7Validator:
    return Draft7Validator(load_schema())


def top_level_keys() -> tuple[str, ...]:
    return tuple(load_schema()["properties"])


def _type_of(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


#: ``(object path, key)`` of every required key already reported. jsonschema raises one
#: ``required`` error per missing key, each carrying the whole ``required`` list, so without this
#: a manifest missing five fields got each of them reported five times.
_Reported = set[tuple[tuple[str | int, ...], str]]


def _ordinal(index: str | int) -> str:
    """A list index as people count: the first entry is 1 (JSON pointers count from 0)."""
    return str(index + 1) if isinstance(index, int) else str(index)


def _label(parts: tuple[str | int, ...]) -> str:
    if len(parts) == 2 and parts[0] == "permissions":
        return f"permission entry {_ordinal(parts[1])}"
    return f"`{parts[-1]}`" if parts and isinstance(parts[-1], str) else f"`{pointer(parts)}`"


def schema_findings(document: Any) -> list[Finding]:
    """Validate ``document`` against Stripe's schema; every error becomes a finding."""
    errors = list(_validator().iter_errors(document))
    renames = {
        (tuple(e.absolute_path), guess)
        for e in errors
        if e.validator == "additionalProperties"
        for guess in _renames(e).values()
    }
    findings: list[Finding] = []
    reported: _Reported = set()
    for error in errors:
        if error.validator == "required":
            # A missing key that an unknown sibling misspells is reported once, as the rename.
            parts = tuple(error.absolute_path)
            missing = [k for k in error.validator_value if (parts, k) not in renames]
            findings.extend(_required(error, parts, missing, reported))
        else:
            findings.extend(_translate(error, reported))
    return findings


def _renames(error: ValidationError) -> dict[str, str]:
    """``{unknown key: allowed key it probably misspells}`` for an additionalProperties error."""
    allowed = list(error.schema.get("properties", {}))
    free = [a for a in allowed if a not in error.instance]
    found: dict[str, str] = {}
    for key in error.instance:
        if key not in allowed:
            guess = closest(key, free)
            if guess:
                found[key] = guess
    return found


def _translate(error: ValidationError, reported: _Reported) -> Iterator[Finding]:
    parts = tuple(error.absolute_path)
    path = pointer(parts)
    keyword = error.validator
    instance = error.instance
    if keyword == "additionalProperties":
        yield from _unknown_keys(error, parts)
    elif keyword == "required":
        yield from _required(error, parts, list(error.validator_value), reported)
    elif keyword == "type":
        wanted: list[str] = (
            list(error.validator_value)
            if isinstance(error.validator_value, list)
            else [str(error.validator_value)]
        )
        expected = " or ".join(_TYPE_NAMES.get(t, t) for t in wanted)
        fix = f"Make it {expected}."
        if "array" in wanted and isinstance(instance, str):
            fix = f'Put it in a list: ["{instance}"].'
        elif wanted == ["string"] and isinstance(instance, (int, float)):
            fix = f'Write it in double quotes: "{instance}".'
        yield Finding(
            path,
            f"{_label(parts)} must be {expected}, not {_type_of(instance)}.",
            "error",
            fix,
            code="schema.type",
        )
    elif keyword == "pattern":
        yield _pattern(parts, instance)
    elif keyword == "minLength":
        yield _empty(parts)
    elif keyword == "enum":
        finding = _enum(parts, instance, list(error.validator_value))
        if finding is not None:
            yield finding
    elif keyword == "oneOf" and parts == ("post_install_action",):
        yield from _post_install_action(error, reported)
    else:
        yield Finding(
            path,
            f"{_label(parts)}: {error.message}.",
            "error",
            "Change it to match Stripe's manifest reference "
            "(docs.stripe.com/stripe-apps/reference/app-manifest).",
            code=f"schema.{keyword}",
        )


def _unknown_keys(error: ValidationError, parts: tuple[str | int, ...]) -> Iterator[Finding]:
    allowed = list(error.schema.get("properties", {}))
    renames = _renames(error)
    for key in error.instance:
        if key in allowed:
            continue
        where = "the manifest" if not parts else f"{_label(parts)}"
        guess = renames.get(key)
        if guess:
            message = f"`{key}` is not a field of {where}: did you mean `{guess}`?"
            fix = f"Rename it to `{guess}`."
            if guess in error.schema.get("required", ()):
                message += f" (`{guess}` is required and missing.)"
        else:
            message = f"`{key}` is not a field of {where}, and Stripe refuses unknown fields."
            fix = f"Remove it. Allowed fields: {', '.join(allowed)}."
        yield Finding(pointer((*parts, key)), message, "error", fix, code="schema.unknown-key")


def _required(
    error: ValidationError, parts: tuple[str | int, ...], keys: list[str], reported: _Reported
) -> Iterator[Finding]:
    """One finding per key of ``keys`` missing from the object, unless already ``reported``."""
    props = error.schema.get("properties", {})
    unknown = [k for k in error.instance if k not in props]
    for key in keys:
        if key in error.instance or (parts, key) in reported:
            continue
        reported.add((parts, key))
        typo = next((u for u in unknown if closest(u, [key]) == key), None)
        if typo is not None:  # an open object (ui_extension …) with the key misspelled
            yield Finding(
                pointer((*parts, typo)),
                f"`{typo}` is not a field of {_label(parts)}: did you mean `{key}`? "
                f"(`{key}` is required and missing.)",
                "error",
                f"Rename it to `{key}`.",
                code="schema.unknown-key",
            )
            continue
        owner = "The manifest" if not parts else _label(parts)
        if len(parts) == 2 and parts[0] == "permissions":
            name = error.instance.get("permission")
            owner = f"Permission `{name}`" if isinstance(name, str) else "This permission entry"
        yield Finding(
            pointer((*parts, key)),
            f"{owner} needs `{key}`, which is missing.",
            "error",
            _REQUIRED_FIX.get(key, f'Add "{key}".'),
            code="schema.required",
        )


def _pattern(parts: tuple[str | int, ...], value: str) -> Finding:
    path = pointer(parts)
    field = parts[0] if parts else ""
    last = parts[-2] if len(parts) >= 2 and isinstance(parts[-1], int) else parts[-1]
    if field == "id":
        if value == "":
            return Finding(
                path,
                "`id` is empty: every app needs a unique id.",
                "error",
                'Set "id" to a reverse-domain name you own, e.g. "com.example.reports".',
                code="schema.pattern",
            )
        cleaned = "".join(c if c.isalnum() or c in "_-." else "-" for c in value).strip("-")
        return Finding(
            path,
            f"`id` {value!r} may contain only letters, digits, `_`, `-` and `.`.",
            "error",
            f'Use something like "{cleaned or "com.example.reports"}".',
            code="schema.pattern",
        )
    if field == "icon":
        return Finding(
            path,
            f"`icon` {value!r} is not a path Stripe accepts: it must start with `./`, use only "
            "letters, digits, `_`, `-` and `/`, and end in `.png` (no other dots).",
            "error",
            'Rename the file and set "icon": "./icon.png".',
            code="schema.pattern",
        )
    if last in ("allowed_redirect_uris", "connect-src"):
        if not value.lower().startswith(("https://", "http://")):
            message = f"{value!r} is not an http(s) URL."
            fix = "Start it with https:// (http:// only for local test-mode callbacks)."
        else:
            message = (
                f"{value!r} has no path after the host; Stripe requires one "
                "(https://example.com fails, https://example.com/callback passes)."
            )
            fix = f"Add the callback path, e.g. {value.rstrip('/')}/callback."
        return Finding(path, message, "error", fix, code="schema.pattern")
    if last in ("image-src", "url"):
        return Finding(
            path,
            f"{value!r} is not an http(s) URL.",
            "error",
            "Start it with https://.",
            code="schema.pattern",
        )
    if last == "component":
        return Finding(
            path,
            f"`component` {value!r} must be a React component name (letters, digits, `_`).",
            "error",
            "Use the name of a component in src/views, e.g. App.",
            code="schema.pattern",
        )
    return Finding(
        path,
        f"{_label(parts)} {value!r} does not have the form Stripe requires.",
        "error",
        "Check the field in Stripe's manifest reference.",
        code="schema.pattern",
    )


def _empty(parts: tuple[str | int, ...]) -> Finding:
    path = pointer(parts)
    if len(parts) == 3 and parts[0] == "permissions":
        return Finding(
            path,
            f"Permission entry {_ordinal(parts[1])} has an empty purpose; users read it when they "
            "install.",
            "error",
            "Say in one sentence why the app needs this permission.",
            code="schema.minLength",
        )
    fixes = {
        "version": 'Set "version": "0.0.1" (any non-empty text).',
        "name": 'Give the app a name, e.g. "Reports Sync".',
    }
    return Finding(
        path,
        f"{_label(parts)} is empty.",
        "error",
        fixes.get(str(parts[-1]) if parts else "", "Fill it in."),
        code="schema.minLength",
    )


def _enum(parts: tuple[str | int, ...], value: Any, allowed: list[str]) -> Finding | None:
    path = pointer(parts)
    if len(parts) == 3 and parts[0] == "permissions" and parts[2] == "permission":
        # Left to the catalogue: a name the docs list is fine, any other name is a warning.
        return None
    options = ", ".join(f"`{a}`" for a in allowed[:8]) + (" …" if len(allowed) > 8 else "")
    guess = closest(str(value), allowed, cutoff=0.6) if isinstance(value, str) else None
    fix = f'Use "{guess}".' if guess else f"Use one of {options}."
    if parts and parts[0] == "distribution_type":
        fix += " OAuth apps must be public."
    elif parts and parts[0] == "stripe_api_access_type":
        fix += " OAuth apps need oauth."
    return Finding(
        path,
        f"{_label(parts)} is {json.dumps(value)}, which is not one of {options}.",
        "error",
        fix,
        code="schema.enum",
    )


def _post_install_action(error: ValidationError, reported: _Reported) -> Iterator[Finding]:
    value = error.instance
    base = ("post_install_action",)
    if not isinstance(value, dict):
        yield Finding(
            pointer(base),
            f"`post_install_action` must be an object or null, not {_type_of(value)}.",
            "error",
            'Use {"type": "onboarding"}, {"type": "settings"} or '
            '{"type": "external", "url": "https://…"}, or remove it.',
            code="schema.type",
        )
        return
    kind = value.get("type")
    if kind not in ("onboarding", "settings", "external"):
        yield Finding(
            pointer((*base, "type")),
            f"`post_install_action.type` is {json.dumps(kind)}; it must be `onboarding`, "
            "`settings` or `external`.",
            "error",
            'Set "type" to "onboarding", "settings" or "external" (with a "url").',
            code="schema.enum",
        )
        return
    branch = 2 if kind == "external" else 1
    for sub in error.context or []:
        if sub.relative_schema_path and sub.relative_schema_path[0] == branch:
            if tuple(sub.absolute_path)[-1:] == ("type",):
                continue
            yield from _translate(sub, reported)
