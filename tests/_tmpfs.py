"""A small file system of a test's own (tmpfs) and a way to fill it: for full-disk tests.

Mounting needs root; where this process cannot mount, the test is skipped with the reason,
except in CI as root (there it is a failure: no full-disk test passes silently)."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


@contextlib.contextmanager
def tmpfs(target: Path, size: str) -> Iterator[Path]:
    """``target`` as a tmpfs of ``size`` (``256k``, ``96m``), unmounted at the end."""
    target.mkdir(mode=0o700)
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(target)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        reason = f"cannot mount a small tmpfs here ({result.stderr.strip() or 'not root'})"
        if os.environ.get("CI") and os.geteuid() == 0:
            pytest.fail(reason)
        pytest.skip(reason)
    try:
        yield target
    finally:
        subprocess.run(["umount", "-l", str(target)], check=False)


def fill(folder: Path, leave: int = 0) -> Path:
    """Fill ``folder``'s file system, then give back ``leave`` bytes; the filler file."""
    filler = folder / "filler"
    with filler.open("ab", buffering=0) as out, contextlib.suppress(OSError):
        while True:
            out.write(b"\0" * (1 << 16))
    if leave:
        os.truncate(filler, max(filler.stat().st_size - leave, 0))
    return filler
