"""The manifest form, driven headless: set values, click buttons, read the findings."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from stripe_oauth_nb.manifest import Manifest, write_placeholder_icon
from stripe_oauth_nb.sandbox import Sandbox
from stripe_oauth_nb.widgets import ManifestForm

DATA = Path(__file__).parent / "data" / "manifests"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    write_placeholder_icon(tmp_path / "icon.png")
    return tmp_path


def fill(
    form: ManifestForm, *, app_id: str = "com.example.reports", name: str = "Reports Sync"
) -> None:
    form.id_text.value = app_id
    form.name_text.value = name
    form.permission_group.value = "Customer"
    form.permission_choice.value = "customer_read"
    form.permission_purpose.value = "List customers for the report."
    form.permission_add.click()


def test_new_form_starts_oauth_ready_and_shows_what_is_missing(folder: Path) -> None:
    form = ManifestForm(path=folder / "stripe-app.json")
    assert form.access.value == "oauth"
    assert form.distribution.value == "public"
    assert form.redirect_list.options == ("http://127.0.0.1:8765/callback",)
    assert "<code>id</code> is empty" in form.findings_html.value
    assert "<code>name</code> is empty" in form.findings_html.value
    assert "`" not in form.findings_html.value  # backticks show as code, not as backticks


def test_findings_update_as_you_type(folder: Path) -> None:
    form = ManifestForm(path=folder / "stripe-app.json")
    fill(form)
    assert [f.code for f in form.findings] == ["oauth.redirect-http-loopback"]
    form.name_text.value = "Free Reports"
    assert "may not contain" in form.findings_html.value
    form.name_text.value = "Reports Sync"
    assert "may not contain" not in form.findings_html.value
    form.distribution.value = "private"
    assert "only public apps" in form.findings_html.value


def test_save_writes_through_the_core(folder: Path) -> None:
    path = folder / "stripe-app.json"
    form = ManifestForm(path=path)
    fill(form)
    form.save_button.click()
    saved = Manifest.load(path)
    assert saved.data["id"] == "com.example.reports"
    assert saved.permissions == {"customer_read": "List customers for the report."}
    assert "Saved" in form.status.value
    assert "stripe apps upload" in form.next_step.value
    assert form.preview.value == path.read_text(encoding="utf-8")


def test_save_with_errors_says_so(folder: Path) -> None:
    form = ManifestForm(path=folder / "stripe-app.json")
    form.save_button.click()
    assert "still has errors" in form.status.value
    assert (folder / "stripe-app.json").exists()


def test_save_without_a_path_asks_for_one() -> None:
    form = ManifestForm()
    form.save_button.click()
    assert "Type a file name" in form.status.value


def test_redirect_uris_add_and_remove(folder: Path) -> None:
    form = ManifestForm(path=folder / "stripe-app.json")
    fill(form)
    form.redirect_input.value = "https://reports.example.com/cb"
    form.redirect_add.click()
    assert form.manifest.redirect_uris == [
        "http://127.0.0.1:8765/callback",
        "https://reports.example.com/cb",
    ]
    form.redirect_list.value = "http://127.0.0.1:8765/callback"
    form.redirect_remove.click()
    assert form.redirect_list.options == ("https://reports.example.com/cb",)
    assert form.findings == []
    form.redirect_list.value = "https://reports.example.com/cb"
    form.redirect_remove.click()
    assert "There is no redirect URI" in form.findings_html.value


def test_landed_url_is_not_added_as_a_redirect_uri(folder: Path) -> None:
    form = ManifestForm(path=folder / "stripe-app.json")
    code, state = "ac_EXAMPLELz9Kq2Wm4Xr7Tb1Nc8Vd3Hf6", "test.Qm3vX9kL2pR7wZ4tY8nB1cD6fG0hJ5sA"
    form.redirect_input.value = f"http://127.0.0.1:8765/callback?code={code}&state={state}"
    form.redirect_add.click()
    assert form.manifest.redirect_uris == ["http://127.0.0.1:8765/callback"]
    assert "landed on" in form.status.value
    shown = [form.status.value, form.redirect_input.value, form.preview.value]
    for secret in (code, state):
        assert all(secret not in value for value in shown)


def test_permission_rows_edit_purpose_and_remove(folder: Path) -> None:
    form = ManifestForm(path=folder / "stripe-app.json")
    fill(form)
    (row,) = form.permission_rows.children
    _, purpose, remove = row.children
    purpose.value = ""
    assert "empty purpose" in form.findings_html.value
    purpose.value = "Read customers."
    assert form.manifest.permissions == {"customer_read": "Read customers."}
    remove.click()
    assert form.permission_rows.children == ()
    assert "asks for no permissions" in form.findings_html.value


def test_add_permission_uses_the_shown_choice_without_touching_the_picker() -> None:
    # The picker must hold a selection of its own: a person types a purpose and clicks.
    form = ManifestForm()
    shown = form.permission_choice.value
    assert shown is not None
    assert shown in form.permission_choice.options
    form.permission_purpose.value = "Why the app needs it."
    form.permission_add.click()
    assert dict(form.manifest.permissions) == {shown: "Why the app needs it."}
    assert f"Added {shown}" in form.status.value
    assert shown in str(form.permission_rows.children)


def test_add_permission_after_choosing_another_object() -> None:
    form = ManifestForm()
    form.permission_group.value = "Customer"
    assert form.permission_choice.value in form.permission_choice.options
    form.permission_choice.value = "customer_read"
    form.permission_purpose.value = "List customers."
    form.permission_add.click()
    assert form.manifest.permissions["customer_read"] == "List customers."
    assert "customer_read" in form.preview.value


def test_add_permission_with_nothing_chosen_says_so() -> None:
    form = ManifestForm()
    form.permission_choice.value = None
    form.permission_purpose.value = "Why."
    form.permission_add.click()
    assert dict(form.manifest.permissions) == {}
    assert "Choose an object and one of its permissions" in form.status.value


def test_permission_picker_is_grouped_by_object() -> None:
    form = ManifestForm()
    form.permission_group.value = "Shipping rate"
    assert form.permission_choice.options == ("shipping_rate_read", "shipping_rate_write")
    assert "Shipping" in form.permission_help.value


def test_open_keeps_untouched_fields(folder: Path) -> None:
    path = folder / "stripe-app.json"
    shutil.copy(DATA / "good_oauth.json", path)
    form = ManifestForm(path=path)
    assert form.findings == []
    assert form.name_text.value == "Reports Sync"
    form.version_text.value = "1.0.1"
    form.save_button.click()
    before = json.loads((DATA / "good_oauth.json").read_text(encoding="utf-8"))
    after = json.loads(path.read_text(encoding="utf-8"))
    assert list(after) == list(before)
    assert {k for k in before if before[k] != after[k]} == {"version"}


def test_open_the_seed_example_shows_its_findings(folder: Path) -> None:
    path = folder / "stripe-app.json"
    shutil.copy(DATA / "seed_completed.json", path)
    form = ManifestForm(path=path)
    assert "Comments and trailing commas were dropped" in form.status.value
    assert "did you mean <code>distribution_type</code>?" in form.findings_html.value
    assert form.distribution.value == "(not set)"
    form.distribution.value = "public"  # the form writes the right key; the misspelling stays
    assert "disribution_type" in form.findings_html.value


def test_open_broken_json_lists_line_and_column(folder: Path) -> None:
    path = folder / "stripe-app.json"
    shutil.copy(DATA / "seed_verbatim.json", path)
    form = ManifestForm()
    form.path_text.value = str(path)
    form.open_button.click()
    assert "is not valid JSON" in form.status.value
    assert "(line 1, col 6)" in form.findings_html.value


def test_new_button_starts_over(folder: Path) -> None:
    path = folder / "stripe-app.json"
    shutil.copy(DATA / "good_oauth.json", path)
    form = ManifestForm(path=path)
    form.new_button.click()
    assert form.id_text.value == ""
    assert form.manifest.permissions == {}


def test_css_classes_for_browser_tests() -> None:
    form = ManifestForm(sandbox="http://127.0.0.1:9")
    classes = {
        c
        for widget in (form.name_text, form.save_button, form.findings_html, form.register_button)
        for c in widget._dom_classes  # type: ignore[union-attr]
    }
    assert {
        "som-manifest-name",
        "som-manifest-save",
        "som-manifest-findings",
        "som-manifest-register",
    } <= classes
    assert "som-manifest-form" in form._dom_classes


def test_no_register_button_without_a_sandbox() -> None:
    assert ManifestForm().register_button is None


def test_register_with_sandbox(folder: Path, sandbox: Sandbox) -> None:
    form = ManifestForm(path=folder / "stripe-app.json", sandbox=sandbox)
    form.register_button.click()  # type: ignore[union-attr]
    assert form.registered is None
    assert "not registered" in form.status.value
    fill(form, app_id="com.example.formapp")
    form.register_button.click()  # type: ignore[union-attr]
    assert form.registered is not None
    assert form.registered.client_id("test") in form.status.value


def test_an_edit_after_an_action_clears_its_message() -> None:
    """'Added invoice_read' must not stand beside the error a later edit brought."""
    form = ManifestForm()
    form.permission_purpose.value = "Why the app needs it."
    form.permission_add.click()
    assert "Added " in form.status.value
    form.name_text.value = "Stripe Reports"  # Stripe's name rules refuse it
    assert form.status.value == ""
    assert "error" in form.findings_html.value


def test_permission_entries_are_counted_from_one() -> None:
    from stripe_oauth_nb.manifest._schema import schema_findings

    manifest = Manifest.new(
        name="Reports Sync",
        id="com.example.reports",
        redirect_uris=["https://example.com/callback"],
        permissions={"customer_read": "Show customers.", "invoice_read": ""},
    )
    messages = [f.message for f in schema_findings(manifest.data)]
    assert any(m.startswith("Permission entry 2 has an empty purpose") for m in messages), messages
