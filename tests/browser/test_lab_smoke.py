"""Smoke tests of the real-browser harness: widget comms end to end, and jupyter-server-proxy."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, ClassVar

import pytest

from . import _lab

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.browser

SMOKE = "smoke.ipynb"


def test_widgets_round_trip_through_the_kernel(page: Page, lab: _lab.LabServer) -> None:
    from playwright.sync_api import expect

    external = _lab.track_external_requests(page)
    _lab.open_notebook(page, lab, SMOKE)
    _lab.run_all(page)
    _lab.wait_idle(page)

    # The printed line proves the cells ran; the rendered widgets prove the widget manager
    # loaded (a broken one leaves "Loading widget..." or "Error displaying widget").
    outputs = page.locator(".jp-OutputArea-output")
    expect(outputs.get_by_text("smoke notebook ready")).to_be_visible()
    # The kernel runs on this interpreter, so the package under test is importable in it.
    expect(outputs.get_by_text(f"kernel python: {sys.executable}")).to_be_visible()
    shown = _lab.widget(page, "smoke-shown", "html")
    expect(shown).to_have_text("nothing yet")
    expect(page.get_by_text("Error displaying widget")).to_have_count(0)
    expect(page.get_by_text("Loading widget")).to_have_count(0)

    # Typed in the browser, sent to the kernel by the Text model, read by the click handler
    # in the kernel, sent back as the HTML widget's value. Markup must arrive escaped.
    name = _lab.widget(page, "smoke-name", "text")
    name.click()
    name.press_sequentially("Ada <3")
    _lab.widget(page, "smoke-greet", "button").click()
    expect(shown).to_have_text("Hello, Ada <3!")
    expect(shown.locator("b")).to_have_text("Hello, Ada <3!")

    path = _lab.screenshot(page, "smoke-widgets")
    assert path.stat().st_size > 10_000  # a real rendering, not a blank page
    assert external == []  # JupyterLab and the widgets load from the server alone


class _Recorder(BaseHTTPRequestHandler):
    """Answers every GET with 200 and records the raw request target."""

    seen: ClassVar[list[str]] = []
    timeout = 5

    def do_GET(self) -> None:
        self.seen.append(self.path)
        body = f"callback reached: {self.path}".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def callback_server() -> Iterator[tuple[int, list[str]]]:
    """A stdlib HTTP server on 127.0.0.1 standing in for the kernel's OAuth callback server."""
    seen: list[str] = []
    handler = type("Recorder", (_Recorder,), {"seen": seen})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


QUERY = "code=ac_123&state=a%2Bb%3D%3D&x=1"


@pytest.mark.parametrize(
    ("route", "expected_path"),
    [
        # /proxy/<port>/ strips its prefix ...
        ("proxy/{port}/callback", "/callback"),
        # ... /proxy/absolute/<port>/ keeps it.
        ("proxy/absolute/{port}/callback", "/proxy/absolute/{port}/callback"),
    ],
    ids=["relative", "absolute"],
)
def test_server_proxy_reaches_a_kernel_port(
    page: Page,
    lab: _lab.LabServer,
    callback_server: tuple[int, list[str]],
    route: str,
    expected_path: str,
) -> None:
    port, seen = callback_server
    response = page.goto(lab.url(f"{route.format(port=port)}?{QUERY}"))

    assert response is not None
    assert response.status == 200
    expected = f"{expected_path.format(port=port)}?{QUERY}"
    assert seen == [expected]  # the query string arrives byte for byte, %-escapes intact
    assert page.locator("body").inner_text() == f"callback reached: {expected}"


def test_popups_are_dismissed(page: Page, lab: _lab.LabServer) -> None:
    """A notebook saved without kernel metadata asks which kernel to use; open_notebook answers."""
    import json

    from playwright.sync_api import expect

    notebook = json.loads((_lab.NOTEBOOKS_DIR / SMOKE).read_text(encoding="utf-8"))
    notebook["metadata"] = {}
    (lab.root_dir / "no-kernelspec.ipynb").write_text(json.dumps(notebook), encoding="utf-8")

    closed = _lab.open_notebook(page, lab, "no-kernelspec.ipynb", auto_dismiss=False)
    assert any(text.startswith("Select Kernel") for text in closed), closed
    expect(page.locator(_lab.DIALOG_SELECTOR)).to_have_count(0)
    kernel = page.evaluate(
        "() => window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.name"
    )
    assert kernel == "python3"

    page.evaluate("() => { window.jupyterapp.commands.execute('help:about'); }")
    expect(page.locator(_lab.DIALOG_SELECTOR)).to_be_visible()
    closed = _lab.dismiss_popups(page)
    assert any("Version" in text for text in closed), closed
    expect(page.locator(_lab.DIALOG_SELECTOR)).to_have_count(0)

    assert lab.shutdown_kernels() >= 1
    assert lab.api("GET", "kernels") == []
