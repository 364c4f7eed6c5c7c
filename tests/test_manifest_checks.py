"""Every check, as a table: a good manifest, one change, exactly the findings it should cause."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stripe_oauth_nb.manifest import (
    Finding,
    Manifest,
    check,
    check_file,
    check_text,
    format_findings,
    has_errors,
    write_placeholder_icon,
)
from stripe_oauth_nb.manifest._png import placeholder_icon_bytes

DATA = Path(__file__).parent / "data" / "manifests"
GOOD: dict[str, Any] = json.loads((DATA / "good_oauth.json").read_text(encoding="utf-8"))

Triple = tuple[str, str, str]  # (severity, path, code)


def triples(findings: list[Finding]) -> set[Triple]:
    return {(f.severity, f.path, f.code) for f in findings}


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    write_placeholder_icon(tmp_path / "icon.png")
    return tmp_path


def test_the_good_manifest_has_no_findings(folder: Path) -> None:
    assert check(GOOD, base_dir=folder) == []


def _set(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda d: d.__setitem__(key, value)


def _del(key: str) -> Callable[[dict[str, Any]], None]:
    return lambda d: d.pop(key)


def _rename(old: str, new: str) -> Callable[[dict[str, Any]], None]:
    def apply(d: dict[str, Any]) -> None:
        d[new] = d.pop(old)

    return apply


def _perm(index: int, **fields: Any) -> Callable[[dict[str, Any]], None]:
    def apply(d: dict[str, Any]) -> None:
        for key, value in fields.items():
            if value is None:
                d["permissions"][index].pop(key, None)
            else:
                d["permissions"][index][key] = value

    return apply


def _add_perm(name: str, purpose: str = "Because.") -> Callable[[dict[str, Any]], None]:
    return lambda d: d["permissions"].append({"permission": name, "purpose": purpose})


def _uris(*uris: str) -> Callable[[dict[str, Any]], None]:
    return _set("allowed_redirect_uris", list(uris))


def _ui(**fields: Any) -> Callable[[dict[str, Any]], None]:
    return lambda d: d["ui_extension"].update(fields)


def _csp(**fields: Any) -> Callable[[dict[str, Any]], None]:
    return lambda d: d["ui_extension"].__setitem__("content_security_policy", fields)


E, W = "error", "warning"

CASES: list[tuple[str, Callable[[dict[str, Any]], None], set[Triple]]] = [
    # --- schema: required fields, types, patterns, closed top level -----------------------------
    ("missing-id", _del("id"), {(E, "/id", "schema.required")}),
    ("missing-ui-extension", _del("ui_extension"), {(E, "/ui_extension", "schema.required")}),
    ("missing-icon", _del("icon"), {(E, "/icon", "schema.required")}),
    ("version-number", _set("version", 1), {(E, "/version", "schema.type")}),
    ("version-empty", _set("version", ""), {(E, "/version", "schema.minLength")}),
    ("name-empty", _set("name", ""), {(E, "/name", "schema.minLength")}),
    ("id-empty", _set("id", ""), {(E, "/id", "schema.pattern")}),
    ("id-spaces", _set("id", "my app"), {(E, "/id", "schema.pattern")}),
    ("icon-placeholder", _set("icon", "./[APP]_icon.png"), {(E, "/icon", "schema.pattern")}),
    ("icon-two-dots", _set("icon", "./icon.v2.png"), {(E, "/icon", "schema.pattern")}),
    ("icon-not-relative", _set("icon", "icon.png"), {(E, "/icon", "schema.pattern")}),
    ("permissions-object", _set("permissions", {}), {(E, "/permissions", "schema.type")}),
    (
        "uris-string",
        _set("allowed_redirect_uris", "https://e.com/cb"),
        {(E, "/allowed_redirect_uris", "schema.type")},
    ),
    ("unknown-top-level", _set("homepage", "x"), {(E, "/homepage", "schema.unknown-key")}),
    (
        "sandbox-flag-string",
        _set("sandbox_install_compatible", "yes"),
        {(E, "/sandbox_install_compatible", "schema.type")},
    ),
    ("constants-list", _set("constants", []), {(E, "/constants", "schema.type")}),
    # --- unknown keys with "did you mean" (reported once) --------------------------------------
    (
        "disribution_type",
        _rename("distribution_type", "disribution_type"),
        {(E, "/disribution_type", "schema.unknown-key")},
    ),
    (
        "ui_extensions",
        _rename("ui_extension", "ui_extensions"),
        {(E, "/ui_extensions", "schema.unknown-key")},
    ),
    (
        "purpuse",
        _perm(0, purpose=None, purpuse="x"),
        {(E, "/permissions/0/purpuse", "schema.unknown-key")},
    ),
    (
        "extra-permission-key",
        _perm(0, scope="all"),
        {(E, "/permissions/0/scope", "schema.unknown-key")},
    ),
    (
        "csp-purpse",
        _csp(purpse="x"),
        {(E, "/ui_extension/content_security_policy/purpse", "schema.unknown-key")},
    ),
    ("ui-unknown-key", _ui(view=[]), {(W, "/ui_extension/view", "unknown-key.nested")}),
    # --- permission entries --------------------------------------------------------------------
    ("purpose-missing", _perm(0, purpose=None), {(E, "/permissions/0/purpose", "schema.required")}),
    ("purpose-empty", _perm(1, purpose=""), {(E, "/permissions/1/purpose", "schema.minLength")}),
    (
        "purpose-blank",
        _perm(1, purpose="   "),
        {(E, "/permissions/1/purpose", "review.purpose-blank")},
    ),
    (
        "permission-missing",
        _perm(0, permission=None),
        {(E, "/permissions/0/permission", "schema.required")},
    ),
    (
        "permission-unknown",
        _perm(0, permission="customer_raed"),
        {(W, "/permissions/0/permission", "permission.unknown")},
    ),
    ("permission-docs-only", _perm(0, permission="terminal_reader_read"), set()),
    (
        "permission-schema-typo",
        _perm(0, permission="shpping_rate_write"),
        {(W, "/permissions/0/permission", "permission.misspelled")},
    ),
    (
        "permission-duplicate",
        _add_perm("customer_read"),
        {(W, "/permissions/2/permission", "permission.duplicate")},
    ),
    (
        "webhook-write",
        _add_perm("webhook_write"),
        {(W, "/permissions/2/permission", "permission.needs-approval")},
    ),
    ("no-permissions", _set("permissions", []), {(W, "/permissions", "review.no-permissions")}),
    # --- ui_extension and post_install_action --------------------------------------------------
    (
        "csp-without-purpose",
        _csp(),
        {(E, "/ui_extension/content_security_policy/purpose", "schema.required")},
    ),
    (
        "connect-src-no-path",
        _csp(purpose="p", **{"connect-src": ["https://api.example.com"]}),
        {(E, "/ui_extension/content_security_policy/connect-src/0", "schema.pattern")},
    ),
    (
        "view-bad-viewport",
        _ui(views=[{"viewport": "stripe.dashboard.home", "component": "App"}]),
        {(E, "/ui_extension/views/0/viewport", "schema.enum")},
    ),
    (
        "view-bad-component",
        _ui(views=[{"viewport": "settings", "component": "my-view"}]),
        {(E, "/ui_extension/views/0/component", "schema.pattern")},
    ),
    (
        "view-missing-component",
        _ui(views=[{"viewport": "settings"}]),
        {(E, "/ui_extension/views/0/component", "schema.required")},
    ),
    ("post-install-null", _set("post_install_action", None), set()),
    ("post-install-settings", _set("post_install_action", {"type": "settings"}), set()),
    (
        "post-install-no-url",
        _set("post_install_action", {"type": "external"}),
        {(E, "/post_install_action/url", "schema.required")},
    ),
    (
        "post-install-bad-type",
        _set("post_install_action", {"type": "welcome"}),
        {(E, "/post_install_action/type", "schema.enum")},
    ),
    (
        "post-install-extra",
        _set("post_install_action", {"type": "settings", "url": "https://e.com/"}),
        {(E, "/post_install_action/url", "schema.unknown-key")},
    ),
    (
        "post-install-bad-url",
        _set("post_install_action", {"type": "external", "url": "ftp://x"}),
        {(E, "/post_install_action/url", "schema.pattern")},
    ),
    (
        "post-install-string",
        _set("post_install_action", "settings"),
        {(E, "/post_install_action", "schema.type")},
    ),
    # --- OAuth readiness -----------------------------------------------------------------------
    (
        "access-platform",
        _set("stripe_api_access_type", "platform"),
        {(E, "/stripe_api_access_type", "oauth.stripe_api_access_type")},
    ),
    (
        "access-missing",
        _del("stripe_api_access_type"),
        {(E, "/stripe_api_access_type", "oauth.stripe_api_access_type")},
    ),
    (
        "access-bad-enum",
        _set("stripe_api_access_type", "OAuth"),
        {(E, "/stripe_api_access_type", "schema.enum")},
    ),
    (
        "distribution-private",
        _set("distribution_type", "private"),
        {(E, "/distribution_type", "oauth.distribution_type")},
    ),
    (
        "distribution-missing",
        _del("distribution_type"),
        {(E, "/distribution_type", "oauth.distribution_type")},
    ),
    (
        "distribution-misspelled-private",
        lambda d: (d.pop("distribution_type"), d.__setitem__("disribution_type", "private")),
        {
            (E, "/disribution_type", "schema.unknown-key"),
            (E, "/disribution_type", "oauth.distribution_type"),
        },
    ),
    (
        "no-redirect-uris",
        _del("allowed_redirect_uris"),
        {(E, "/allowed_redirect_uris", "oauth.redirect-uris")},
    ),
    ("empty-redirect-uris", _uris(), {(E, "/allowed_redirect_uris", "oauth.redirect-uris")}),
    (
        "null-redirect-uris",
        _set("allowed_redirect_uris", None),
        {(E, "/allowed_redirect_uris", "oauth.redirect-uris")},
    ),
    (
        "uri-without-path",
        _uris("https://example.com"),
        {(E, "/allowed_redirect_uris/0", "schema.pattern")},
    ),
    (
        "uri-trailing-slash-only",
        _uris("https://example.com/"),
        {(E, "/allowed_redirect_uris/0", "schema.pattern")},
    ),
    ("uri-not-http", _uris("myapp://cb/x"), {(E, "/allowed_redirect_uris/0", "schema.pattern")}),
    (
        "uri-http-loopback",
        _uris("http://127.0.0.1:8765/callback"),
        {(W, "/allowed_redirect_uris/0", "oauth.redirect-http-loopback")},
    ),
    (
        "uri-http-localhost",
        _uris("https://e.com/cb", "http://localhost:8765/callback"),
        {(W, "/allowed_redirect_uris/1", "oauth.redirect-http-loopback")},
    ),
    (
        "uri-http-remote",
        _uris("http://example.com/callback"),
        {(W, "/allowed_redirect_uris/0", "oauth.redirect-http")},
    ),
    (
        "uri-fragment",
        _uris("https://example.com/cb#x"),
        {(E, "/allowed_redirect_uris/0", "oauth.redirect-fragment")},
    ),
    (
        "uri-duplicate",
        _uris("https://e.com/cb", "https://e.com/cb"),
        {(W, "/allowed_redirect_uris/1", "oauth.redirect-duplicate")},
    ),
    ("uri-https-with-port", _uris("https://e.com:8443/cb"), set()),
    (
        "uri-query-refused-as-the-link-does",
        _uris("https://e.com:8443/cb?x=1"),
        {(E, "/allowed_redirect_uris/0", "oauth.redirect-uri")},
    ),
    (
        "uri-credentials",
        _uris("https://u:p@e.com/cb"),
        {(E, "/allowed_redirect_uris/0", "oauth.redirect-uri")},
    ),
    (
        "uri-port-0",
        _uris("https://e.com:0/cb"),
        {(E, "/allowed_redirect_uris/0", "oauth.redirect-uri")},
    ),
    # --- review readiness ----------------------------------------------------------------------
    ("name-stripe", _set("name", "Stripe Reports"), {(E, "/name", "review.name-words")}),
    ("name-app-lowercase", _set("name", "reports app"), {(E, "/name", "review.name-words")}),
    ("name-free", _set("name", "Free Reports"), {(E, "/name", "review.name-words")}),
    ("name-paid", _set("name", "PAID Reports"), {(E, "/name", "review.name-words")}),
    ("name-application-ok", _set("name", "Reports Application"), set()),
    ("name-happy-ok", _set("name", "Happy Reports"), set()),
    ("name-api-key", _set("name", "API Key Reports"), {(W, "/name", "review.name-rejected")}),
    ("name-rak", _set("name", "RAK Reports"), {(W, "/name", "review.name-rejected")}),
    ("name-generator", _set("name", "Report Generator"), {(W, "/name", "review.name-rejected")}),
    (
        "name-authenticator",
        _set("name", "Reports Authenticator"),
        {(W, "/name", "review.name-rejected")},
    ),
    ("icon-empty", _set("icon", ""), {(E, "/icon", "review.icon-missing")}),
    ("icon-file-missing", _set("icon", "./missing.png"), {(E, "/icon", "review.icon-missing")}),
    ("icon-in-subfolder", _set("icon", "./assets/icon.png"), {(E, "/icon", "review.icon-missing")}),
    # --- likely typos ----------------------------------------------------------------------------
    ("version-comma", _set("version", "0.0,1"), {(W, "/version", "typo.version")}),
    ("name-spaces", _set("name", " Reports Sync "), {(W, "/name", "typo.spaces")}),
]


@pytest.mark.parametrize(
    ("change", "expected"), [(c[1], c[2]) for c in CASES], ids=[c[0] for c in CASES]
)
def test_one_change_gives_exactly_these_findings(
    folder: Path, change: Callable[[dict[str, Any]], None], expected: set[Triple]
) -> None:
    document = copy.deepcopy(GOOD)
    change(document)
    findings = check(document, base_dir=folder)
    assert triples(findings) == expected
    assert len(findings) == len(expected), format_findings(findings)
    assert all(f.message and f.fix for f in findings)


# --- several fields missing at once: each reported exactly once, in order ---------------------


def _drop(*keys: str) -> Callable[[dict[str, Any]], None]:
    def apply(d: dict[str, Any]) -> None:
        for key in keys:
            d.pop(key)

    return apply


def _views(*views: dict[str, Any]) -> Callable[[dict[str, Any]], None]:
    return _ui(views=list(views))


def _several_levels(d: dict[str, Any]) -> None:
    _drop("version", "name")(d)
    d["permissions"][1] = {}
    d["ui_extension"] = {"views": [{}, {"viewport": "settings"}], "content_security_policy": {}}


_REQ = "schema.required"
_TOP = ("version", "name", "icon", "permissions", "ui_extension")

# Lists, not sets: a field reported twice must fail the row.
MISSING: list[tuple[str, Callable[[dict[str, Any]], None], list[Triple]]] = [
    (
        "three-top-level",
        _drop("version", "name", "icon"),
        [(E, "/version", _REQ), (E, "/name", _REQ), (E, "/icon", _REQ)],
    ),
    ("all-required-but-id", _drop(*_TOP), [(E, f"/{key}", _REQ) for key in _TOP]),
    (
        "permission-entry-empty",
        _perm(0, permission=None, purpose=None),
        [(E, "/permissions/0/permission", _REQ), (E, "/permissions/0/purpose", _REQ)],
    ),
    (
        "two-permission-entries-empty",
        _set("permissions", [{}, {}]),
        [
            (E, "/permissions/0/permission", _REQ),
            (E, "/permissions/0/purpose", _REQ),
            (E, "/permissions/1/permission", _REQ),
            (E, "/permissions/1/purpose", _REQ),
        ],
    ),
    (
        "permission-typo-and-missing",
        _set("permissions", [{"purpuse": "x"}]),
        [
            (E, "/permissions/0/purpuse", "schema.unknown-key"),
            (E, "/permissions/0/permission", _REQ),
        ],
    ),
    (
        "view-empty",
        _views({}),
        [(E, "/ui_extension/views/0/viewport", _REQ), (E, "/ui_extension/views/0/component", _REQ)],
    ),
    (
        "view-typo-and-missing",
        _views({"viewprt": "settings"}),
        [
            (E, "/ui_extension/views/0/viewprt", "schema.unknown-key"),
            (E, "/ui_extension/views/0/component", _REQ),
        ],
    ),
    (
        "several-levels",
        _several_levels,
        [
            (E, "/version", _REQ),
            (E, "/name", _REQ),
            (E, "/permissions/1/permission", _REQ),
            (E, "/permissions/1/purpose", _REQ),
            (E, "/ui_extension/views/0/viewport", _REQ),
            (E, "/ui_extension/views/0/component", _REQ),
            (E, "/ui_extension/views/1/component", _REQ),
            (E, "/ui_extension/content_security_policy/purpose", _REQ),
        ],
    ),
]


@pytest.mark.parametrize(
    ("change", "expected"), [(c[1], c[2]) for c in MISSING], ids=[c[0] for c in MISSING]
)
def test_each_missing_field_is_reported_once(
    folder: Path, change: Callable[[dict[str, Any]], None], expected: list[Triple]
) -> None:
    document = copy.deepcopy(GOOD)
    change(document)
    findings = check(document, base_dir=folder)
    assert [(f.severity, f.path, f.code) for f in findings] == expected, format_findings(findings)


def test_a_bare_id_reports_each_missing_field_once() -> None:
    findings = check_text('{"id": "x"}')
    assert [(f.path, f.code) for f in findings] == [
        *((f"/{key}", _REQ) for key in _TOP),
        ("/stripe_api_access_type", "oauth.stripe_api_access_type"),
        ("/distribution_type", "oauth.distribution_type"),
        ("/allowed_redirect_uris", "oauth.redirect-uris"),
    ]
    assert format_findings(findings).count("needs `version`") == 1


def _identical(findings: list[Finding]) -> list[tuple[str, str, str]]:
    """Findings that repeat another one's (path, code, message)."""
    seen: set[tuple[str, str, str]] = set()
    repeated: list[tuple[str, str, str]] = []
    for f in findings:
        key = (f.path, f.code, f.message)
        if key in seen:
            repeated.append(key)
        seen.add(key)
    return repeated


@pytest.mark.parametrize("path", sorted(DATA.glob("*.json")), ids=lambda p: p.name)
def test_no_two_findings_are_identical_in_any_fixture(path: Path) -> None:
    assert _identical(check_file(path)) == []


_BAD_TEXTS = {
    "empty-object": "{}",
    "bare-id": '{"id": "x"}',
    "nested-missing": '{"permissions": [{}, {}, {"purpuse": "x"}], "ui_extension": {"views": '
    '[{}, {"viewprt": 1}], "content_security_policy": {}}, "post_install_action": '
    '{"type": "external"}}',
    "duplicate-keys-and-comment": '{"id": "x", "id": "y", "permissions": '
    '[{"permission": "a", "permission": "b"}]} // c',
}


@pytest.mark.parametrize("text", list(_BAD_TEXTS.values()), ids=list(_BAD_TEXTS))
def test_no_two_findings_are_identical_in_bad_text(text: str) -> None:
    assert _identical(check_text(text)) == []


_GOOD_KEYS = sorted(GOOD)


@settings(max_examples=100, deadline=None)
@given(
    st.sets(st.sampled_from(_GOOD_KEYS)),
    st.lists(st.sets(st.sampled_from(["permission", "purpose", "purpuse"])), max_size=3),
    st.lists(st.sets(st.sampled_from(["viewport", "component", "viewprt"])), max_size=3),
)
def test_no_two_findings_are_identical_in_broken_manifests(
    dropped: set[str], permissions: list[set[str]], views: list[set[str]]
) -> None:
    document = {k: copy.deepcopy(v) for k, v in GOOD.items() if k not in dropped}
    if "permissions" in document:
        document["permissions"] = [dict.fromkeys(p, "x") for p in permissions]
    if "ui_extension" in document:
        document["ui_extension"] = {"views": [dict.fromkeys(v, "App") for v in views]}
    assert _identical(check(document)) == []


@pytest.mark.parametrize(
    ("icon_bytes", "expected"),
    [
        (placeholder_icon_bytes(300), set()),
        (placeholder_icon_bytes(32), {(W, "/icon", "review.icon-size")}),
        (b"GIF89a" + b"\x00" * 40, {(E, "/icon", "review.icon-format")}),
        (b"", {(E, "/icon", "review.icon-format")}),
    ],
    ids=["300x300", "32x32", "gif", "empty-file"],
)
def test_icon_file_is_a_300x300_png(
    tmp_path: Path, icon_bytes: bytes, expected: set[Triple]
) -> None:
    (tmp_path / "icon.png").write_bytes(icon_bytes)
    assert triples(check(GOOD, base_dir=tmp_path)) == expected


def test_icon_is_found_relative_to_the_manifest_file(tmp_path: Path) -> None:
    (tmp_path / "app").mkdir()
    write_placeholder_icon(tmp_path / "app" / "icon.png")
    m = Manifest(GOOD)
    m.save(tmp_path / "app" / "stripe-app.json")
    assert check(m) == []
    assert check_file(tmp_path / "app" / "stripe-app.json") == []


def test_without_a_folder_the_icon_file_is_not_checked() -> None:
    assert check(GOOD) == []


def test_oauth_false_skips_oauth_rules(folder: Path) -> None:
    document = json.loads((DATA / "good_private_platform.json").read_text(encoding="utf-8"))
    assert check(document, base_dir=folder, oauth=False) == []
    assert {f.code for f in check(document, base_dir=folder)} == {
        "oauth.stripe_api_access_type",
        "oauth.distribution_type",
        "oauth.redirect-uris",
    }


# --- whole files, the seed's example included -------------------------------------------------


def test_seed_example_as_the_walkthrough_tells_you_to_write_it() -> None:
    findings = check_file(DATA / "seed_completed.json")
    found = {(f.severity, f.path, f.code, f.line) for f in findings}
    assert found == {
        (E, "/", "json.comment", 7),
        (E, "/", "json.comment", 12),
        (E, "/ui_extension", "schema.required", None),
        (E, "/disribution_type", "schema.unknown-key", None),
        (E, "/id", "schema.pattern", None),
        (E, "/icon", "schema.pattern", None),
        (E, "/allowed_redirect_uris", "oauth.redirect-uris", None),
        (E, "/name", "review.name-words", None),
        (W, "/permissions", "review.no-permissions", None),
        (W, "/version", "typo.version", None),
    }
    rename = next(f for f in findings if f.code == "schema.unknown-key")
    assert "did you mean `distribution_type`" in rename.message
    assert rename.fix == "Rename it to `distribution_type`."
    assert findings[0].is_error
    assert not findings[-1].is_error


def test_seed_example_verbatim_is_located_line_by_line() -> None:
    findings = check_file(DATA / "seed_verbatim.json")
    assert [(f.code, f.line, f.column) for f in findings] == [
        ("json.comment", 6, 3),
        ("json.comment", 10, 3),
        ("json.syntax", 1, 6),
    ]
    assert "single `{ … }`" in findings[-1].fix


def test_docs_example_trailing_comma() -> None:
    findings = check_file(DATA / "docs_permissions_example.json")
    comma = [f for f in findings if f.code == "json.trailing-comma"]
    assert [(f.line, f.column) for f in comma] == [(11, 3)]
    # The rest of the document is still checked.
    assert "schema.required" in {f.code for f in findings}


def test_bad_everything_reports_every_problem_at_once() -> None:
    findings = check_file(DATA / "bad_everything.json")
    paths = {f.path for f in findings if f.is_error}
    assert {
        "/id",
        "/version",
        "/icon",
        "/disribution_type",
        "/homepage",
        "/stripe_api_access_type",
        "/permissions/1/purpose",
        "/permissions/2/purpose",
        "/permissions/3/scope",
        "/post_install_action/url",
        "/ui_extension/views/0/viewport",
        "/allowed_redirect_uris/0",
        "/name",
    } <= paths
    assert sum(f.path == "/icon" for f in findings) == 1  # the pattern error, not also "missing"
    assert has_errors(findings)


@pytest.mark.parametrize(
    ("text", "codes"),
    [
        ('{"id": "a", "id": "b"}', {"json.duplicate-key"}),
        ('{"permissions": [{"permission": "x", "permission": "y"}]}', {"json.duplicate-key"}),
        ("/* block */ {}", {"json.comment"}),
        ('{"a": "http://x.example//y"}', set()),
        ('{"a": "quote \\" // not a comment"}', set()),
        ("{\u201cid\u201d: 1}", {"json.syntax"}),
        ("", {"json.syntax"}),
    ],
    ids=[
        "dup-top",
        "dup-nested",
        "block-comment",
        "slashes-in-string",
        "escaped-quote",
        "curly-quotes",
        "empty",
    ],
)
def test_text_level_findings(text: str, codes: set[str]) -> None:
    found = {f.code for f in check_text(text) if f.code.startswith("json.")}
    assert found == codes


def test_duplicate_key_points_at_its_object() -> None:
    findings = check_text('{"permissions": [{"permission": "x", "permission": "y"}]}')
    assert "/permissions/0/permission" in {
        f.path for f in findings if f.code == "json.duplicate-key"
    }


def test_a_json_array_is_reported_not_raised() -> None:
    findings = check_text("[1, 2]")
    assert [f.code for f in findings] == ["schema.type"]


def test_has_errors_ignores_warnings() -> None:
    warning = Finding("/version", "m", "warning", "f")
    error = Finding("/id", "m", "error", "f")
    assert not has_errors([warning])
    assert has_errors([warning, error])


def test_format_findings_is_readable() -> None:
    text = format_findings(check_text('{\n  "id": 1 // x\n}'))
    assert "line 2, column 11" in text
    assert "fix: Delete the comment" in text
    assert format_findings([]) == "No problems found."


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
_keys = st.sampled_from(
    [
        "id",
        "version",
        "name",
        "icon",
        "permissions",
        "ui_extension",
        "allowed_redirect_uris",
        "distribution_type",
        "stripe_api_access_type",
        "post_install_action",
        "constants",
    ]
)


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(_keys, _json, max_size=8) | _json)
def test_checking_never_raises(document: Any) -> None:
    findings = check(document)
    assert all(isinstance(f, Finding) and f.severity in ("error", "warning") for f in findings)
    assert _identical(findings) == []


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet='{}[]",:/ \n*ab1', max_size=40))
def test_checking_text_never_raises(text: str) -> None:
    assert all(isinstance(f, Finding) for f in check_text(text))
