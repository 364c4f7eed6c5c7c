"""Every notebook works for a person who presses Run All and then clicks every button.

Each notebook runs in a real kernel as stored (no cell clicks for the reader), then
``tests/_notebook_drivers.py`` clicks its forms in the same kernel: the way that works first,
then every button with the network failing, the tokens revoked and the sandbox stopped. A
failure must show in the form, titled and masked (never only in the log console).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from _notebook_drivers import DRIVERS
from _notebook_run import NOTEBOOKS, NOTEBOOKS_DIR, Run

#: Real processes or kernels in most tests here: out of the fast loop (`-m "not slow"`).
pytestmark = pytest.mark.slow

#: The titles each notebook's failures must show (at least these; ``widgets/_common._TITLES``).
EXPECTED_TITLES: dict[str, set[str]] = {
    "00_walkthrough": {
        "The token endpoint said no",
        "Token rotated, response lost",
        "Validation failed",
        "The API call failed",
        "Stripe could not be reached",
        "The callback port is taken",
        "The callback did not deliver a code",
        "The manifest needs fixing",
    },
    "01_manifest": {"The manifest needs fixing", "Stripe could not be reached"},
    "02_install_link_and_callback": {
        "Nothing was authorized",
        "The callback port is taken",
        "The callback did not deliver a code",
    },
    "03_tokens": {
        "The token endpoint said no",
        "Token rotated, response lost",
        "Stripe could not be reached",
    },
    "04_validate_and_use": {
        "Validation failed",
        "The API call failed",
        "Stripe could not be reached",
    },
    # the Sync panel, pressed after the last cell: a report, failed tables named in it
    "05_sql": set(),
}


def _run(notebook: Path, notebook_run: Callable[[Path], Run]) -> Run:
    run = notebook_run(notebook)
    if run.error is not None:
        reason = re.sub(r"\x1b\[[0-9;]*m", "", run.error)
        pytest.fail(f"{notebook.name} failed (saved in {run.saved}):\n{reason}", False)
    assert run.driven is not None, "the driver printed nothing"
    return run


def test_every_notebook_has_a_driver() -> None:
    """A notebook of this series without a driver would have forms nobody clicks."""
    ours = [p.stem for p in NOTEBOOKS if p.stem[:2] in {"00", "01", "02", "03", "04", "05"}]
    assert sorted(ours) == sorted(DRIVERS)


@pytest.mark.parametrize("name", sorted(DRIVERS))
def test_run_all_then_click_every_button(name: str, notebook_run: Callable[[Path], Run]) -> None:
    run = _run(NOTEBOOKS_DIR / f"{name}.ipynb", notebook_run)
    assert run.driven is not None
    shown = set(re.findall(r"^  shown: (.+)$", run.driven, re.MULTILINE))
    missing = EXPECTED_TITLES[name] - shown
    assert not missing, f"failures not shown in their forms: {missing}\n{run.driven}"
    assert "Unexpected error" not in shown, run.driven  # a bug, not a failure explained
    # What the notebook wrote next to itself stays in its (copied) folder.
    written = {p.name for p in (run.workdir / "notebooks").iterdir()} - {"data"}
    expected_files = {
        "00_walkthrough": {"stripe-app.json", "icon.png"},
        "01_manifest": {"reports-sync"},
    }.get(name, set())
    assert written == expected_files
