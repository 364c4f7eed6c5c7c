"""Manifest documents: load, create, edit, save; key order and untouched values survive."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from stripe_oauth_nb._errors import ManifestError, ManifestSyntaxError
from stripe_oauth_nb.manifest import Manifest, check, load_schema

DATA = Path(__file__).parent / "data" / "manifests"


def test_new_is_oauth_ready_and_passes_the_schema() -> None:
    m = Manifest.new(
        name="Reports Sync",
        id="com.example.reports",
        redirect_uris=["https://example.com/callback"],
        permissions={"customer_read": "List customers."},
    )
    assert m.data["stripe_api_access_type"] == "oauth"
    assert m.data["distribution_type"] == "public"
    assert m.data["ui_extension"]["views"] == []
    assert m.data["ui_extension"]["content_security_policy"]["purpose"]
    assert set(load_schema()["required"]) <= set(m.data)
    assert check(m) == []


def test_round_trip_keeps_key_order_and_values(tmp_path: Path) -> None:
    source = (DATA / "good_oauth.json").read_text(encoding="utf-8")
    path = tmp_path / "stripe-app.json"
    path.write_text(source, encoding="utf-8")
    m = Manifest.load(path)
    m.save()
    assert path.read_text(encoding="utf-8") == source
    assert m.to_json().endswith("}\n")


def test_edit_changes_only_what_it_names(tmp_path: Path) -> None:
    path = tmp_path / "stripe-app.json"
    path.write_text((DATA / "good_oauth.json").read_text(encoding="utf-8"), encoding="utf-8")
    before: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    m = Manifest.load(path)
    m.set("version", "1.0.1")
    m.add_redirect_uri("http://127.0.0.1:8765/callback")
    m.add_permission("charge_read", "Show charges.")
    m.save()
    after: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    assert list(after) == list(before)
    changed = {k for k in before if before[k] != after[k]}
    assert changed == {"version", "allowed_redirect_uris", "permissions"}
    assert after["constants"] == {
        "API_BASE": "https://reports.example.com/api/",
        "RETRIES": 3,
        "RATIO": 0.5,
    }


@pytest.mark.parametrize(
    ("start", "key", "expected_order"),
    [
        (["id", "name", "ui_extension"], "version", ["id", "version", "name", "ui_extension"]),
        (
            ["id", "permissions", "ui_extension"],
            "allowed_redirect_uris",
            ["id", "permissions", "allowed_redirect_uris", "ui_extension"],
        ),
        (["id", "name"], "ui_extension", ["id", "name", "ui_extension"]),
        (["name", "id"], "custom", ["name", "id", "custom"]),
    ],
)
def test_set_puts_new_keys_where_stripe_would(
    start: list[str], key: str, expected_order: list[str]
) -> None:
    m = Manifest(dict.fromkeys(start, "x"))
    m.set(key, "y")
    assert list(m.data) == expected_order


def test_rename_key_keeps_position_and_value() -> None:
    m = Manifest({"id": "a", "disribution_type": "public", "name": "n"})
    m.rename_key("disribution_type", "distribution_type")
    assert list(m.data.items()) == [("id", "a"), ("distribution_type", "public"), ("name", "n")]


@pytest.mark.parametrize(
    ("action", "message"),
    [
        (lambda m: m.rename_key("nope", "x"), "no `nope`"),
        (lambda m: m.rename_key("id", "name"), "already exists"),
        (lambda m: m.remove_permission("charge_read"), "not among the permissions"),
        (lambda m: m.remove_redirect_uri("https://x.example/cb"), "not in allowed_redirect_uris"),
    ],
)
def test_bad_edits_raise_manifest_error(action: Any, message: str) -> None:
    m = Manifest.new(name="N", id="a", redirect_uris=["https://e.com/c"])
    with pytest.raises(ManifestError, match=message):
        action(m)


def test_redirect_uri_edits() -> None:
    m = Manifest.new(name="N", id="a", redirect_uris=["https://a.example/cb"])
    m.add_redirect_uri("https://b.example/cb")
    m.add_redirect_uri("https://b.example/cb")  # no duplicate
    m.add_redirect_uri("https://c.example/cb", first=True)
    assert m.redirect_uris == [
        "https://c.example/cb",
        "https://a.example/cb",
        "https://b.example/cb",
    ]
    m.remove_redirect_uri("https://a.example/cb")
    assert m.redirect_uris == ["https://c.example/cb", "https://b.example/cb"]


def test_permission_edits_update_purpose_in_place() -> None:
    m = Manifest.new(name="N", id="a", permissions={"customer_read": "one", "charge_read": "two"})
    m.add_permission("customer_read", "updated")
    assert m.permissions == {"customer_read": "updated", "charge_read": "two"}
    m.remove_permission("customer_read")
    assert m.permissions == {"charge_read": "two"}


def test_edits_create_missing_lists() -> None:
    m = Manifest({"id": "a", "ui_extension": {}})
    m.add_permission("customer_read", "x")
    m.add_redirect_uri("https://e.com/cb")
    assert list(m.data) == ["id", "permissions", "allowed_redirect_uris", "ui_extension"]


@pytest.mark.parametrize(
    ("text", "line", "column"),
    [
        ('{\n  "id": "a",\n  "name": }', 3, 11),
        ('{\n  "id": "a" // note\n}', 2, 13),
        ('{\n  "id": "a",\n}', 2, 12),
        ('{"id": "a", "id": "b"}', 1, 1),
    ],
    ids=["bad-value", "comment", "trailing-comma", "duplicate-key"],
)
def test_load_reports_syntax_errors_with_line_and_column(
    tmp_path: Path, text: str, line: int, column: int
) -> None:
    path = tmp_path / "stripe-app.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ManifestSyntaxError) as info:
        Manifest.load(path)
    assert (info.value.line, info.value.column) == (line, column)
    assert str(path) in str(info.value)


def test_lenient_load_drops_comments_and_trailing_commas() -> None:
    m = Manifest.load(DATA / "seed_completed.json", lenient=True)
    assert m.data["permissions"] == []
    assert m.data["disribution_type"] == "public"
    assert "//" not in m.to_json()


def test_lenient_load_still_refuses_broken_json() -> None:
    with pytest.raises(ManifestSyntaxError) as info:
        Manifest.load(DATA / "seed_verbatim.json", lenient=True)
    assert info.value.line == 1


@pytest.mark.parametrize("text", ["[]", '"x"', "3"])
def test_a_manifest_must_be_an_object(text: str) -> None:
    with pytest.raises(ManifestError, match="JSON object"):
        Manifest.loads(text)


def test_missing_file_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="does not exist"):
        Manifest.load(tmp_path / "nope.json")


def test_save_needs_a_path() -> None:
    with pytest.raises(ManifestError, match="pass a path"):
        Manifest.new(name="N", id="a").save()


def test_save_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "stripe-app.json"
    Manifest.new(name="Old", id="a").save(path)
    before = path.read_text(encoding="utf-8")

    def crash(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(ManifestError, match="Cannot write"):
        Manifest.new(name="New", id="a").save(path)
    assert path.read_text(encoding="utf-8") == before
    assert [p.name for p in tmp_path.iterdir()] == ["stripe-app.json"]


def test_saved_file_is_readable_by_others(tmp_path: Path) -> None:
    path = Manifest.new(name="N", id="a").save(tmp_path / "stripe-app.json")
    assert path.stat().st_mode & 0o644 == 0o644


def test_output_is_two_space_json_with_unicode_kept() -> None:
    m = Manifest({"id": "a", "name": "Café Reports"})
    assert m.to_json() == '{\n  "id": "a",\n  "name": "Café Reports"\n}\n'


def test_equality_and_repr() -> None:
    a = Manifest({"id": "a", "name": "n"})
    assert a == Manifest({"id": "a", "name": "n"})
    assert a != Manifest({"name": "n", "id": "a"})
    assert repr(a) == "Manifest(id='a', name='n')"
