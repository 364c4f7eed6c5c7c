"""The sandbox "upload": a manifest becomes an app with client ids, over HTTP."""

from __future__ import annotations

from pathlib import Path

import pytest

from stripe_oauth_nb._errors import ManifestError, NetworkError, SandboxError
from stripe_oauth_nb._http import httpx
from stripe_oauth_nb.manifest import Manifest, register_with_sandbox, write_placeholder_icon
from stripe_oauth_nb.sandbox import Sandbox


def _manifest(app_id: str = "com.example.reports") -> Manifest:
    return Manifest.new(
        name="Reports Sync",
        id=app_id,
        redirect_uris=["http://127.0.0.1:8765/callback", "https://reports.example.com/cb"],
        permissions={"customer_read": "List customers.", "charge_read": "Show charges."},
    )


@pytest.mark.parametrize("target", ["object", "url"])
def test_register_returns_client_ids_per_mode(sandbox: Sandbox, target: str) -> None:
    app = register_with_sandbox(
        _manifest(f"com.example.{target}"), sandbox if target == "object" else sandbox.api_base
    )
    assert app.client_id("test").startswith("ca_")
    assert app.client_id("live").startswith("ca_")
    assert app.client_ids["test"] != app.client_ids["live"]
    assert app.name == "Reports Sync"
    assert app.redirect_uris == ("http://127.0.0.1:8765/callback", "https://reports.example.com/cb")
    assert app.permissions == ("customer_read", "charge_read")


def test_the_sandbox_knows_the_app_afterwards(sandbox: Sandbox) -> None:
    app = register_with_sandbox(_manifest("com.example.known"), sandbox)
    listed = httpx.get(f"{sandbox.api_base}/_sandbox/apps", timeout=5).json()["apps"]
    assert {a["client_ids"]["test"] for a in listed} >= {app.client_id("test")}


def test_registering_again_keeps_the_client_ids(sandbox: Sandbox) -> None:
    first = register_with_sandbox(_manifest("com.example.again"), sandbox)
    changed = _manifest("com.example.again")
    changed.add_permission("invoice_read", "Totals.")
    second = register_with_sandbox(changed, sandbox)
    assert second.client_ids == first.client_ids
    assert "invoice_read" in second.permissions


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("stripe_api_access_type", "platform", "stripe_api_access_type"),
        ("allowed_redirect_uris", [], "redirect URI"),
        ("name", "Stripe Reports", "/name"),
        ("disribution_type", "public", "disribution_type"),
    ],
)
def test_a_manifest_with_errors_is_refused_before_any_request(
    sandbox: Sandbox, key: str, value: object, message: str
) -> None:
    before = len(httpx.get(f"{sandbox.api_base}/_sandbox/apps", timeout=5).json()["apps"])
    m = _manifest("com.example.refused")
    m.set(key, value)
    with pytest.raises(ManifestError, match=message) as info:
        register_with_sandbox(m, sandbox)
    assert "not registered" in str(info.value)
    after = len(httpx.get(f"{sandbox.api_base}/_sandbox/apps", timeout=5).json()["apps"])
    assert after == before


def test_warnings_do_not_block(sandbox: Sandbox) -> None:
    m = _manifest("com.example.warned")
    m.add_permission("webhook_write", "Manage endpoints.")
    assert register_with_sandbox(m, sandbox).client_id("test").startswith("ca_")


def test_icon_is_checked_next_to_a_saved_manifest(sandbox: Sandbox, tmp_path: Path) -> None:
    m = _manifest("com.example.icon")
    m.save(tmp_path / "stripe-app.json")
    with pytest.raises(ManifestError, match="icon"):
        register_with_sandbox(m, sandbox)
    write_placeholder_icon(tmp_path / "icon.png")
    assert register_with_sandbox(m, sandbox).name == "Reports Sync"


def test_unreachable_sandbox_is_a_network_error() -> None:
    with pytest.raises(NetworkError, match="did not answer"):
        register_with_sandbox(_manifest(), "http://127.0.0.1:9", timeout=1)


def test_a_refusal_from_the_sandbox_is_a_sandbox_error(sandbox: Sandbox) -> None:
    with pytest.raises(SandboxError, match="HTTP 404"):
        register_with_sandbox(_manifest(), sandbox.api_base + "/nowhere")
