"""Manifests that could only hurt are refused at once: too large, too deep, odd numbers, pipes.

Each case goes through the three ways in: ``Manifest.load``/``loads``, ``check_file`` and
``stripe-oauth-nb manifest check`` (a real process, so a hang or a traceback shows).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from stripe_oauth_nb._errors import ManifestError, ManifestSyntaxError
from stripe_oauth_nb.manifest import Manifest, check_file, check_text
from stripe_oauth_nb.manifest._jsontext import MAX_DEPTH, MAX_TEXT

#: Generous for a loaded machine; the old reader took over a minute on 44 MB, forever on a FIFO.
BOUND = 20.0


def _deep(depth: int) -> str:
    return '{"id": ' + "[" * depth + "]" * depth + "}"


TEXTS: dict[str, tuple[str, str]] = {
    "deep-100000": (_deep(100_000), "nested more than"),
    "deep-limit": (_deep(MAX_DEPTH + 1), "nested more than"),
    "int-4300": ('{"version": ' + "9" * 4300 + "}", "digits"),
    "int-31": ('{"version": -' + "9" * 31 + "}", "digits"),
    "nan": ('{"version": NaN}', "NaN is not JSON"),
    "infinity": ('{"version": -Infinity}', "Infinity is not JSON"),
    "float-overflow": ('{"version": 1e400}', "finite"),
    "huge": ('{"name": "' + "x" * (MAX_TEXT + 10) + '"}', "characters long"),
}


@pytest.mark.parametrize("case", list(TEXTS))
def test_hurtful_text_is_one_finding(case: str) -> None:
    text, words = TEXTS[case]
    started = time.monotonic()
    findings = check_text(text)
    assert time.monotonic() - started < BOUND
    assert len(findings) == 1
    assert findings[0].is_error
    assert words in findings[0].message
    with pytest.raises(ManifestSyntaxError, match=words.split()[0]):
        Manifest.loads(text)


def test_a_manifest_just_inside_the_limits_still_parses() -> None:
    text = '{"id": "com.example.x", "deep": ' + "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1)
    text += ', "n": ' + "9" * 30 + "}"
    assert Manifest.loads(text).data["n"] == int("9" * 30)


def _fifo(path: Path) -> None:
    os.mkfifo(path)


def _big_file(path: Path) -> None:
    with path.open("wb") as out:  # 44 MB, as in the report that found it
        block = b'{"name": "' + b"x" * (1024 * 1024)
        out.write(block)
        for _ in range(43):
            out.write(b"x" * (1024 * 1024))
        out.write(b'"}')


FILES: dict[str, tuple[Callable[[Path], object], str]] = {
    "fifo": (_fifo, "not a regular file"),
    "44MB": (_big_file, "larger than"),
    "folder": (lambda p: p.mkdir(), "folder"),
    "latin-1": (lambda p: p.write_bytes(b'{"name": "R\xe9ports"}'), "not UTF-8"),
    "deep": (lambda p: p.write_text(_deep(100_000)), "nested more than"),
    "int": (lambda p: p.write_text('{"version": ' + "1" * 4300 + "}"), "digits"),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", list(FILES))
def test_hurtful_files_are_refused_quickly_everywhere(tmp_path: Path, case: str) -> None:
    make, words = FILES[case]
    path = tmp_path / "stripe-app.json"
    make(path)
    before = path.stat().st_mtime_ns
    started = time.monotonic()
    with pytest.raises(ManifestError, match=words.split()[0]):
        Manifest.load(path)
    if words in ("nested more than", "digits"):
        assert words in "".join(f.message for f in check_file(path))
    else:
        with pytest.raises(ManifestError, match=words.split()[0]):
            check_file(path)
    result = subprocess.run(
        [sys.executable, "-m", "stripe_oauth_nb", "manifest", "check", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert time.monotonic() - started < 3 * BOUND
    assert result.returncode in (1, 2)
    assert "Traceback" not in result.stderr
    assert words in result.stdout + result.stderr
    assert path.stat().st_mtime_ns == before  # untouched
