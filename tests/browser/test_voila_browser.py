"""The walkthrough in Voilà (the notebook as an app, for demos): it renders, runs and clicks.

Voilà executes the notebook on page load and shows its outputs without the code. A person then
registers the manifest and builds the install link, and the link opens the sandbox's consent
page, exactly as in JupyterLab.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from . import _lab, _person

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.browser

VOILA_START_TIMEOUT = 60.0
VOILA_ICON_FONT_CDN = "https://cdn.jsdelivr.net/npm/@fortawesome/"


@contextlib.contextmanager
def running_voila(work_dir: Path, notebook: str) -> Iterator[str]:
    """Serve ``notebooks/<notebook>`` with Voilà on a free loopback port; yield its URL."""
    pytest.importorskip("voila", reason="Voilà is in the test extra: pip install -e '.[test]'")
    root = _lab._prepare_work_dir(work_dir)
    shutil.copyfile(_person.REPO_NOTEBOOKS / notebook, root / notebook)
    port = _lab.free_port()
    log_path = work_dir / "voila.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "voila",
                notebook,
                "--no-browser",
                f"--port={port}",
                "--Voila.ip=127.0.0.1",
                "--show_tracebacks=True",
            ],
            cwd=root,
            env=_lab._server_env(work_dir),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + VOILA_START_TIMEOUT
        while "is running at" not in _lab.log_tail(log_path):
            if process.poll() is not None or time.monotonic() > deadline:
                raise _lab.LabStartError(f"Voilà did not start:\n{_lab.log_tail(log_path)}")
            time.sleep(0.2)
        yield f"http://127.0.0.1:{port}/"
    finally:
        _lab.stop_process(process)


@pytest.fixture
def short_tmp() -> Iterator[Path]:
    """A work folder with a short path, as a person's would be: the manifest form shows the
    manifest's whole path, which the deep folders of a pytest-xdist worker would make longer
    than any person's (the check that no text is cut off stays strict)."""
    folder = Path(tempfile.mkdtemp(prefix="voila-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_walkthrough_in_voila(page: Page, short_tmp: Path) -> None:
    from playwright.sync_api import expect

    tmp_path = short_tmp

    external = _lab.track_external_requests(page.context)
    with running_voila(tmp_path, "00_walkthrough.ipynb") as url:
        page.goto(url, wait_until="domcontentloaded", timeout=120_000)
        form = page.locator(".som-manifest-form")
        expect(form).to_be_visible(timeout=120_000)
        expect(page.locator(".som-walkthrough-target")).to_contain_text(
            "a sandbox started for this session"
        )
        expect(page.get_by_text("Error displaying widget")).to_have_count(0)
        # The code is hidden, the outputs are there: the connect() cell authorized.
        expect(page.locator(".som-connect-status")).to_contain_text(
            "Connected by approve=True: acct_"
        )

        name = _lab.widget(page, "som-manifest-name", "text")
        name.fill("Demo Reports")
        findings = _lab.widget(page, "som-manifest-findings", "html")
        expect(findings).to_contain_text("0 error(s)")
        _lab.widget(page, "som-manifest-register", "button").click()
        status = _lab.widget(page, "som-manifest-status", "html")
        expect(status).to_contain_text("Registered Demo Reports with the sandbox")

        _lab.widget(page, "som-build-link", "button").click()
        callback = _lab.widget(page, "som-callback-status", "html")
        expect(callback).to_contain_text("Listening on http://127.0.0.1:")
        link = page.locator(".som-install-link a")
        expect(link).to_contain_text("Open the install link (test mode)")
        _person.accept_in_new_tab(page, link, app_name="Demo Reports")
        expect(callback).to_contain_text("Received")
        expect(page.locator(".som-install-link a")).to_have_count(0)
        problems = _person.screen_problems(page, page.locator("body"))
        assert problems == [], "\n".join(problems)
        _person.no_whole_secrets(page)
        shot = _lab.screenshot(page, "voila-received")
        assert shot.stat().st_size > 10_000
    assert not re.search(r"Traceback", _lab.log_tail(tmp_path / "voila.log", 400))
    # Voilà's own page template asks a CDN for its icon font (the browser here cannot reach
    # it); nothing of the notebook's does.
    ours = [url for url in external if not url.startswith(VOILA_ICON_FONT_CDN)]
    assert ours == [], f"requests left the machine: {ours}"
