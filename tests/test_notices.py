"""Licence and third-party notices: every shipped data file is accounted for, and the built
sdist and wheel carry ``LICENSE`` and ``THIRD_PARTY_NOTICES.md``."""

from __future__ import annotations

import re
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

#: Builds the sdist and wheel from the files, runs none of the package: the same on every Python.
pytestmark = pytest.mark.static

ROOT = Path(__file__).resolve().parents[1]
NOTICES = ROOT / "THIRD_PARTY_NOTICES.md"
#: Data that is shipped or used by tests and comes from elsewhere: these folders, every file.
VENDORED_TEST_DATA = (ROOT / "tests" / "data" / "stripe-api",)
#: Files in the package that are not data (code, markers, licence texts beside vendored data).
_NOT_DATA = re.compile(r"(\.py|py\.typed|/LICENSE[^/]*)$")


def _listed() -> set[str]:
    """The paths in the first column of the notices table."""
    rows = re.findall(r"^\| `([^`]+)` \|", NOTICES.read_text(encoding="utf-8"), re.MULTILINE)
    return set(rows)


def _shipped_data() -> set[str]:
    files = subprocess.run(
        ["git", "ls-files", "stripe_oauth_nb", *map(str, VENDORED_TEST_DATA)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return {f for f in files if not _NOT_DATA.search(f)}


def test_every_shipped_data_file_is_listed() -> None:
    missing = _shipped_data() - _listed()
    assert not missing, f"add these to THIRD_PARTY_NOTICES.md: {sorted(missing)}"


def test_every_listed_file_exists() -> None:
    gone = sorted(p for p in _listed() if not (ROOT / p).is_file())
    assert not gone, f"THIRD_PARTY_NOTICES.md lists files that do not exist: {gone}"


def test_stripe_licence_text_travels_with_the_notices() -> None:
    text = NOTICES.read_text(encoding="utf-8")
    assert "Copyright (c) 2011- Stripe, Inc." in text
    assert "The above copyright notice and this permission notice shall be included" in text
    assert (ROOT / "LICENSE").read_text(encoding="utf-8").startswith("MIT License")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--sdist", "--wheel", "--outdir", str(out), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    return out


@pytest.mark.slow
def test_wheel_carries_licence_notices_and_data(built: Path) -> None:
    (wheel,) = built.glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    licences = {Path(n).name for n in names if ".dist-info/licenses/" in n}
    assert {"LICENSE", "THIRD_PARTY_NOTICES.md"} <= licences
    data = {p for p in _shipped_data() if p.startswith("stripe_oauth_nb/")}
    assert data <= set(names)


def test_sdist_carries_licence_and_notices(built: Path) -> None:
    (sdist,) = built.glob("*.tar.gz")
    with tarfile.open(sdist) as archive:
        names = {Path(n).name for n in archive.getnames()}
    assert {"LICENSE", "THIRD_PARTY_NOTICES.md"} <= names
