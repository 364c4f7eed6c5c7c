"""Real-browser test kit: a JupyterLab server the tests start, and Playwright helpers.

The server side (`LabServer`, `running_lab`) needs only the standard library. The browser side
imports Playwright lazily so that this module can be imported (and the tests collected or
deselected) where Playwright is not installed.

Conventions the helpers rely on:
- widgets are found by classes added with ``widget.add_class("…")``; ipywidgets puts that class
  on the widget's root element next to ``widget-button`` / ``widget-text`` / ``widget-html``;
- ``window.jupyterapp`` exists because the server config calls
  ``jupyterlab.galata.configure_jupyter_server(c)`` (it sets ``LabApp.expose_app_in_browser``).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal
from urllib.parse import quote, urlsplit

from _ports import free_port

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Locator, Page, Request

HERE = Path(__file__).resolve().parent
NOTEBOOKS_DIR = HERE / "notebooks"
ARTIFACTS_DIR = HERE.parent / "artifacts"
SCREENSHOTS_DIR = ARTIFACTS_DIR / "screenshots"

# Overridable for machines where Chromium lives elsewhere (macOS, other distributions).
CHROMIUM_PATH = Path(os.environ.get("STRIPE_OAUTH_NB_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_INSTALL_HINT = "apt-get install -y chromium"
# Without the networking flags Chromium keeps trying to reach Google's services; the resolver
# rule makes every name except loopback unresolvable, so a page can never reach the internet.
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--disable-default-apps",
    "--disable-extensions",
    "--no-first-run",
    "--no-default-browser-check",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
)

LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})

#: Environment variables the JupyterLab server (and so its kernels) never inherits.
STRIPPED_ENV_PREFIXES = ("STRIPE_",)

SERVER_START_TIMEOUT = 60.0
SERVER_STOP_TIMEOUT = 10.0
KERNEL_IDLE_TIMEOUT = 60.0

# Written next to the tmp root and loaded through JUPYTER_CONFIG_DIR. Command-line options
# (port, root_dir, token, ...) take precedence over what galata's helper sets here.
_SERVER_CONFIG = """\
from jupyterlab.galata import configure_jupyter_server

c = get_config()  # noqa: F821
configure_jupyter_server(c)
c.LabApp.workspaces_dir = {workspaces!r}
c.LabApp.user_settings_dir = {settings!r}
# No news feed, no update check, no PyPI-backed extension manager: nothing leaves the machine.
c.LabApp.news_url = None
c.LabApp.check_for_updates_class = "jupyterlab.NeverCheckForUpdate"
c.LabApp.extension_manager = "readonly"
c.ServerApp.open_browser = False
c.ServerApp.port_retries = 0
c.ServerApp.shutdown_no_activity_timeout = 0
# Notebook trust: keep the signing key and trust database out of the user's data dir.
c.NotebookNotary.secret = b"browser-tests"
c.NotebookNotary.db_file = ":memory:"
"""

# Belt and braces for the "news" question: the notification plugin's own setting.
_USER_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": '{"fetchNews": "false"}\n',
}


class LabStartError(RuntimeError):
    """JupyterLab did not come up; the message carries the tail of its log."""


def log_tail(path: Path, lines: int = 80) -> str:
    """The last ``lines`` lines of a log file ("" if it does not exist yet)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


@dataclass
class LabServer:
    """A running JupyterLab: where it listens, what it serves, where it logs."""

    base_url: str
    root_dir: Path
    log_path: Path
    process: subprocess.Popen[bytes] = field(repr=False)

    @property
    def port(self) -> int:
        return int(self.base_url.rsplit(":", 1)[1])

    def url(self, path: str = "") -> str:
        """Absolute URL of ``path`` under the server (``path`` with or without a leading /)."""
        return f"{self.base_url}/{path.lstrip('/')}"

    def copy_notebook(self, path: Path | str, name: str | None = None) -> str:
        """Copy a notebook (or any file) into the server's root; return its name there."""
        source = Path(path)
        target_name = name or source.name
        shutil.copyfile(source, self.root_dir / target_name)
        return target_name

    def api(self, method: str, path: str) -> object:
        """Call the server's REST API (no token, XSRF checks off); return the decoded JSON."""
        request = urllib.request.Request(self.url(f"api/{path.lstrip('/')}"), method=method)
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
        return json.loads(body) if body else None

    def shutdown_kernels(self) -> int:
        """Shut down every kernel (a notebook opened again then starts a fresh one); return
        how many there were. Kernels outlive the browser page: JupyterLab's sessions are per
        notebook path, so without this a later test reconnects to an earlier test's kernel."""
        sessions = self.api("GET", "sessions")
        assert isinstance(sessions, list)
        for session in sessions:
            self.api("DELETE", f"sessions/{session['id']}")
        kernels = self.api("GET", "kernels")
        assert isinstance(kernels, list)
        for kernel in kernels:
            self.api("DELETE", f"kernels/{kernel['id']}")
        return len(sessions) + len(kernels)

    def log_text(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def log_tail(self, lines: int = 80) -> str:
        return log_tail(self.log_path, lines)


def _server_env(work_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    # Isolate from the user's ~/.jupyter (config, lab settings, workspaces) but keep the
    # environment-wide config dirs, which enable jupyter-server-proxy.
    env["JUPYTER_CONFIG_DIR"] = str(work_dir / "config")
    env["JUPYTER_RUNTIME_DIR"] = str(work_dir / "runtime")
    # galata's helper makes temp dirs/files at import time; keep them inside our tmp.
    env["TMPDIR"] = str(work_dir / "tmp")
    env["JUPYTERLAB_GALATA_ROOT_DIR"] = str(work_dir / "root")
    env["PYTHONUNBUFFERED"] = "1"
    for name in ("JUPYTERHUB_SERVICE_PREFIX", "JUPYTERHUB_API_TOKEN", "JPY_SESSION_NAME"):
        env.pop(name, None)
    # Kernels inherit this environment: a developer's own Stripe keys or target must not turn
    # the sandbox notebooks into ones against real Stripe.
    for name in [n for n in env if n.startswith(STRIPPED_ENV_PREFIXES)]:
        del env[name]
    return env


def _prepare_work_dir(work_dir: Path) -> Path:
    root = work_dir / "root"
    config = work_dir / "config"
    settings = work_dir / "user-settings"
    for directory in (root, config, settings, work_dir / "runtime", work_dir / "tmp"):
        directory.mkdir(parents=True, exist_ok=True)
    (config / "jupyter_server_config.py").write_text(
        _SERVER_CONFIG.format(
            workspaces=str(work_dir / "workspaces"),
            settings=str(settings),
        ),
        encoding="utf-8",
    )
    for relative, text in _USER_SETTINGS.items():
        target = settings / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    return root


def _api_answers(base_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base_url}/api", timeout=2) as response:
            return bool(response.status == 200 and b'"version"' in response.read())
    except (urllib.error.URLError, OSError):
        return False


def _wait_for_api(
    base_url: str, process: subprocess.Popen[bytes], log_path: Path, timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise LabStartError(
                f"JupyterLab exited with code {process.returncode} before answering "
                f"{base_url}/api. Log {log_path}:\n{log_tail(log_path)}"
            )
        if _api_answers(base_url):
            return
        time.sleep(0.2)
    raise LabStartError(
        f"JupyterLab did not answer {base_url}/api within {timeout:.0f} s. "
        f"Log {log_path}:\n{log_tail(log_path)}"
    )


def stop_process(process: subprocess.Popen[bytes], timeout: float = SERVER_STOP_TIMEOUT) -> None:
    """Terminate, wait, then kill: the server shuts its kernels down on SIGTERM."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=timeout)


def _lab_command(port: int, root: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        # ServerApp.token is deprecated in favour of IdentityProvider.token (same effect).
        "--IdentityProvider.token=",
        "--ServerApp.password=",
        f"--ServerApp.root_dir={root}",
        "--ServerApp.allow_root=True",
    ]


def _start(work_dir: Path, root: Path, startup_timeout: float) -> LabServer:
    """One start attempt; on failure the process is stopped and LabStartError raised."""
    log_path = work_dir / "jupyterlab.log"
    port = free_port()
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            _lab_command(port, root),
            cwd=root,
            env=_server_env(work_dir),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = LabServer(
        base_url=f"http://127.0.0.1:{port}", root_dir=root, log_path=log_path, process=process
    )
    try:
        _wait_for_api(server.base_url, process, log_path, startup_timeout)
    except BaseException:
        stop_process(process)
        raise
    return server


@contextlib.contextmanager
def running_lab(
    work_dir: Path, *, startup_timeout: float = SERVER_START_TIMEOUT, attempts: int = 3
) -> Iterator[LabServer]:
    """Start JupyterLab (this interpreter, so kernels run in this environment) and stop it after.

    ``work_dir`` receives ``root/`` (the server's root dir: copy notebooks there), ``config/``,
    ``user-settings/``, ``workspaces/``, ``runtime/``, ``tmp/`` and ``jupyterlab.log``. The free
    port is picked before the server binds it, so a start that loses that race is retried.
    """
    root = _prepare_work_dir(work_dir)
    for attempt in range(1, attempts + 1):
        try:
            server = _start(work_dir, root, startup_timeout)
            break
        except LabStartError as error:
            if attempt == attempts or "is not available" not in str(error):
                raise
    try:
        yield server
    finally:
        stop_process(server.process)


# --------------------------------------------------------------------------- browser helpers

# Everything JupyterLab may pop up over the page on a fresh profile.
DIALOG_SELECTOR = ".jp-Dialog"
TOAST_SELECTOR = ".Toastify__toast"
_KERNEL_DIALOG_TITLE = re.compile(r"select kernel", re.IGNORECASE)

# True when the notebook called `name` is the current widget, its kernel is idle and no cell
# is queued or running (JupyterLab shows "[*]:" in the prompt of those).
_NOTEBOOK_IDLE_JS = """
(name) => {
  const app = window.jupyterapp;
  if (!app || !app.shell) return false;
  const panel = app.shell.currentWidget;
  if (!panel || !panel.context || !panel.sessionContext) return false;
  if (name !== null && panel.context.path !== name) return false;
  const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
  if (!kernel || kernel.status !== 'idle') return false;
  const indicator = panel.node.querySelector('.jp-Notebook-ExecutionIndicator');
  if (indicator && indicator.getAttribute('data-status') !== 'idle') return false;
  for (const prompt of panel.node.querySelectorAll('.jp-InputArea-prompt')) {
    if (prompt.textContent.includes('*')) return false;
  }
  return true;
}
"""


def dismiss_popups(page: Page) -> list[str]:
    """Close any JupyterLab dialog or toast notification; return the texts that were closed.

    A "Select Kernel" dialog is accepted (it proposes the notebook's own kernel); any other
    dialog is rejected (Escape / its reject button), toasts are closed with their close button.
    """
    closed: list[str] = []
    for dialog in page.locator(DIALOG_SELECTOR).all():
        if not dialog.is_visible():
            continue
        text = dialog.inner_text(timeout=2_000)
        closed.append(text)
        button_class = ".jp-mod-accept" if _KERNEL_DIALOG_TITLE.search(text) else ".jp-mod-reject"
        button = dialog.locator(f".jp-Dialog-button{button_class}")
        if button.count():
            button.first.click(timeout=2_000)
        else:
            page.keyboard.press("Escape")
    for toast in page.locator(TOAST_SELECTOR).all():
        if not toast.is_visible():
            continue
        closed.append(toast.inner_text(timeout=2_000))
        close = toast.locator(".jp-Notification-Toast-Close, .Toastify__close-button")
        if close.count():
            close.first.click(timeout=2_000)
    return closed


def install_popup_handlers(page: Page) -> None:
    """Let Playwright close dialogs/toasts by itself whenever one blocks an action or assertion.

    Playwright runs the handler before every action and auto-waiting assertion while such an
    element is visible, so a test that wants to look at a dialog must call
    `remove_popup_handlers` first.
    """
    page.add_locator_handler(
        page.locator(DIALOG_SELECTOR), lambda _locator: dismiss_popups(page), no_wait_after=True
    )
    page.add_locator_handler(
        page.locator(TOAST_SELECTOR), lambda _locator: dismiss_popups(page), no_wait_after=True
    )


def remove_popup_handlers(page: Page) -> None:
    page.remove_locator_handler(page.locator(DIALOG_SELECTOR))
    page.remove_locator_handler(page.locator(TOAST_SELECTOR))


def wait_idle(
    page: Page, timeout: float = KERNEL_IDLE_TIMEOUT, name: str | None = None
) -> list[str]:
    """Wait until the current notebook's kernel is idle and no cell is queued or running.

    Closes dialogs and toasts while waiting (a kernel-selection dialog would otherwise block
    forever). The state must hold on two consecutive polls, so a gap between two queued cells
    is not taken for the end of the run. Returns the texts of the popups it closed.
    """
    deadline = time.monotonic() + timeout
    settled = 0
    closed: list[str] = []
    while True:
        closed += dismiss_popups(page)
        if page.evaluate(_NOTEBOOK_IDLE_JS, name):
            settled += 1
            if settled >= 2:
                return closed
        else:
            settled = 0
        if time.monotonic() > deadline:
            status = page.evaluate(
                """() => {
                  const p = window.jupyterapp && window.jupyterapp.shell.currentWidget;
                  const k = p && p.sessionContext && p.sessionContext.session
                    && p.sessionContext.session.kernel;
                  return {path: p && p.context ? p.context.path : null,
                          kernel: k ? k.status : null};
                }"""
            )
            raise TimeoutError(f"notebook not idle after {timeout:.0f} s: {status}")
        time.sleep(0.2)


def open_notebook(
    page: Page,
    lab: LabServer,
    name: str,
    *,
    timeout: float = KERNEL_IDLE_TIMEOUT,
    auto_dismiss: bool = True,
    reset_workspace: bool = False,
) -> list[str]:
    """Open ``name`` (relative to the server root) in JupyterLab and wait for an idle kernel.

    With ``auto_dismiss`` (the default) dialogs and toasts are closed whenever they get in the
    way for the rest of the page's life (`install_popup_handlers`); they are closed while
    waiting for the kernel either way. Returns the texts of the popups closed while waiting.
    ``reset_workspace``: forget the tabs earlier tests left open (JupyterLab's ``?reset``),
    so only this notebook opens and starts a kernel.
    """
    if auto_dismiss:
        install_popup_handlers(page)
    query = "?reset" if reset_workspace else ""
    page.goto(lab.url(f"lab/tree/{quote(name)}{query}"), wait_until="domcontentloaded")
    page.wait_for_function("() => window.jupyterapp !== undefined", timeout=timeout * 1000)
    page.evaluate("() => window.jupyterapp.restored")
    return wait_idle(page, timeout, name=name)


def run_all(page: Page) -> None:
    """Run all cells of the current notebook; returns when JupyterLab says the run is over.

    ``notebook:run-all-cells`` resolves once every cell has executed (or one failed). Call
    `wait_idle` after it when later output (widget callbacks, threads) matters.
    """
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")


def widget(
    page: Page, css_class: str, kind: Literal["button", "text", "html", "any"] = "any"
) -> Locator:
    """The element of the widget that has ``css_class`` (added with ``widget.add_class``).

    ``kind`` picks the element a person interacts with: the ``<button>``, the text ``<input>``,
    the HTML widget's content; "any" is the widget's root element.
    """
    if kind == "button":
        return page.locator(f".widget-button.{css_class}")
    if kind == "text":
        return page.locator(f".widget-text.{css_class} input")
    if kind == "html":
        return page.locator(f".widget-html.{css_class} .widget-html-content")
    return page.locator(f".{css_class}")


def track_external_requests(page: Page | BrowserContext) -> list[str]:
    """Record every request made to a host other than loopback (none expected).

    Given a browser context, requests of every page in it count, including tabs opened later.
    """
    external: list[str] = []

    def record(request: Request) -> None:
        host = urlsplit(request.url).hostname
        if request.url.startswith(("http:", "https:", "ws:", "wss:")) and host not in LOOPBACK:
            external.append(request.url)

    page.on("request", record)
    return external


def screenshot(page: Page, name: str, *, full_page: bool = False) -> Path:
    """Save a PNG of the page to ``tests/artifacts/screenshots/<name>.png``; return its path."""
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "screenshot"
    SCREENSHOTS_DIR.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS_DIR / f"{safe}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path
