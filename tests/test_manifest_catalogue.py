"""The permission catalogue: data that covers the schema and the docs, grouped in pairs."""

from __future__ import annotations

import pytest

from stripe_oauth_nb.manifest import load_catalogue, load_schema


def _schema_names() -> list[str]:
    enum: list[str] = load_schema()["properties"]["permissions"]["items"]["properties"][
        "permission"
    ]["enum"]
    return enum


def test_every_schema_name_is_in_the_catalogue() -> None:
    catalogue = load_catalogue()
    assert len(_schema_names()) == 86
    assert [n for n in _schema_names() if n not in catalogue] == []
    assert all(catalogue.get(n).in_schema for n in _schema_names())  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "name",
    [
        "apple_pay_domain_read",
        "shipping_rate_write",
        "terminal_reader_read",
        "promotion_code_read",
        "tax_settings_write",
        "review_read",
        "billing_meter_write",
        "entitlement_read",
    ],
)
def test_docs_names_missing_from_the_schema_are_in_the_catalogue(name: str) -> None:
    permission = load_catalogue().get(name)
    assert permission is not None
    assert permission.in_docs
    assert not permission.in_schema


@pytest.mark.parametrize(
    ("typo", "correct"),
    [
        ("apply_pay_domain_read", "apple_pay_domain_read"),
        ("shpping_rate_write", "shipping_rate_write"),
    ],
)
def test_schema_typos_point_to_the_docs_spelling(typo: str, correct: str) -> None:
    permission = load_catalogue().get(typo)
    assert permission is not None
    assert permission.spelling_of == correct


@pytest.mark.parametrize(
    ("wrong", "suggestion"),
    [
        ("customer_raed", "customer_read"),
        ("customers_read", "customer_read"),
        ("invoice_wirte", "invoice_write"),
        ("zzzz", None),
    ],
)
def test_suggestions(wrong: str, suggestion: str | None) -> None:
    assert load_catalogue().suggest(wrong) == suggestion


def test_groups_are_by_object_and_every_name_once() -> None:
    catalogue = load_catalogue()
    names = [p.name for g in catalogue.groups for p in g.permissions]
    assert len(names) == len(set(names)) == len(catalogue)
    customer = next(g for g in catalogue.groups if g.object == "Customer")
    assert [p.name for p in customer.permissions] == ["customer_read", "customer_write"]
    assert all(g.description for g in catalogue.groups)


def test_only_webhook_write_needs_approval() -> None:
    assert [p.name for g in load_catalogue().groups for p in g.permissions if p.needs_approval] == [
        "webhook_write"
    ]


def test_manifest_package_surface_is_sorted_and_importable() -> None:
    import stripe_oauth_nb.manifest as manifest
    import stripe_oauth_nb.widgets as widgets

    for module in (manifest, widgets):
        assert module.__all__ == sorted(module.__all__)
        assert all(getattr(module, name) is not None for name in module.__all__)
