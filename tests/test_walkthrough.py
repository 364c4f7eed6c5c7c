"""The flow's shared state and the walkthrough widget, driven headless against the sandbox."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from stripe_oauth_nb._errors import AccessDeniedError
from stripe_oauth_nb._flow import Flow
from stripe_oauth_nb._settings import Settings, load_settings
from stripe_oauth_nb.widgets.walkthrough import Walkthrough

KEY = "sk_test_" + "k" * 24 + "7777"


@pytest.fixture
def flow(tmp_path: Path) -> Iterator[Flow]:
    with Flow.open(
        load_settings(env_file=tmp_path / "none.env", environ={}), workdir=tmp_path, customers=30
    ) as opened:
        yield opened


def _through_callback(wt: Walkthrough) -> None:
    assert wt.manifest_form.register_button is not None
    wt.manifest_form.register_button.click()
    assert wt.callback_form is not None
    wt.callback_form.build_button.click()
    assert wt.callback_form.link is not None
    assert wt.flow.sandbox is not None
    wt.flow.sandbox.approve(wt.callback_form.link.url)
    wt.callback_form.wait(10)
    wt.refresh()


def test_sandbox_flow_starts_at_the_manifest(flow: Flow) -> None:
    assert flow.settings.is_sandbox
    assert flow.sandbox is not None
    assert flow.stage() == "manifest"
    manifest = flow.starter_manifest()
    assert manifest.redirect_uris == [flow.settings.redirect_uri]
    assert flow.manifest_path.exists()
    assert flow.settings.redirect_uri.startswith("http://127.0.0.1:")
    assert flow.settings.token_store_path.parent == flow.workdir


def test_walkthrough_unlocks_each_step_in_order(flow: Flow) -> None:
    wt = Walkthrough(flow, tick=False)
    try:
        assert wt.states() == {
            "manifest": "current",
            "link": "locked",
            "callback": "locked",
            "tokens": "locked",
            "validate": "locked",
        }
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
        assert wt.states()["callback"] == "done"
        assert wt.states()["tokens"] == "current"
        assert wt.tokens_panel is not None
        assert wt.tokens_panel.code is flow.code

        wt.tokens_panel.exchange_button.click()
        assert flow.stored_tokens() is not None
        assert wt.validate_panel is not None
        wt.validate_panel.run.click()
        assert wt.validate_panel.report is not None
        assert wt.validate_panel.report.ok
        assert all(state == "done" for state in wt.states().values())
        assert wt.status_line().count("✓") == 5
        assert "som-stepper-done" in wt.stepper.value
    finally:
        wt.close()


def test_reopening_with_stored_tokens_starts_at_the_end(flow: Flow) -> None:
    first = Walkthrough(flow, tick=False)
    _through_callback(first)
    assert first.tokens_panel is not None
    first.tokens_panel.exchange_button.click()
    first.close()

    again = Flow(flow.settings, workdir=flow.workdir, sandbox=flow.sandbox)
    wt = Walkthrough(again, tick=False)
    try:
        assert again.stage() == "validate"
        assert wt.states()["validate"] == "current"
        assert wt.validate_panel is not None
        wt.validate_panel.run.click()
        assert wt.states()["validate"] == "done"
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
        assert flow.sandbox is not None
        flow.sandbox.approve(wt.callback_form.link.url, decision="deny")
        with pytest.raises(AccessDeniedError):
            wt.callback_form.wait(10)
        wt.refresh()
        assert "Refused" in wt.callback_form.status_html.value
        assert wt.states()["callback"] == "current"
        assert wt.tokens_panel is None
        assert "Finish step 3 first" in wt.section("tokens").children[1].value
    finally:
        wt.close()


def test_real_stripe_without_client_id_waits_at_the_manifest(tmp_path: Path) -> None:
    settings = load_settings(
        env_file=tmp_path / "none.env",
        environ={
            "STRIPE_SECRET_KEY_TEST": KEY,
            "STRIPE_OAUTH_NB_TOKEN_STORE": str(tmp_path / "t.json"),
        },
    )
    flow = Flow.open(settings, workdir=tmp_path)
    wt = Walkthrough(flow, tick=False)
    try:
        assert flow.sandbox is None
        assert flow.stage() == "manifest"
        assert "Stripe at https://api.stripe.com" in wt.target.value
        assert "stripe apps upload" in wt.section("manifest").children[2].value
    finally:
        wt.close()


def test_real_stripe_with_client_id_starts_at_the_link(tmp_path: Path) -> None:
    settings: Settings = load_settings(
        env_file=tmp_path / "none.env",
        environ={
            "STRIPE_SECRET_KEY_TEST": KEY,
            "STRIPE_CLIENT_ID_TEST": "ca_realapp123",
            "STRIPE_OAUTH_NB_TOKEN_STORE": str(tmp_path / "t.json"),
        },
    )
    with Flow.open(settings, workdir=tmp_path) as flow:
        wt = Walkthrough(flow, tick=False)
        try:
            assert flow.stage() == "link"
            assert wt.states()["manifest"] == "done"
            assert wt.callback_form is not None
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


def test_a_flow_uses_the_attempt_log_of_the_token_manager_it_is_given(tmp_path: Path) -> None:
    from stripe_oauth_nb._attempts import AttemptLog
    from stripe_oauth_nb._tokens import TokenManager

    settings = load_settings(env_file=tmp_path / "none.env", environ={})
    settings = settings.with_changes(token_store_path=tmp_path / "tokens.json")
    log = AttemptLog(tmp_path / "elsewhere" / "attempts.json")
    with TokenManager(settings, attempts=log) as manager:
        flow = Flow(settings, workdir=tmp_path, tokens=manager)
        assert flow.tokens is manager
        assert flow.attempts is log  # codes are marked as sent where the exchange looks
    assert Flow(settings, workdir=tmp_path).attempts.path == tmp_path / "attempts.json"


def test_a_redraw_reads_the_token_store_once(flow: Flow, monkeypatch: pytest.MonkeyPatch) -> None:
    wt = Walkthrough(flow, tick=False)
    try:
        _through_callback(wt)
        assert wt.tokens_panel is not None
        wt.tokens_panel.exchange_button.click()
        reads = 0
        real = flow.tokens.get

        def counting(*args: object, **kwargs: object) -> object:
            nonlocal reads
            reads += 1
            return real(*args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(flow.tokens, "get", counting)
        wt.refresh()
        assert reads == 1
        assert wt.states()["tokens"] == "done"
    finally:
        wt.close()
