"""The core install: no JupyterLab, no server stack, no data library, and the commands a
scheduled job needs still work. Installs the project alone into a fresh virtual environment."""

from __future__ import annotations

import os
import shutil
import subprocess
import venv
from pathlib import Path

import pytest

#: A fresh virtualenv and a pip install: out of the fast loop (`-m "not slow"`).
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
LEFT_OUT = ("jupyterlab", "ipywidgets", "starlette", "uvicorn", "pandas", "stripe", "dlt")


def _source_copy(into: Path) -> Path:
    """The project's tracked files, copied: building from them leaves nothing in the checkout."""
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    for name in files:
        source = ROOT / name
        if source.is_file():
            target = into / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return into


@pytest.fixture(scope="module")
def core(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("core-venv")
    source = _source_copy(tmp_path_factory.mktemp("core-source"))
    venv.create(folder, with_pip=True)
    python = folder / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--no-warn-script-location", str(source)],
        check=True,
        capture_output=True,
        timeout=900,
    )
    return folder


def _run(core: Path, *args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STRIPE_")}
    env.update(HOME=str(home), STRIPE_OAUTH_NB_TOKEN_STORE=str(home / "tokens.json"))
    return subprocess.run(
        [str(core / "bin" / "stripe-oauth-nb"), *args],
        cwd=home,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_core_install_leaves_out_the_heavy_parts(core: Path) -> None:
    code = (
        "import importlib.util as u; "
        f"print([m for m in {LEFT_OUT!r} if u.find_spec(m) is not None])"
    )
    out = subprocess.run(
        [str(core / "bin" / "python"), "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == "[]"


def test_tokens_status_and_validate_help_run(core: Path, tmp_path: Path) -> None:
    status = _run(core, "tokens", "status", home=tmp_path)
    assert status.returncode == 0, status.stderr
    assert "No tokens stored" in status.stdout
    helped = _run(core, "validate", "--help", home=tmp_path)
    assert helped.returncode == 0, helped.stderr
    assert "--pull" in helped.stdout


def test_a_command_that_needs_an_extra_names_it(core: Path, tmp_path: Path) -> None:
    result = _run(core, "sandbox", home=tmp_path)
    assert result.returncode == 1
    assert "pip install 'stripe-oauth-nb[server]'" in result.stderr
    assert "Traceback" not in result.stderr
