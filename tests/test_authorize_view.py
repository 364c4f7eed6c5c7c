"""What ``connect()`` shows in a notebook: the install link, a status line, a hidden paste box.

The view is driven headless, as the kernel's widget thread would: ``connect()`` waits in one
thread while the test approves the install link on the sandbox, pastes where the browser landed
and clicks, exactly what a person does when the browser cannot reach the kernel.
"""

from __future__ import annotations

import html
import os
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ipywidgets as w
import pytest

from stripe_oauth_nb import Target, connect, load_settings
from stripe_oauth_nb.sandbox import approve
from stripe_oauth_nb.widgets.authorize_view import AuthorizeView


@pytest.fixture
def target(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Target]:
    for name in list(os.environ):
        if name.startswith("STRIPE_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    with Target.open(load_settings(), customers=3) as opened:
        yield opened


def _link(view: AuthorizeView, within: float = 30.0) -> str:
    until = time.monotonic() + within
    while time.monotonic() < until:
        found = re.search(r'href="([^"]+)"', view.link.value)
        if found:
            return html.unescape(found.group(1))
        time.sleep(0.02)
    raise AssertionError(f"no install link shown within {within:g} s: {view.status.value}")


def test_a_pasted_url_connects_and_the_paste_box_hides_and_forgets_it(target: Target) -> None:
    view = AuthorizeView()
    assert isinstance(view.paste_input, w.Password)  # a saved notebook keeps no pasted code
    result: dict[str, Any] = {}

    def wait_in_the_cell() -> None:
        try:
            with connect(target=target, presenter=view, timeout=60) as conn:
                result["account"] = conn.account_id
        except Exception as exc:  # reported by the assertion below
            result["error"] = exc

    cell = threading.Thread(target=wait_in_the_cell)
    cell.start()
    landed = approve(_link(view), follow=False)  # the browser could not reach the kernel
    code = re.search(r"code=([^&]+)", landed)
    assert code is not None
    view.paste_input.value = landed
    view.paste_button.click()
    cell.join(60)
    assert not cell.is_alive()
    assert "error" not in result, result
    assert result["account"].startswith("acct_")
    assert view.paste_input.value == ""  # the landed URL carries a live code
    assert view.paste_input.disabled
    assert view.paste_button.disabled
    assert "Connected: " + result["account"] in view.status.value
    assert code.group(1) not in view.status.value + view.link.value


def test_a_paste_with_nothing_waiting_says_so() -> None:
    view = AuthorizeView()
    view.paste_input.value = "http://127.0.0.1:8765/callback?code=ac_x&state=s"
    view.paste_button.click()
    assert "Nothing is waiting for a pasted URL." in view.status.value
    assert view.paste_input.value == ""


def test_the_docs_warn_that_saved_widget_state_would_keep_form_values() -> None:
    """The one way a ``Password`` value reaches a file is JupyterLab's widget-state setting."""
    root = Path(__file__).resolve().parent.parent
    readme = " ".join((root / "README.md").read_text(encoding="utf-8").split())
    assert '"save widget state" setting (off by default) would write widget values' in readme
    walkthrough = (root / "notebooks" / "00_walkthrough.ipynb").read_text(encoding="utf-8")
    assert "*Save widget state* setting off" in walkthrough


def test_approve_true_says_that_nobody_clicked(target: Target) -> None:
    """Run All runs a ``connect(approve=True)`` cell: its form must not look filled by the
    person (notebooks 00 and 04)."""
    view = AuthorizeView()
    with connect(target=target, presenter=view, approve=True, timeout=60) as conn:
        account = conn.account_id
    assert "accepted for you by <code>approve=True</code>" in view.link.value
    assert "Install link used." not in view.link.value
    assert f"Connected by approve=True: {account}" in view.status.value
