"""Shared fixtures: one running sandbox per test module, and helpers to drive it over HTTP."""

from __future__ import annotations

import os
import secrets
import signal
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from _notebook_run import RunOnce
from _postgres import PostgresServer, PostgresUnavailable
from _sandbox_helpers import token_request
from _schedule import LONGEST_FIRST, SHARED_GROUPS

from stripe_oauth_nb._http import httpx
from stripe_oauth_nb._settings import Mode, Settings
from stripe_oauth_nb.sandbox import RegisteredApp, Sandbox

TESTS_DIR = Path(__file__).resolve().parent
ROOT = TESTS_DIR.parent


def xdist_group(nodeid: str) -> str:
    """The group of a test: tests of one group run on one worker, in collection order."""
    path = nodeid.split("::", 1)[0]
    for prefix, group in SHARED_GROUPS.items():
        if path.startswith(prefix):
            return group
    return path


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    """``-n auto``: one worker more than the cores this process may use. Many tests wait
    (rate limits, retries, servers starting, signals at random moments, a browser drawing), and
    the extra worker uses the core a waiting one leaves idle. ``PYTEST_XDIST_AUTO_NUM_WORKERS``
    still decides when set."""
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return None  # xdist's own hook reads it
    return len(os.sched_getaffinity(0)) + 1


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """``--dist loadfile``, with the shared groups above and the longest groups first."""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class GroupScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return xdist_group(nodeid)

        def schedule(self) -> None:
            # The groups in collection order, not xdist's "most tests first"; then
            # _assign_work_unit puts the longest first.
            self.config.option.loadscopereorder = False
            super().schedule()

        def _assign_work_unit(self, node: Any) -> None:
            # Reorder the queue of groups, never the collections: a worker runs the items at
            # the indexes it is sent, counted in its own collection order.
            if not getattr(self, "_longest_first", False):
                rank = {group: i for i, group in enumerate(LONGEST_FIRST)}
                ordered = sorted(self.workqueue.items(), key=lambda kv: rank.get(kv[0], len(rank)))
                self.workqueue.clear()
                self.workqueue.update(ordered)
                self._longest_first = True
            super()._assign_work_unit(node)

    return GroupScheduling(config, log)


#: Which workers ran each group (on the xdist controller): each group must run on one.
_GROUP_WORKERS: dict[str, set[str]] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    node = getattr(report, "node", None)  # set on the controller for a worker's report
    if node is not None:
        _GROUP_WORKERS.setdefault(xdist_group(report.nodeid), set()).add(node.gateway.id)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run when a group ran on several workers: its module fixtures were paid twice,
    or a notebook's cells ran in two kernels (the scheduler was wrong)."""
    split = {group: sorted(w) for group, w in _GROUP_WORKERS.items() if len(w) > 1}
    if split:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(f"ERROR: test groups ran on several workers: {split}", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Slow, whatever else they are: the notebooks under nbval (each starts a kernel) and the
    real-browser tests (a JupyterLab server and Chromium)."""
    browser = TESTS_DIR / "browser"
    for item in items:
        if item.path.suffix == ".ipynb" or browser in item.path.parents:
            item.add_marker(pytest.mark.slow)


#: Signals whose Python handlers every test must find and leave as the session started: a
#: handler left behind (a command run in-process, an event loop never closed, a module fixture)
#: would swallow another test's interrupt, far from the cause.
WATCHED_SIGNALS = (signal.SIGINT, signal.SIGTERM)
# A non-interactive shell starts a background job (`pytest ... &`) with SIGINT ignored, and
# processes inherit that: a Python started so turns no Ctrl-C into KeyboardInterrupt, and the
# tests of what an interrupt does (in this process and in the commands they start) would hang.
# They need what a terminal gives.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)
SESSION_HANDLERS = {sig: signal.getsignal(sig) for sig in WATCHED_SIGNALS}


def _changed_handlers() -> dict[str, Any]:
    return {
        signal.Signals(sig).name: signal.getsignal(sig)
        for sig in WATCHED_SIGNALS
        if signal.getsignal(sig) != SESSION_HANDLERS[sig]
    }


@pytest.fixture(autouse=True)
def _signal_handlers_restored() -> Iterator[None]:
    """Fail the test that leaves a SIGINT or SIGTERM handler changed, not the one it breaks;
    a handler found changed before the test names what a fixture left behind."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    found = _changed_handlers()
    if found:
        for sig in WATCHED_SIGNALS:
            signal.signal(sig, SESSION_HANDLERS[sig])
        pytest.fail(f"a fixture of this test (or of the one before) left signal handlers: {found}")
    yield
    left = _changed_handlers()
    for sig in WATCHED_SIGNALS:
        signal.signal(sig, SESSION_HANDLERS[sig])  # the next test starts clean whatever happens
    assert not left, f"this test left signal handlers changed: {left}"


@pytest.fixture(scope="session")
def notebook_run(tmp_path_factory: pytest.TempPathFactory) -> RunOnce:
    """``notebook_run(path)``: the notebook run once this session with DEBUG logging, then
    driven by its clicks (``tests/_notebook_run.py``); every later call returns that run."""
    return RunOnce(tmp_path_factory.mktemp("notebook-runs"))


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    """A started sandbox with 25 seeded customers, shared by the tests of one module."""
    with Sandbox(customers=25, rate_limit=False) as sb:
        yield sb


@pytest.fixture
def sb(sandbox: Sandbox) -> Iterator[Sandbox]:
    """The module's sandbox, reset after the test (codes, tokens, faults, stats, clock)."""
    yield sandbox
    sandbox.reset()


@pytest.fixture
def tmp_settings(sandbox: Sandbox, tmp_path: Path) -> Settings:
    """Test-mode settings pointing at the module's sandbox, with a token store in tmp_path."""
    return sandbox.settings(mode="test", token_store_path=tmp_path / "tokens.json")


@pytest.fixture
def client(sandbox: Sandbox) -> Iterator[httpx.Client]:
    """A keep-alive HTTP client whose base URL is the sandbox."""
    with httpx.Client(base_url=sandbox.api_base, timeout=10.0, trust_env=False) as c:
        yield c


def build_install_url(
    sb: Sandbox,
    mode: Mode = "test",
    *,
    app: RegisteredApp | None = None,
    state: str | None = "st",
    redirect_uri: str | None = None,
    path: str = "/oauth/v2/authorize",
) -> str:
    app = app or sb.demo_app
    params = {"client_id": app.client_id(mode)}
    if redirect_uri is not None:
        params["redirect_uri"] = redirect_uri
    if state is not None:
        params["state"] = state
    return f"{sb.marketplace_base}{path}?{urlencode(params)}"


@pytest.fixture
def install_url(sandbox: Sandbox) -> Callable[..., str]:
    """``install_url(mode="test", app=None, state="st", redirect_uri=None, path=...)``."""
    return lambda *args, **kwargs: build_install_url(sandbox, *args, **kwargs)


@pytest.fixture
def obtain_code(sandbox: Sandbox) -> Callable[..., str]:
    """``obtain_code(mode="test", app=None)``: an ``ac_`` code through the real consent form."""

    def obtain(mode: Mode = "test", app: RegisteredApp | None = None) -> str:
        state = secrets.token_urlsafe(16)
        app = app or sandbox.demo_app
        redirect = app.redirect_uris[0]
        if mode == "live" and not redirect.startswith("https://"):
            redirect = next(u for u in app.redirect_uris if u.startswith("https://"))
        url = build_install_url(sandbox, mode, app=app, state=state, redirect_uri=redirect)
        location = sandbox.approve(url, follow=False)
        query = parse_qs(urlsplit(location).query)
        assert query["state"] == [state]
        return query["code"][0]

    return obtain


@pytest.fixture
def exchange(
    sandbox: Sandbox, client: httpx.Client, obtain_code: Callable[..., str]
) -> Callable[..., dict[str, Any]]:
    """``exchange(mode="test", app=None)``: a token response through consent + token endpoint."""

    def run(mode: Mode = "test", app: RegisteredApp | None = None) -> dict[str, Any]:
        code = obtain_code(mode, app)
        key = sandbox.test.secret_key if mode == "test" else sandbox.live.secret_key
        status, body, _ = token_request(client, key, grant_type="authorization_code", code=code)
        assert status == 200, body
        return body

    return run


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A real PostgreSQL server (not root) for the session; ``create_database()`` per test.

    Skipped where the server binaries are missing, except when ``CI`` is set: there a missing
    database is a failure, so no PostgreSQL test can pass silently in CI.
    """
    try:
        server = PostgresServer()
    except PostgresUnavailable as exc:
        if os.environ.get("CI"):
            pytest.fail(f"{exc} (CI is set, so this is a failure, not a skip)", pytrace=False)
        pytest.skip(str(exc))
    try:
        server.start()
        yield server
    finally:
        server.remove()
