"""``Flow``: the five steps' shared state over a target, and the steps it derives."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from stripe_oauth_nb import Flow, Target
from stripe_oauth_nb._settings import load_settings
from stripe_oauth_nb.api import ApiClient, validate
from stripe_oauth_nb.oauth import start_authorization
from stripe_oauth_nb.oauth._attempts import AttemptLog
from stripe_oauth_nb.tokens import TokenManager

KEY = "sk_test_EXAMPLE" + "k" * 20 + "7777"


@pytest.fixture
def target(tmp_path: Path) -> Iterator[Target]:
    with Target.open(load_settings(env_file=tmp_path / "none.env", environ={}), customers=5) as t:
        yield t


def _stripe(tmp_path: Path, **environ: str) -> Target:
    settings = load_settings(
        env_file=tmp_path / "none.env",
        environ={
            "STRIPE_SECRET_KEY_TEST": KEY,
            "STRIPE_OAUTH_NB_TOKEN_STORE": str(tmp_path / "t.json"),
            **environ,
        },
    )
    return Target.open(settings)


def test_a_sandbox_flow_starts_at_the_manifest_next_to_the_notebook(
    target: Target, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    flow = Flow(target)
    assert flow.workdir == tmp_path  # the working folder: the notebook's folder in Jupyter
    assert flow.stage() == "manifest"
    assert flow.steps() == {
        "manifest": "current",
        "link": "locked",
        "callback": "locked",
        "tokens": "locked",
        "validate": "locked",
    }
    manifest = flow.starter_manifest()
    assert manifest.redirect_uris == [flow.settings.redirect_uri]
    assert (tmp_path / "stripe-app.json").exists()
    assert (tmp_path / "icon.png").exists()
    manifest.set("name", "Edited By A Person")
    manifest.save(flow.manifest_path)
    assert flow.starter_manifest().data["name"] == "Edited By A Person"  # kept, not replaced
    assert flow.sandbox_url == target.settings.api_base


def test_the_steps_follow_what_the_steps_report(target: Target, tmp_path: Path) -> None:
    flow = Flow(target, workdir=tmp_path)
    assert target.sandbox is not None
    app = target.sandbox.demo_app
    flow.use_app(app.client_ids, app.redirect_uris)
    assert flow.stage() == "link"
    assert flow.settings.redirect_uri in app.redirect_uris
    link, server = start_authorization(
        flow.settings, flow.attempts, allowed_redirect_uris=flow.allowed_redirect_uris
    )
    assert server is not None
    flow.link_built(link)
    assert flow.steps()["link"] == "done"
    assert flow.steps()["callback"] == "current"
    target.approve(link.url)
    flow.code_received(server.wait(10))
    assert flow.stage() == "tokens"
    flow.tokens.exchange(flow.code)  # type: ignore[arg-type]
    assert flow.stage() == "validate"
    assert flow.steps()["validate"] == "current"
    with ApiClient.from_settings(flow.settings, flow.tokens) as api:
        flow.validated(validate(api))
    assert set(flow.steps().values()) == {"done"}
    assert "next='validate'" in repr(flow)


def test_reopening_a_flow_with_stored_tokens_starts_at_the_end(
    target: Target, tmp_path: Path
) -> None:
    assert target.sandbox is not None
    manager = TokenManager(target.settings)
    from stripe_oauth_nb._tokenset import TokenSet

    manager.store.save(
        TokenSet.from_response(target.sandbox.mint_tokens(), obtained_at=target.sandbox.now()),
        authorized=True,
    )
    again = Flow(target, workdir=tmp_path)
    assert again.stage() == "validate"
    assert again.steps()["tokens"] == "done"


def test_real_stripe_without_client_id_waits_at_the_manifest(tmp_path: Path) -> None:
    flow = Flow(_stripe(tmp_path), workdir=tmp_path)
    assert not flow.target.is_sandbox
    assert flow.sandbox_url is None
    assert flow.stage() == "manifest"
    assert "Stripe at https://api.stripe.com" in flow.describe()


def test_real_stripe_with_client_id_starts_at_the_link(tmp_path: Path) -> None:
    flow = Flow(_stripe(tmp_path, STRIPE_CLIENT_ID_TEST="ca_EXAMPLEapp123"), workdir=tmp_path)
    assert flow.stage() == "link"
    assert flow.steps()["manifest"] == "done"


def test_a_flow_uses_the_attempt_log_of_the_token_manager_it_is_given(tmp_path: Path) -> None:
    target = _stripe(tmp_path)
    log = AttemptLog(tmp_path / "elsewhere" / "attempts.json")
    with TokenManager(target.settings, attempts=log) as manager:
        flow = Flow(target, workdir=tmp_path, tokens=manager)
        assert flow.tokens is manager
        assert flow.attempts is log  # codes are marked as sent where the exchange looks
    assert Flow(target, workdir=tmp_path).attempts.path == tmp_path / "attempts.json"


def test_closing_a_flow_leaves_the_target_to_its_opener(target: Target, tmp_path: Path) -> None:
    with Flow(target, workdir=tmp_path):
        pass
    assert target.sandbox is not None
    assert target.sandbox.running
    target.close()
    assert not target.sandbox.running


def test_tokens_stored_by_someone_else_while_the_flow_is_open_tick_off_nothing(
    target: Target, tmp_path: Path
) -> None:
    """A ``connect()`` further down the notebook stores tokens: the walkthrough stays where the
    person is, and the flow's own code, once exchanged, still moves it to the end."""
    from stripe_oauth_nb import connect
    from stripe_oauth_nb._connect import TerminalPresenter

    flow = Flow(target, workdir=tmp_path)
    quiet = TerminalPresenter(open_browser=False, read_stdin=False)
    with connect(target=target, approve=True, presenter=quiet):
        pass
    assert flow.stored_tokens() is not None
    assert flow.stage() == "manifest"
    assert target.sandbox is not None
    app = target.sandbox.demo_app
    flow.use_app(app.client_ids, app.redirect_uris)
    link, server = start_authorization(flow.settings, flow.attempts, allowed_redirect_uris=None)
    assert server is not None
    target.approve(link.url)
    flow.code_received(server.wait(10))
    assert flow.stage() == "tokens"  # the earlier tokens are not this code's
    flow.tokens.exchange(flow.code)  # type: ignore[arg-type]
    assert flow.stage() == "validate"
    assert Flow(target, workdir=tmp_path).stage() == "validate"  # reopened: at the end


def test_a_sandbox_started_here_listens_on_a_free_port(tmp_path: Path) -> None:
    """Two kernels with nothing configured do not fight over one callback port."""
    settings = load_settings(env_file=tmp_path / "none.env", environ={})
    with Target.open(settings, customers=1) as one, Target.open(settings, customers=1) as two:
        uris = {one.settings.redirect_uri, two.settings.redirect_uri}
        assert len(uris) == 2
        for uri in uris:
            assert re.fullmatch(r"http://127\.0\.0\.1:\d+/callback", uri)
    pinned = load_settings(
        env_file=tmp_path / "none.env",
        environ={"STRIPE_REDIRECT_URI": "http://127.0.0.1:8799/callback"},
    )
    with Target.open(pinned, customers=1) as configured:
        assert configured.settings.redirect_uri == "http://127.0.0.1:8799/callback"
