"""One door per task, one default: every way to start a sandbox starts the same one (that
``Target.open()`` starts what ``Sandbox()`` does: ``tests/test_connect.py``).

``Sandbox()``, ``Target.open()`` (and so ``connect()``) and ``stripe-oauth-nb sandbox`` take their
size from :data:`stripe_oauth_nb.sandbox.DEFAULT_CUSTOMERS`; the install link and the API client
each have one door the others are built from (docs/ARCHITECTURE.md, "One door per task").
"""

from __future__ import annotations

import inspect

from stripe_oauth_nb import Target, connect
from stripe_oauth_nb.oauth import AttemptLog, build_install_link, install_link_from_settings
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


def test_the_default_sandbox_holds_the_default_size() -> None:
    with Sandbox() as plain:
        assert plain.counts()["customers"] == DEFAULT_CUSTOMERS


def test_connect_opens_its_target_through_the_one_door() -> None:
    """connect() has no sandbox size of its own: with no target it calls Target.open()."""
    assert "customers" not in inspect.signature(connect).parameters


def test_the_install_link_doors_agree() -> None:
    """install_link_from_settings is a thin call: the same link as the builder given the
    settings' client id, redirect URI and marketplace (only the fresh state differs)."""
    with Sandbox(customers=0) as sb:
        settings = sb.settings(mode="test")
        allowed = list(sb.demo_app.redirect_uris)
        via_settings = install_link_from_settings(
            settings, AttemptLog(), allowed_redirect_uris=allowed
        )
        built = build_install_link(
            mode="test",
            log=AttemptLog(),
            redirect_uri=settings.redirect_uri,
            allowed_redirect_uris=allowed,
            client_id=settings.credentials("test").client_id,
            marketplace_base=settings.marketplace_base,
        )
    assert via_settings.url.split("&state=")[0] == built.url.split("&state=")[0]
    assert via_settings.attempt.state != built.attempt.state
