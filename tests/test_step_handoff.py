"""The steps' defaults fit together: what one step records, the next one finds."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from _ports import free_port

from stripe_oauth_nb import TokenManager
from stripe_oauth_nb._settings import default_token_store_path
from stripe_oauth_nb.sandbox import Sandbox
from stripe_oauth_nb.widgets import CallbackForm


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    with Sandbox(customers=3, redirect_uris=[f"http://127.0.0.1:{free_port()}/callback"]) as s:
        yield s


def test_a_code_from_the_form_is_exchanged_by_a_default_manager(sb: Sandbox) -> None:
    settings = sb.settings()
    form = CallbackForm(settings, tick=False, environ={})
    try:
        link = form.build()
        assert link is not None
        sb.approve(link.url)
        code = form.wait(10)
        with TokenManager(settings) as manager:  # no log passed: the default must match
            tokens = manager.exchange(code)
        assert tokens.account_id == sb.account_id
        assert sb.stats()["grants"]["authorization_code"] == 1
    finally:
        form.close()


def test_sandbox_tokens_never_go_to_the_users_store(sb: Sandbox) -> None:
    store = sb.settings().token_store_path
    assert store != default_token_store_path()
    assert store.parent == sb.store_dir
    folder = sb.store_dir
    assert folder.is_dir()
    sb.stop()
    assert not Path(folder).exists()


def test_the_paste_box_hides_what_is_pasted(sb: Sandbox) -> None:
    form = CallbackForm(sb.settings(), tick=False, environ={})
    try:
        landed = "http://127.0.0.1:1/callback?code=ac_" + "q" * 24 + "&state=test.zz"
        form.paste_input.value = landed
        assert landed not in repr(form.paste_input)
        assert "q" * 24 not in repr(form)
        form.submit_paste()  # refused: the state is unknown
        assert form.paste_input.value == ""
        assert "q" * 24 not in form.status_html.value
        assert "ac_…" in form.status_html.value
    finally:
        form.close()
