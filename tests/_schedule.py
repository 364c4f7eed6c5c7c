"""How the suite is spread over xdist workers: the groups that share a worker, and the groups
that start first (read by ``tests/conftest.py``'s scheduler)."""

from __future__ import annotations

#: Tests that share a fixed cost run on one xdist worker: the browser tests share one
#: JupyterLab and one Chromium; the leak search and the driven notebooks share one run of each
#: notebook (``notebook_run``). Every other file is a group of its own (its module-scoped
#: fixtures are paid once, and a notebook's cells under nbval share one kernel).
SHARED_GROUPS: dict[str, str] = {
    "tests/browser/": "browser",
    "tests/test_leaks.py": "notebook-runs",
    "tests/test_notebooks_driven.py": "notebook-runs",
}
#: Groups that take longest start first, so no worker is left with a long one at the end
#: (in the order of their time in ``bench/ci_profile.sh``, idle, 2 cores; the other files follow
#: in collection order).
LONGEST_FIRST = (
    "browser",
    "tests/test_sandbox_cli.py",
    "tests/test_sync.py",
    "tests/test_sync_pace.py",
    "tests/test_sync_processes.py",
    "notebook-runs",
    "tests/test_cli_fuzz.py",
    "tests/test_readme.py",
    "tests/test_sync_privacy.py",
    "tests/test_sync_resume.py",
    "notebooks/05_sql.ipynb",
    "tests/test_sync_events.py",
    "tests/test_sync_changes.py",
    "tests/test_sandbox_openapi.py",
    "tests/test_sync_forget.py",
    "tests/test_sync_disk.py",
    "tests/test_tokens_postgres.py",
    "tests/test_core_install.py",
    "tests/test_sync_analyses.py",
    "tests/test_serve.py",
    "tests/test_callback_server.py",
)
