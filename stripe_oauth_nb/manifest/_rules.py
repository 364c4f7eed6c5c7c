"""Checks beyond the schema: OAuth readiness, review readiness and permissions.

Each rule looks at one concern and returns findings; none raises on a malformed document (the
schema findings already cover wrong types, so rules skip values they cannot read). A key that is
missing but misspelled nearby (``disribution_type``) is read through the misspelling, so the
rename the schema check suggests is the only finding when its value is right.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from .._settings import DEFAULT_REDIRECT_URI
from .._urls import checked_redirect_uri, matches_manifest_redirect_pattern
from ._catalogue import load_catalogue
from ._findings import Finding, pointer
from ._png import png_size
from ._schema import load_schema, top_level_keys
from ._suggest import closest

__all__ = ["RULES", "run_rules"]

Rule = Callable[[dict[str, Any], Path | None], Iterator[Finding]]

ICON_SIZE = (300, 300)
_FORBIDDEN_WORDS = ("stripe", "app", "apps", "free", "paid")
_REVIEW_REJECTS = (
    ("RAK", re.compile(r"\brak\b", re.IGNORECASE)),
    ("Generator", re.compile(r"\bgenerators?\b", re.IGNORECASE)),
    ("API Key", re.compile(r"\bapi[\s_-]*keys?\b", re.IGNORECASE)),
    ("Authenticator", re.compile(r"\bauthenticators?\b", re.IGNORECASE)),
)


def _effective(doc: dict[str, Any], key: str) -> tuple[str, Any] | None:
    """``(key actually used, value)``: the key itself, or an unknown key that misspells it."""
    if key in doc:
        return key, doc[key]
    known = set(top_level_keys())
    unknown = [k for k in doc if k not in known]
    for candidate in unknown:
        if closest(candidate, [key]) == key:
            return candidate, doc[candidate]
    return None


# --- OAuth readiness ---------------------------------------------------------------------------


def _required_value(
    doc: dict[str, Any], key: str, wanted: str, default: str, why: str
) -> Iterator[Finding]:
    found = _effective(doc, key)
    if found is None:
        yield Finding(
            pointer([key]),
            f"`{key}` is missing, so it defaults to `{default}`; {why}.",
            "error",
            f'Add "{key}": "{wanted}".',
            code=f"oauth.{key}",
        )
        return
    used, value = found
    allowed = load_schemas_enum(key)
    if value == wanted or not isinstance(value, str) or value not in allowed:
        return  # right (maybe under a misspelled key), or a schema error already says so
    yield Finding(
        pointer([used]),
        f"`{key}` is `{value}`; {why}.",
        "error",
        f'Set "{key}": "{wanted}".',
        code=f"oauth.{key}",
    )


def load_schemas_enum(key: str) -> list[str]:
    values: list[str] = load_schema()["properties"][key]["enum"]
    return values


def _schema_pattern(key: str) -> str:
    pattern: str = load_schema()["properties"][key]["pattern"]
    return pattern


def oauth_access(doc: dict[str, Any], base_dir: Path | None) -> Iterator[Finding]:
    yield from _required_value(
        doc,
        "stripe_api_access_type",
        "oauth",
        "platform",
        "OAuth install links need `oauth`",
    )
    yield from _required_value(
        doc,
        "distribution_type",
        "public",
        "private",
        "only public apps can use OAuth install links",
    )


def oauth_redirect_uris(doc: dict[str, Any], base_dir: Path | None) -> Iterator[Finding]:
    found = _effective(doc, "allowed_redirect_uris")
    key, uris = found if found else ("allowed_redirect_uris", None)
    if uris is None or uris == []:
        yield Finding(
            pointer([key]),
            "There is no redirect URI: OAuth needs at least one, where Stripe sends the "
            "authorization code.",
            "error",
            f'Add "allowed_redirect_uris": ["https://your-site.example/stripe/callback"], or '
            f'"{DEFAULT_REDIRECT_URI}" for this toolkit\'s local callback (test mode only).',
            code="oauth.redirect-uris",
        )
        return
    if not isinstance(uris, list):
        return
    seen: dict[str, int] = {}
    for index, uri in enumerate(uris):
        if not isinstance(uri, str) or not matches_manifest_redirect_pattern(uri):
            continue  # the schema reports it
        path = pointer([key, index])
        if uri in seen:
            yield Finding(
                path,
                f"{uri!r} is listed twice (first at {pointer([key, seen[uri]])}).",
                "warning",
                "Remove the duplicate.",
                code="oauth.redirect-duplicate",
            )
            continue
        seen[uri] = index
        parsed = checked_redirect_uri(uri)  # the one rule, and the URI read apart: one split
        if isinstance(parsed, str):
            problem = parsed
            fragment = "#" in uri
            yield Finding(
                path,
                f"{uri!r} {problem}"
                + (", which OAuth forbids in redirect URIs (RFC 6749 3.1.2)." if fragment else ".")
                + " The install link refuses it.",
                "error",
                "Write it as scheme://host[:port]/path, e.g. https://example.com/callback, with no "
                "query string, #fragment, user:password@ or port 0.",
                code="oauth.redirect-fragment" if fragment else "oauth.redirect-uri",
            )
            continue
        if parsed.scheme == "http":
            if parsed.loopback:
                yield Finding(
                    path,
                    f"{uri!r} is plain http on this computer: fine for test mode, but live-mode "
                    "redirects must be HTTPS.",
                    "warning",
                    "Keep it for test mode; add an https:// redirect URI before using live mode.",
                    code="oauth.redirect-http-loopback",
                )
            else:
                yield Finding(
                    path,
                    f"{uri!r} is plain http to another host: the authorization code would cross "
                    "the network unencrypted, and live mode requires HTTPS.",
                    "warning",
                    f"Use https://{uri[len('http://') :]}.",
                    code="oauth.redirect-http",
                )


# --- review readiness --------------------------------------------------------------------------


def _is_public(doc: dict[str, Any]) -> bool:
    """Public, or meant to be (OAuth apps must be public, so review rules apply to them)."""
    found = _effective(doc, "distribution_type")
    access = _effective(doc, "stripe_api_access_type")
    public = found is not None and str(found[1]).lower() == "public"
    return public or (access is not None and access[1] == "oauth")


def review_name(doc: dict[str, Any], base_dir: Path | None) -> Iterator[Finding]:
    name = doc.get("name")
    if not isinstance(name, str) or not name.strip() or not _is_public(doc):
        return
    words = re.findall(r"[A-Za-z]+", name)
    banned = [w for w in words if w.lower() in _FORBIDDEN_WORDS]
    if banned:
        kept = " ".join(w for w in name.split() if w.lower().strip(".,!-") not in _FORBIDDEN_WORDS)
        listed = ", ".join(f"“{w}”" for w in dict.fromkeys(banned))
        yield Finding(
            "/name",
            f"The name {name!r} contains {listed}: public app names may not contain "
            "“Stripe”, “app”, “free” or “paid”.",
            "error",
            f'Rename it, e.g. "{kept or "Reports Sync"}".',
            code="review.name-words",
        )
    for label, pattern in _REVIEW_REJECTS:
        if pattern.search(name):
            yield Finding(
                "/name",
                f"The name {name!r} contains “{label}”, which Stripe's app review rejects.",
                "warning",
                f"Choose a name without “{label}” before submitting for review.",
                code="review.name-rejected",
            )


def review_icon(doc: dict[str, Any], base_dir: Path | None) -> Iterator[Finding]:
    icon = doc.get("icon")
    if not isinstance(icon, str) or not _is_public(doc):
        return
    if icon == "":
        yield Finding(
            "/icon",
            "`icon` is empty: public apps need a 300x300 PNG icon.",
            "error",
            'Set "icon": "./icon.png" and put a 300x300 PNG next to the manifest.',
            code="review.icon-missing",
        )
        return
    if base_dir is None or not re.match(_schema_pattern("icon"), icon):
        return  # unsaved manifest (nowhere to look), or a path the schema already refuses
    file = base_dir / icon
    if not file.is_file():
        yield Finding(
            "/icon",
            f"The icon file {icon} does not exist (looked in {base_dir}).",
            "error",
            f"Put a 300x300 PNG at {file}, or fix the path.",
            code="review.icon-missing",
        )
        return
    size = png_size(file)
    if size is None:
        yield Finding(
            "/icon",
            f"{icon} is not a PNG image.",
            "error",
            "Export the icon as PNG (300x300 pixels).",
            code="review.icon-format",
        )
    elif size != ICON_SIZE:
        yield Finding(
            "/icon",
            f"{icon} is {size[0]}x{size[1]} pixels; Stripe wants 300x300.",
            "warning",
            "Resize the icon to 300x300 pixels.",
            code="review.icon-size",
        )


def _permission_entries(doc: dict[str, Any]) -> Iterator[tuple[int, dict[str, Any]]]:
    entries = doc.get("permissions")
    if isinstance(entries, list):
        for index, entry in enumerate(entries):
            if isinstance(entry, dict):
                yield index, entry


def review_permissions(doc: dict[str, Any], base_dir: Path | None) -> Iterator[Finding]:
    if doc.get("permissions") == [] and _is_public(doc):
        yield Finding(
            "/permissions",
            "The app asks for no permissions, so its OAuth token can read nothing.",
            "warning",
            'Add what the app needs, e.g. {"permission": "customer_read", "purpose": "…"}.',
            code="review.no-permissions",
        )
    for index, entry in _permission_entries(doc):
        purpose = entry.get("purpose")
        if isinstance(purpose, str) and purpose and not purpose.strip():
            yield Finding(
                pointer(["permissions", index, "purpose"]),
                f"Permission `{entry.get('permission')}` has a blank purpose.",
                "error",
                "Say in one sentence why the app needs it; users read it at install.",
                code="review.purpose-blank",
            )


# --- permissions -------------------------------------------------------------------------------


def permission_names(doc: dict[str, Any], base_dir: Path | None) -> Iterator[Finding]:
    catalogue = load_catalogue()
    seen: dict[str, int] = {}
    for index, entry in _permission_entries(doc):
        name = entry.get("permission")
        if not isinstance(name, str):
            continue
        path = pointer(["permissions", index, "permission"])
        if name in seen:
            yield Finding(
                path,
                f"`{name}` is listed twice (first at /permissions/{seen[name]}).",
                "warning",
                "Keep one entry and merge the purposes.",
                code="permission.duplicate",
            )
            continue
        seen[name] = index
        known = catalogue.get(name)
        if known is None:
            guess = catalogue.suggest(name)
            hint = f" Did you mean `{guess}`?" if guess else ""
            yield Finding(
                path,
                f"`{name}` is not a permission Stripe lists (schema or docs).{hint}",
                "warning",
                f'Use "{guess}".'
                if guess
                else "Check the name on docs.stripe.com/stripe-apps/reference/permissions.",
                code="permission.unknown",
            )
        elif known.spelling_of:
            yield Finding(
                path,
                f"`{name}` is the schema's misspelling; Stripe's docs name it "
                f"`{known.spelling_of}`.",
                "warning",
                f'Use "{known.spelling_of}".',
                code="permission.misspelled",
            )
        if known is not None and known.needs_approval:
            yield Finding(
                path,
                f"`{name}` needs Stripe Support's approval; most apps listen to events instead.",
                "warning",
                "Remove it unless Stripe Support has approved it for this app.",
                code="permission.needs-approval",
            )


# --- likely typos --------------------------------------------------------------------------------


def typos(doc: dict[str, Any], base_dir: Path | None) -> Iterator[Finding]:
    version = doc.get("version")
    if isinstance(version, str) and "," in version:
        yield Finding(
            "/version",
            f"`version` {version!r} has a comma; it looks like a typo.",
            "warning",
            f'Did you mean "{version.replace(",", ".")}"?',
            code="typo.version",
        )
    for key in ("id", "name", "version", "icon"):
        value = doc.get(key)
        if isinstance(value, str) and value and value != value.strip():
            yield Finding(
                pointer([key]),
                f"`{key}` {value!r} starts or ends with spaces.",
                "warning",
                f'Use "{value.strip()}".',
                code="typo.spaces",
            )
    ui = doc.get("ui_extension")
    if isinstance(ui, dict):
        yield from _unknown_nested(ui, ("ui_extension",), ("views", "content_security_policy"))
        csp = ui.get("content_security_policy")
        if isinstance(csp, dict):
            yield from _unknown_nested(
                csp,
                ("ui_extension", "content_security_policy"),
                ("connect-src", "image-src", "purpose"),
                required=("purpose",),
            )
        views = ui.get("views")
        for index, view in enumerate(views if isinstance(views, list) else []):
            if isinstance(view, dict):
                yield from _unknown_nested(
                    view,
                    ("ui_extension", "views", index),
                    ("viewport", "component"),
                    required=("viewport", "component"),
                )


def _unknown_nested(
    obj: dict[str, Any],
    parts: tuple[str | int, ...],
    allowed: tuple[str, ...],
    *,
    required: tuple[str, ...] = (),
) -> Iterator[Finding]:
    """Unknown keys where Stripe's schema is open (it ignores them; they are likely typos)."""
    owner = parts[-1] if isinstance(parts[-1], str) else f"{parts[-2]}[{parts[-1]}]"
    for key in obj:
        if key in allowed:
            continue
        guess = closest(key, [a for a in allowed if a not in obj])
        if guess in required:
            continue  # the schema check reports it as a missing required field
        yield Finding(
            pointer((*parts, key)),
            f"`{key}` is not a field of `{owner}`"
            + (f": did you mean `{guess}`?" if guess else "; Stripe ignores it."),
            "warning",
            f"Rename it to `{guess}`." if guess else "Remove it.",
            code="unknown-key.nested",
        )


OAUTH_RULES: tuple[Rule, ...] = (oauth_access, oauth_redirect_uris)
RULES: tuple[Rule, ...] = (review_name, review_icon, review_permissions, permission_names, typos)


def run_rules(doc: dict[str, Any], base_dir: Path | None, *, oauth: bool = True) -> list[Finding]:
    rules = (*OAUTH_RULES, *RULES) if oauth else RULES
    return [finding for rule in rules for finding in rule(doc, base_dir)]
