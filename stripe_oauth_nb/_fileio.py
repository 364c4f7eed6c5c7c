"""Durable, private file writes: temp file in the same folder (0600), fsync, replace, fsync dir."""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path

from ._errors import InsecureStoreError

__all__ = ["atomic_write_text", "check_private", "ensure_private_dir"]


def ensure_private_dir(folder: Path) -> None:
    """Create ``folder`` (and parents) with mode 0700 if it does not exist."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)


def check_private(path: Path) -> None:
    """Refuse a file or folder that group or others can read or write (POSIX only)."""
    if os.name != "posix" or not path.exists():
        return
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        fix = "chmod 700" if path.is_dir() else "chmod 600"
        raise InsecureStoreError(
            f"{path} can be read by other users (mode {mode:o}). Run `{fix} {path}` and try "
            "again; if others may have read it, authorize the app again to get new tokens."
        )


def atomic_write_text(path: Path, text: str, *, private: bool = True) -> None:
    """Write ``text`` to ``path`` so that a crash leaves either the old or the new file whole."""
    folder = path.parent
    if private:
        ensure_private_dir(folder)
    else:
        folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            if not private:
                os.chmod(tmp, 0o644)
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    if os.name == "posix":
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
