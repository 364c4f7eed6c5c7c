"""The walkthrough widget, driven headless against the sandbox: it shows the flow's steps."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from stripe_oauth_nb import Flow, Target
from stripe_oauth_nb._settings import load_settings
from stripe_oauth_nb.errors import AccessDeniedError
from stripe_oauth_nb.widgets import Walkthrough

KEY = "sk_test_EXAMPLE" + "k" * 20 + "7777"


@pytest.fixture
def target(tmp_path: Path) -> Iterator[Target]:
    with Target.open(load_settings(env_file=tmp_path / "none.env", environ={}), customers=30) as t:
        yield t


@pytest.fixture
def flow(target: Target, tmp_path: Path) -> Iterator[Flow]:
    with Flow(target, workdir=tmp_path) as opened:
        yield opened


def _through_callback(wt: Walkthrough) -> None:
    assert wt.manifest_form.register_button is not None
    wt.manifest_form.register_button.click()
    assert wt.callback_form is not None
    wt.callback_form.build_button.click()
    assert wt.callback_form.link is not None
    wt.flow.target.approve(wt.callback_form.link.url)
    wt.callback_form.wait(10)
    wt.refresh()


def test_walkthrough_unlocks_each_step_in_order(flow: Flow) -> None:
    wt = Walkthrough(flow, tick=False)
    try:
        assert flow.steps()["manifest"] == "current"
        assert "Finish step 1 first" in wt.section("link").children[1].value
        assert "sandbox" in wt.target.value
        assert "▶" in wt.section("manifest").children[0].value
        assert "·" in wt.section("tokens").children[0].value
        _through_callback(wt)
        assert "✓" in wt.section("manifest").children[0].value
        assert "✓" in wt.section("link").children[0].value
        assert "▶" in wt.section("tokens").children[0].value
        assert flow.app_registered
        assert flow.code is not None
        assert flow.steps()["callback"] == "done"
        assert wt.tokens_panel is not None
        assert wt.tokens_panel.code is flow.code
        # The used link can no longer be clicked.
        assert "href" not in wt.callback_form.link_html.value  # type: ignore[union-attr]

        wt.tokens_panel.exchange_button.click()
        assert flow.stored_tokens() is not None
        assert wt.validate_panel is not None
        wt.validate_panel.run.click()
        assert flow.report is not None
        assert flow.report.ok
        assert set(flow.steps().values()) == {"done"}
        assert wt.status_line().count("✓") == 5
        assert "som-stepper-done" in wt.stepper.value
    finally:
        wt.close()


def test_reopening_with_stored_tokens_starts_at_the_end(target: Target, tmp_path: Path) -> None:
    first = Walkthrough(Flow(target, workdir=tmp_path), tick=False)
    _through_callback(first)
    assert first.tokens_panel is not None
    first.tokens_panel.exchange_button.click()
    first.close()

    again = Flow(target, workdir=tmp_path)
    wt = Walkthrough(again, tick=False)
    try:
        assert again.stage() == "validate"
        assert again.steps()["validate"] == "current"
        assert wt.validate_panel is not None
        wt.validate_panel.run.click()
        assert again.steps()["validate"] == "done"
    finally:
        wt.close()


def test_a_declined_install_shows_in_its_step_and_keeps_tokens_locked(flow: Flow) -> None:
    wt = Walkthrough(flow, tick=False)
    try:
        assert wt.manifest_form.register_button is not None
        wt.manifest_form.register_button.click()
        assert wt.callback_form is not None
        wt.callback_form.build_button.click()
        assert wt.callback_form.link is not None
        from stripe_oauth_nb.sandbox import approve

        approve(wt.callback_form.link.url, decision="deny")
        with pytest.raises(AccessDeniedError):
            wt.callback_form.wait(10)
        wt.refresh()
        assert "The install was declined" in wt.callback_form.status_html.value
        assert wt.callback_form.status_html.value.count("declined") == 1  # said once, not twice
        assert flow.steps()["callback"] == "current"
        assert wt.tokens_panel is None
        assert "Finish step 3 first" in wt.section("tokens").children[1].value
    finally:
        wt.close()


def test_real_stripe_without_client_id_says_how_to_upload(tmp_path: Path) -> None:
    settings = load_settings(
        env_file=tmp_path / "none.env",
        environ={
            "STRIPE_SECRET_KEY_TEST": KEY,
            "STRIPE_OAUTH_NB_TOKEN_STORE": str(tmp_path / "t.json"),
        },
    )
    wt = Walkthrough(Flow(Target.open(settings), workdir=tmp_path), tick=False)
    try:
        assert "Stripe at https://api.stripe.com" in wt.target.value
        assert "stripe apps upload" in wt.section("manifest").children[2].value
        assert wt.manifest_form.register_button is None
    finally:
        wt.close()


def test_every_form_has_a_front_end_model(flow: Flow) -> None:
    """A form method that shadows Widget.open() would leave the form without a comm: blank."""
    wt = Walkthrough(flow, tick=False)
    try:
        _through_callback(wt)
        assert wt.tokens_panel is not None
        wt.tokens_panel.exchange_button.click()
        forms = [wt, wt.manifest_form, wt.callback_form, wt.tokens_panel, wt.validate_panel]
        for form in forms:
            assert form is not None
            assert form.comm is not None, type(form).__name__
            assert form.model_id
    finally:
        wt.close()


def test_a_redraw_reads_the_token_store_once(flow: Flow, monkeypatch: pytest.MonkeyPatch) -> None:
    wt = Walkthrough(flow, tick=False)
    try:
        _through_callback(wt)
        assert wt.tokens_panel is not None
        wt.tokens_panel.exchange_button.click()
        reads = 0
        real = flow.tokens.store.all

        def counting() -> object:
            nonlocal reads
            reads += 1
            return real()

        monkeypatch.setattr(flow.tokens.store, "all", counting)
        wt.refresh()
        assert reads == 1  # the store's file, read once per redraw
        assert flow.steps()["tokens"] == "done"
    finally:
        wt.close()
