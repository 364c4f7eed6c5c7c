"""Fixtures for the real-browser tests: a JupyterLab server, Chromium, a page per test.

Select or leave out these tests with ``-m browser`` / ``-m "not browser"``. Where Chromium is
missing they are skipped, except when ``CI`` is set: there a missing browser is a failure.
"""

from __future__ import annotations

import os
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import pytest

from . import _lab, _person

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, Playwright, ViewportSize

# The notebooks here are fixtures for the browser tests, not nbval tests of their own.
collect_ignore_glob = ["notebooks/*"]

PAGE_VIEWPORT: ViewportSize = {"width": 1280, "height": 900}
PAGE_DEFAULT_TIMEOUT_MS = 30_000

_CONSOLE = pytest.StashKey[list[str]]()
_active_lab: _lab.LabServer | None = None


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "browser: drives JupyterLab in headless Chromium (Playwright); deselect with "
        '-m "not browser"',
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.browser)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """On failure: screenshot the page, attach the server log and the browser console."""
    report = yield
    if not report.failed:
        return report
    funcargs: dict[str, Any] = getattr(item, "funcargs", {})
    page = funcargs.get("page")
    if page is not None and report.when == "call":
        try:
            path = _lab.screenshot(page, f"FAILED-{item.name}", full_page=True)
            report.sections.append(("failure screenshot", str(path)))
        except Exception as error:  # the page may be gone; the report matters more
            report.sections.append(("failure screenshot", f"none: {error}"))
    if "lab" in getattr(item, "fixturenames", ()) and _active_lab is not None:
        report.sections.append(
            (f"JupyterLab log (tail of {_active_lab.log_path})", _active_lab.log_tail(120))
        )
    console = item.stash.get(_CONSOLE, None)
    if console:
        report.sections.append(("browser console", "\n".join(console[-100:])))
    return report


def _missing(message: str) -> NoReturn:
    """Skip locally, fail in CI: a browser test that cannot run in CI must not pass silently."""
    if os.environ.get("CI"):
        pytest.fail(f"{message} (CI is set, so this is a failure, not a skip)", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_lab.LabServer]:
    """A JupyterLab server for the whole session, serving a tmp root with the test notebooks."""
    global _active_lab
    work_dir = tmp_path_factory.mktemp("jupyterlab")
    with _lab.running_lab(work_dir) as server:
        for notebook in sorted(_lab.NOTEBOOKS_DIR.glob("*.ipynb")):
            server.copy_notebook(notebook)
        _active_lab = server
        try:
            yield server
        finally:
            _active_lab = None


@pytest.fixture(scope="session")
def playwright_instance() -> Iterator[Playwright]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("Playwright for Python is not installed: pip install -e '.[test]'")
    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def browser(playwright_instance: Playwright) -> Iterator[Browser]:
    """Debian's headless Chromium (Playwright cannot download its own browsers here).

    Playwright gives every launch a fresh temporary profile (it refuses ``--user-data-dir``).
    """
    if not _lab.CHROMIUM_PATH.exists():
        _missing(f"{_lab.CHROMIUM_PATH} not found: install it with `{_lab.CHROMIUM_INSTALL_HINT}`")
    browser = playwright_instance.chromium.launch(
        executable_path=str(_lab.CHROMIUM_PATH),
        headless=True,
        args=list(_lab.CHROMIUM_ARGS),
    )
    try:
        yield browser
    finally:
        browser.close()


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A fresh browser context and page (failures get a screenshot, see the report hook)."""
    context = browser.new_context(viewport=PAGE_VIEWPORT)
    context.set_default_timeout(PAGE_DEFAULT_TIMEOUT_MS)
    page = context.new_page()
    console: list[str] = []
    request.node.stash[_CONSOLE] = console

    def record(message: Any) -> None:
        console.append(f"[{message.type}] {message.text}")

    page.on("console", record)
    page.on("pageerror", lambda error: console.append(f"[pageerror] {error}"))
    try:
        yield page
    finally:
        context.close()


@pytest.fixture(autouse=True)
def patient_expect() -> Iterator[None]:
    """Assertions wait :data:`_person.EXPECT_TIMEOUT_MS` (a busy machine, kernel round trips)."""
    from playwright.sync_api import expect

    expect.set_options(timeout=_person.EXPECT_TIMEOUT_MS)
    yield
    expect.set_options(timeout=_person.PLAYWRIGHT_DEFAULT_EXPECT_TIMEOUT_MS)


@pytest.fixture
def fresh_kernels(lab: _lab.LabServer) -> Iterator[None]:
    """Every test starts its notebook on a new kernel (and so a new sandbox), and ends it."""
    lab.shutdown_kernels()
    yield
    lab.shutdown_kernels()
