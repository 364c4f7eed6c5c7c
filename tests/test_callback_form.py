"""The callback form, driven headless against the sandbox and the real callback server."""

from __future__ import annotations

import os
import socket
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from _ports import free_port

from stripe_oauth_nb._errors import AccessDeniedError
from stripe_oauth_nb.oauth._attempts import AttemptLog
from stripe_oauth_nb.sandbox import Sandbox
from stripe_oauth_nb.widgets.callback_form import CallbackForm

PORTS = 4


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    uris = [f"http://127.0.0.1:{free_port()}/callback" for _ in range(PORTS)]
    with Sandbox(customers=1, redirect_uris=uris) as sandbox:
        yield sandbox


@pytest.fixture
def form_for(sb: Sandbox) -> Iterator[Callable[..., CallbackForm]]:
    made: list[CallbackForm] = []
    counter = iter(range(10_000))

    def make(**options: object) -> CallbackForm:
        uri = sb.demo_app.redirect_uris[next(counter) % PORTS]
        form = CallbackForm(
            sb.settings(mode="test", redirect_uri=uri),
            allowed_redirect_uris=sb.demo_app.redirect_uris,
            tick=False,
            environ={},
            **options,  # type: ignore[arg-type]
        )
        made.append(form)
        return form

    yield make
    for form in made:
        form.close()


def until(check: Callable[[], bool], seconds: float = 5.0) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if check():
            return True
        time.sleep(0.02)
    return check()


def test_build_shows_a_new_tab_link_and_waits(form_for: Callable[..., CallbackForm]) -> None:
    form = form_for()
    form.build_button.click()
    assert form.link is not None
    assert form.status_kind == "waiting"
    html = form.link_html.value
    assert 'target="_blank"' in html
    assert 'rel="noopener noreferrer"' in html
    assert "<iframe" not in html
    assert form.server is not None
    assert form.server.running
    assert "som-install-link" in form.link_html._dom_classes
    assert form.link.state.reveal() not in repr(form)


def test_accept_flows_through_the_server_into_the_form(
    sb: Sandbox, form_for: Callable[..., CallbackForm]
) -> None:
    form = form_for()
    link = form.build()
    assert link is not None
    sb.approve(link.url)
    assert until(lambda: form.status_kind == "received")
    assert form.code is not None
    masked = form.code.code.masked
    assert masked in form.status_html.value
    assert form.code.code.reveal() not in form.status_html.value
    assert "4:5" in form.countdown_html.value or "5:00" in form.countdown_html.value
    assert "1:00" in (
        form.refresh_countdown(form.code.received_at + 240) and form.countdown_html.value
    )
    form.refresh_countdown(form.code.received_at + 301)
    assert "expired" in form.countdown_html.value
    assert form.wait(1) is form.code


def test_decline_shows_refused(sb: Sandbox, form_for: Callable[..., CallbackForm]) -> None:
    form = form_for()
    link = form.build()
    assert link is not None
    sb.approve(link.url, decision="deny")
    assert until(lambda: form.status_kind == "refused")
    assert isinstance(form.error, AccessDeniedError)
    assert "declined" in form.status_html.value


def test_deadline_shows_expired(form_for: Callable[..., CallbackForm]) -> None:
    form = form_for(deadline=0.3)
    form.build()
    assert until(lambda: form.status_kind == "expired")
    assert form.server is not None
    assert not form.server.running


def test_port_taken_shows_the_error_and_no_link(form_for: Callable[..., CallbackForm]) -> None:
    form = form_for()
    port = urllib.parse.urlsplit(form.redirect_input.value).port
    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # ignore TIME_WAIT
        squatter.bind(("127.0.0.1", port))
        squatter.listen()
        assert form.build() is None
    assert form.status_kind == "error"
    assert "already in use" in form.status_html.value
    assert form.link_html.value == ""
    assert form.link is None


def _widget_values(widget: object) -> list[str]:
    """Every string value in a widget tree (what the front end and saved state could see)."""
    values: list[str] = []
    pending = [widget]
    while pending:
        item = pending.pop()
        for name in ("value", "placeholder", "description", "tooltip"):
            value = getattr(item, name, None)
            if isinstance(value, str):
                values.append(value)
        pending.extend(getattr(item, "children", ()))
    return values


def test_landed_url_in_the_redirect_box_is_explained_and_masked(
    sb: Sandbox, form_for: Callable[..., CallbackForm]
) -> None:
    form = form_for()
    redirect = form.redirect_input.value
    code, state = "ac_EXAMPLELz9Kq2Wm4Xr7Tb1Nc8Vd3Hf6", "test.Qm3vX9kL2pR7wZ4tY8nB1cD6fG0hJ5sA"
    form.redirect_input.value = f"{redirect}?code={code}&state={state}"
    assert form.build() is None
    assert form.status_kind == "error"
    assert "landed on" in form.status_html.value
    assert "Landed URL box" in form.status_html.value
    assert form.link is None
    assert form.server is None
    assert form.error is not None
    for secret in (code, state):
        assert secret not in str(form.error)
        assert all(secret not in str(arg) for arg in form.error.args)
        assert all(secret not in value for value in _widget_values(form))
    assert "ac_…" in form.redirect_input.value  # still recognisable, to fix
    form.redirect_input.value = redirect
    assert form.build() is not None  # and the right value works at once
    assert form.status_kind == "waiting"


def test_redirect_not_allowed_shows_the_allowed_ones(form_for: Callable[..., CallbackForm]) -> None:
    form = form_for()
    form.redirect_input.value = f"http://127.0.0.1:{free_port()}/elsewhere"
    assert form.build() is None
    assert form.status_kind == "error"
    assert "allowed_redirect_uris" in form.status_html.value
    assert form.server is None or not form.server.running


def test_stray_request_keeps_waiting_and_says_so(form_for: Callable[..., CallbackForm]) -> None:
    from stripe_oauth_nb._http import httpx

    form = form_for()
    form.build()
    httpx.get(f"{form.redirect_input.value}?code=ac_x&state=test.nope", trust_env=False)
    assert until(lambda: "keeps waiting" in form.status_html.value)
    assert form.status_kind == "waiting"
    assert form.server is not None
    assert form.server.running


def test_paste_path_in_the_form(sb: Sandbox, form_for: Callable[..., CallbackForm]) -> None:
    form = form_for()
    link = form.build()
    assert link is not None
    landed = sb.approve(link.url, follow=False)  # the browser could not reach the kernel
    form.paste_input.value = landed.replace("code=", "code=ac_x&code=")
    form.paste_button.click()
    assert form.status_kind == "error"
    assert "more than once" in form.status_html.value
    form.paste_input.value = landed
    form.paste_button.click()
    assert form.status_kind == "received"
    assert form.code is not None
    assert "pasted" in form.status_html.value
    assert form.server is not None
    assert not form.server.running  # the attempt is used: nothing left to wait for


def test_pasted_refusal_is_escaped_in_the_form(form_for: Callable[..., CallbackForm]) -> None:
    form = form_for()
    link = form.build()
    assert link is not None
    query = urllib.parse.urlencode(
        {
            "error": "access_denied",
            "error_description": "<img src=x onerror=alert(1)>" + "y" * 999,
            "state": link.state.reveal(),
        }
    )
    form.paste_input.value = f"{link.redirect_uri}?{query}"
    form.paste_button.click()
    assert form.status_kind == "refused"
    assert "<img" not in form.status_html.value
    assert "&lt;img" in form.status_html.value
    assert "y" * 300 not in form.status_html.value


def test_dashboard_link_and_live_mode_inputs_are_read(
    sb: Sandbox, form_for: Callable[..., CallbackForm]
) -> None:
    form = form_for()
    client = sb.demo_app.client_ids["test"]
    form.dashboard_input.value = (
        f"{sb.marketplace_base}/oauth/v2/chnlink_abc123/authorize?client_id={client}"
    )
    link = form.build()
    assert link is not None
    assert "/oauth/v2/chnlink_abc123/authorize" in link.url
    form.mode_input.value = "live"
    assert form.build() is None  # the test-mode link is not the live client's
    assert "configured for live mode" in form.status_html.value
    form.dashboard_input.value = ""
    assert form.build() is None  # live mode refuses an http:// redirect URI
    assert "HTTPS" in form.status_html.value


def test_rebuild_stops_the_previous_server(form_for: Callable[..., CallbackForm]) -> None:
    form = form_for()
    form.build()
    first = form.server
    form.build()
    assert first is not None
    assert not first.running
    assert form.server is not None
    assert form.server.running


def test_remote_environment_advice_is_shown(sb: Sandbox) -> None:
    form = CallbackForm(
        sb.settings(mode="test"),
        log=AttemptLog(),
        environ={"BINDER_LAUNCH_HOST": "https://mybinder.org/"},
        tick=False,
    )
    try:
        assert "Binder" in form.remote_html.value
        assert "paste" in form.remote_html.value
    finally:
        form.close()


def _ticker_of(form: object) -> object:
    (play,) = [c for c in form.children if "som-ticker" in c._dom_classes]  # type: ignore[attr-defined]
    return play


def test_countdowns_tick_from_the_browser_and_leave_no_thread(
    sb: Sandbox, form_for: Callable[..., CallbackForm]
) -> None:
    threads = threading.active_count()
    form = CallbackForm(
        sb.settings(mode="test", redirect_uri=sb.demo_app.redirect_uris[0]),
        allowed_redirect_uris=sb.demo_app.redirect_uris,
        environ={},
    )
    try:
        play = _ticker_of(form)
        link = form.build()
        assert link is not None
        assert "15:00" in form.status_html.value
        play.value += 1  # type: ignore[attr-defined]  # what the browser does every second
        assert "left" in form.status_html.value
        assert "15:00" not in form.status_html.value or "14:59" in form.status_html.value
        sb.approve(link.url)
        assert until(lambda: form.status_kind == "received")
        first = form.countdown_html.value
        time.sleep(1.1)
        play.value += 1  # type: ignore[attr-defined]
        assert form.countdown_html.value != first
    finally:
        form.close()
    assert threading.active_count() <= threads  # the server's threads are gone too


def test_live_mode_with_a_redirect_uri_the_sandbox_refuses_says_why_not_waiting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Notebook 02 in live mode: the consent page would say "This install link cannot be
    used" while the form said "Waiting"; the form says why, and what to do, instead."""
    from stripe_oauth_nb import Target, load_settings
    from stripe_oauth_nb.widgets import CallbackForm

    for name in list(os.environ):
        if name.startswith("STRIPE_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    with Target.open(load_settings(), customers=3) as target:
        form = CallbackForm(target.settings)
        form.mode_input.value = "live"
        form.redirect_input.value = target.settings.redirect_uri.replace("http://", "https://")
        assert form.build() is None
        shown = form.status_html.value
        form.stop()
    assert "refuses this install link" in shown
    assert "is not one of the app&#x27;s allowed_redirect_uris" in shown
    assert "switch Mode back to test" in shown
    assert "Waiting" not in shown
    assert form.server is None
