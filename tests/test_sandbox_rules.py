"""The sandbox states Stripe's rules itself, so a wrong client constant is caught against it."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest

from stripe_oauth_nb import _modes, _tokenset
from stripe_oauth_nb.sandbox import Sandbox, _rules, approve

SANDBOX = Path(__file__).parents[1] / "stripe_oauth_nb" / "sandbox"


def imports_of(path: Path) -> set[str]:
    """``module`` and ``module.name`` for every import in ``path`` (relative ones resolved)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = "." * node.level + (node.module or "")
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_stripes_numbers_as_the_sandbox_states_them() -> None:
    assert _rules.CODE_LIFETIME == 5 * 60
    assert _rules.ACCESS_TOKEN_LIFETIME == 60 * 60
    assert _rules.REFRESH_TOKEN_LIFETIME == 365 * 24 * 60 * 60
    assert _rules.MODES == ("test", "live")
    assert _rules.GLOBAL_RATE == {"live": 100, "test": 25}
    assert _rules.ENDPOINT_RATE == 25
    assert (_rules.LIST_LIMIT_DEFAULT, _rules.LIST_LIMIT_MAX) == (10, 100)
    assert _rules.EVENT_RETENTION == 30 * 24 * 60 * 60


def test_the_client_agrees_with_the_sandbox() -> None:
    """The client's own constants, checked against the sandbox's statement of Stripe's rules."""
    assert _tokenset.ACCESS_TOKEN_LIFETIME == _rules.ACCESS_TOKEN_LIFETIME
    assert _tokenset.REFRESH_TOKEN_LIFETIME == _rules.REFRESH_TOKEN_LIFETIME
    assert tuple(_modes.MODES) == _rules.MODES


def test_no_sandbox_module_borrows_the_clients_rules() -> None:
    for path in sorted(SANDBOX.glob("*.py")):
        imported = imports_of(path)
        assert not {i for i in imported if i.startswith("..") and "_tokenset" in i}, path.name
        assert not {i for i in imported if i.startswith(".._modes")}, path.name
        from_settings = {i for i in imported if i.startswith(".._settings.")}
        # only the bridge that builds the client's Settings object may name it
        assert from_settings <= {".._settings.ModeCredentials", ".._settings.Settings"}, path.name


def test_approve_has_one_implementation(monkeypatch: pytest.MonkeyPatch) -> None:
    """``Sandbox.approve`` hands everything to the module's ``approve``."""
    calls: list[tuple[str, dict[str, Any]]] = []
    monkeypatch.setattr(
        "stripe_oauth_nb.sandbox._sandbox.approve",
        lambda url, **options: calls.append((url, options)) or "http://x/cb?code=1",
    )
    got = Sandbox(customers=0).approve("http://x/authorize", "deny", follow=False, account="a")
    assert got == "http://x/cb?code=1"
    assert calls == [("http://x/authorize", {"decision": "deny", "follow": False, "account": "a"})]
    assert approve.__module__ == "stripe_oauth_nb.sandbox._browser"


def test_the_sandbox_states_stripes_redirect_uri_pattern_itself() -> None:
    """The sandbox's upload rule is the pattern of Stripe's published manifest schema."""
    from stripe_oauth_nb import _urls
    from stripe_oauth_nb.manifest import load_schema

    items = load_schema()["properties"]["allowed_redirect_uris"]["items"]
    assert _rules.REDIRECT_URI_PATTERN.pattern == items["pattern"]
    assert _urls.MANIFEST_REDIRECT_PATTERN.pattern == items["pattern"]  # the client agrees
    assert _rules.is_redirect_uri("https://example.com/cb")
    assert not _rules.is_redirect_uri("https://example.com/")
    assert not _rules.is_redirect_uri(42)
    for path in sorted(SANDBOX.glob("*.py")):
        assert not {i for i in imports_of(path) if i.startswith(".._urls")}, path.name
