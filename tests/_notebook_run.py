"""Run a notebook in a real kernel of this environment, then click its forms in that kernel.

One run per notebook and test session serves two questions (``run_once``, through the
``notebook_run`` fixture of ``tests/conftest.py``): ``tests/test_notebooks_driven.py`` (do the
forms work, does every button show its failures) and ``tests/test_leaks.py`` (does any secret
reach the saved notebook or the DEBUG log while the forms are used). Each run has DEBUG logging on
for everything, into a file, and the sandbox's test-only hook writes down every secret it mints.
The notebook and its ``data/`` folder are copied into a work folder first, so what the notebook
writes next to itself stays out of the repository; a cell appended at the end hands the
notebook's globals to ``tests/_notebook_drivers.py``.
"""

from __future__ import annotations

import logging
import shutil
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ipykernel.kernelspec
import nbformat
import pytest
from _notebook_drivers import DRIVERS
from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from stripe_oauth_nb.sandbox._secrets_log import SECRETS_FILE_ENV

TESTS_DIR = Path(__file__).resolve().parent
NOTEBOOKS_DIR = TESTS_DIR.parent / "notebooks"
NOTEBOOKS = sorted(NOTEBOOKS_DIR.glob("*.ipynb"))
CELL_TIMEOUT = 180
#: The kernel's environment: the sandbox whatever the developer's shell says.
KERNEL_ENV = {"STRIPE_OAUTH_NB_TARGET": "sandbox", "STRIPE_OAUTH_NB_MODE": "test"}
#: Variables of the developer's shell that would point the notebooks elsewhere.
KERNEL_ENV_REMOVED = (
    "STRIPE_SECRET_KEY_TEST",
    "STRIPE_SECRET_KEY_LIVE",
    "STRIPE_API_KEY",
    "STRIPE_CLIENT_ID_TEST",
    "STRIPE_CLIENT_ID_LIVE",
    "STRIPE_OAUTH_NB_SANDBOX_URL",
    "STRIPE_OAUTH_NB_TOKEN_STORE",
    "STRIPE_REDIRECT_URI",
    "STRIPE_API_BASE",
    "STRIPE_MARKETPLACE_BASE",
)
#: The first line of the appended cell's output.
DRIVEN = "driven: "
#: nbformat's functions are untyped; call them through ``Any``.
NBF: Any = nbformat


class _CurrentEnvKernelSpecs(KernelSpecManager):
    """``python3`` is ipykernel in this interpreter (nbval's ``--nbval-current-env``)."""

    def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
        if kernel_name == "python3":
            return KernelSpec(
                resource_dir=ipykernel.kernelspec.RESOURCES,
                **ipykernel.kernelspec.get_kernel_dict(),
            )
        return super().get_kernel_spec(kernel_name)


def has_driver(notebook: Path) -> bool:
    return notebook.stem in DRIVERS


def _driver_cell(name: str) -> Any:
    source = "\n".join(
        [
            "# Injected by tests/_notebook_run.py: click the forms as a person would.",
            "import sys",
            "",
            f"sys.path.insert(0, {str(TESTS_DIR)!r})",
            "import _notebook_drivers",
            "",
            f"_notebook_drivers.drive({name!r}, globals())",
        ]
    )
    return NBF.v4.new_code_cell(source)


@dataclass(frozen=True)
class Executed:
    notebook: Path
    saved: Path  # the executed notebook, driver cell included
    error: str | None  # why the run stopped early, if it did (what ran is still saved)
    driven: str | None  # the driver cell's output ("driven: ..."), None without a driver


def execute(
    notebook: Path,
    workdir: Path,
    *,
    first_cells: Sequence[Any] = (),
    env: dict[str, str] | None = None,
    drive: bool = True,
) -> Executed:
    """Run ``notebook`` in a copy of the notebooks folder, then (``drive``) its driver.

    ``first_cells`` run before the notebook's own (e.g. logging set-up); ``env`` is added to
    the kernel's environment.
    """
    folder = workdir / "notebooks"
    folder.mkdir(parents=True, exist_ok=True)
    data = NOTEBOOKS_DIR / "data"
    if data.is_dir() and not (folder / "data").exists():
        shutil.copytree(data, folder / "data")
    nb = NBF.read(notebook, as_version=4)
    nb.cells[:0] = list(first_cells)
    driven_index = None
    if drive and has_driver(notebook):
        nb.cells.append(_driver_cell(notebook.stem))
        driven_index = len(nb.cells) - 1
    km = KernelManager(kernel_name="python3", kernel_spec_manager=_CurrentEnvKernelSpecs())
    spec = km.kernel_spec
    assert spec is not None
    assert Path(spec.argv[0]).resolve() == Path(sys.executable).resolve()
    saved = workdir / notebook.name
    with pytest.MonkeyPatch.context() as mp:
        for name in KERNEL_ENV_REMOVED:
            mp.delenv(name, raising=False)
        for name, value in {**KERNEL_ENV, **(env or {})}.items():
            mp.setenv(name, value)  # the kernel inherits os.environ
        client = NotebookClient(
            nb,
            km=km,
            timeout=CELL_TIMEOUT,
            store_widget_state=True,
            resources={"metadata": {"path": str(folder)}},
        )
        error = None
        try:
            # nbclient leaves a kernel it was handed running unless told to clean up.
            client.execute(cleanup_kc=True)
        except CellExecutionError as exc:
            error = str(exc)
        finally:
            NBF.write(nb, saved)
    driven = None
    if driven_index is not None:
        texts = [
            "".join(output.get("text", ""))
            for output in nb.cells[driven_index].get("outputs", [])
            if output.get("output_type") == "stream"
        ]
        driven = "".join(texts) if texts else None
    return Executed(notebook, saved, error, driven)


# --- one logged, driven run per notebook, shared by the tests that look at it ------------------

DEBUG_LOGGERS = ("stripe_oauth_nb", "httpx2", "httpcore2", "uvicorn", "stripe")
LOG_FORMAT = "%(asctime)s %(levelname)s [%(name)s] %(message)s"


def _logging_cell(log_path: Path) -> Any:
    source = "\n".join(
        [
            "# Injected by tests/_notebook_run.py: DEBUG logging for everything, into a file.",
            "import logging",
            "",
            "logging.basicConfig(",
            f"    level=logging.DEBUG, filename={str(log_path)!r}, force=True,",
            f"    format={LOG_FORMAT!r},",
            ")",
            f"for _name in {DEBUG_LOGGERS!r}:",
            "    logging.getLogger(_name).setLevel(logging.DEBUG)",
        ]
    )
    return NBF.v4.new_code_cell(source)


@dataclass(frozen=True)
class Run:
    """A notebook run with DEBUG logging into ``log`` and its forms clicked."""

    executed: Executed
    workdir: Path  # the notebook ran in ``workdir / "notebooks"``
    log: Path
    secrets: list[str]  # every key, code and token the notebook's sandboxes minted

    @property
    def notebook(self) -> Path:
        return self.executed.notebook

    @property
    def saved(self) -> Path:
        return self.executed.saved

    @property
    def error(self) -> str | None:
        return self.executed.error

    @property
    def driven(self) -> str | None:
        return self.executed.driven


def execute_logged(notebook: Path, workdir: Path) -> Run:
    """Run ``notebook`` with DEBUG logging and the secrets hook on, then click its forms."""
    workdir.mkdir(parents=True, exist_ok=True)
    secrets_file = workdir / "secrets.txt"
    log_path = workdir / "debug.log"
    executed = execute(
        notebook,
        workdir,
        first_cells=[_logging_cell(log_path)],
        env={SECRETS_FILE_ENV: str(secrets_file)},
    )
    logging.getLogger(__name__).info("executed %s into %s", notebook.name, executed.saved)
    text = secrets_file.read_text() if secrets_file.exists() else ""
    return Run(executed, workdir, log_path, sorted(set(text.split())))


class RunOnce:
    """Each notebook runs once per test session, however many tests look at the run.

    Running a notebook, kernel start and clicks included, is the suite's largest fixed cost;
    the tests that share a run are in one xdist group (``notebook-runs``), so one worker pays it.
    """

    def __init__(self, root: Path) -> None:
        self._root = root
        self._runs: dict[Path, Run] = {}
        self._lock = threading.Lock()

    def __call__(self, notebook: Path) -> Run:
        with self._lock:
            if notebook not in self._runs:
                self._runs[notebook] = execute_logged(notebook, self._root / notebook.stem)
            return self._runs[notebook]
