"""One door per task, one default: every way to start a sandbox starts the same one.

``Sandbox()``, ``Target.open()`` (and so ``connect()``) and ``stripe-oauth-nb sandbox`` take their
size from :data:`stripe_oauth_nb.sandbox.DEFAULT_CUSTOMERS`; the install link and the API client
each have one door the others are built from (docs/ARCHITECTURE.md, "One door per task").
"""

from __future__ import annotations

import inspect
import os
from pathlib import Path

import pytest

from stripe_oauth_nb import Target, connect
from stripe_oauth_nb.oauth import build_install_link, install_link_from_settings
from stripe_oauth_nb.sandbox import DEFAULT_CUSTOMERS, Sandbox


def _default(function: object, name: str = "customers") -> object:
    return inspect.signature(function).parameters[name].default  # type: ignore[arg-type]


def test_the_one_default_size() -> None:
    assert DEFAULT_CUSTOMERS == 250


def test_every_door_that_starts_a_sandbox_has_the_one_default() -> None:
    from stripe_oauth_nb._cli import build_parser

    assert _default(Sandbox) == DEFAULT_CUSTOMERS
    assert _default(Target.open) == DEFAULT_CUSTOMERS
    assert build_parser().parse_args(["sandbox"]).customers == DEFAULT_CUSTOMERS


@pytest.fixture
def nothing_configured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("STRIPE_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@pytest.mark.usefixtures("nothing_configured")
def test_the_doors_start_the_same_sandbox() -> None:
    """What Target.open() (connect()'s door) starts holds what Sandbox() holds."""
    with Target.open() as target, Sandbox() as plain:
        assert target.sandbox is not None
        assert target.sandbox.counts() == plain.counts()
        assert plain.counts()["customers"] == DEFAULT_CUSTOMERS


def test_connect_opens_its_target_through_the_one_door() -> None:
    """connect() has no sandbox size of its own: with no target it calls Target.open()."""
    assert "customers" not in inspect.signature(connect).parameters


def test_the_install_link_from_settings_is_a_thin_call_to_the_one_builder() -> None:
    builder = inspect.signature(build_install_link).parameters
    from_settings = inspect.signature(install_link_from_settings).parameters
    shared = set(builder) & set(from_settings)
    assert {"log", "allowed_redirect_uris", "mode", "redirect_uri", "pasted_link"} <= shared
