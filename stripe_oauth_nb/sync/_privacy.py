"""Customers' data at rest: owner-only files and folders, whatever the umask, and no copies.

The sync never changes the process umask (it is process-wide: a notebook kernel's other threads
would create their files under it). Instead:

- folders the sync creates (the work folder ``stripe.duckdb.sync/``, its ``pipelines/`` and
  ``spill/``) are made with mode 0700 before anything is written into them, so nothing inside
  is reachable by another user even before its own mode is set;
- files the sync writes itself (spill batches) are opened 0600;
- files dlt writes (its state, schemas, load packages: dlt opens them with ``0o666`` less the
  umask) are made 0600, and their folders 0700, by :func:`tighten` after every load;
- a new DuckDB database is created by DuckDB inside the private work folder, made 0600 there,
  then linked into place, so it is never readable by others, even for a moment. DuckDB's
  write-ahead log (``stripe.duckdb.wal``, which DuckDB creates and deletes itself while a load
  runs) is made 0600 after every load; a database in a folder of its own (mode 0700) has no
  such window at all.

An existing database (or a work folder that was named, not made by the sync) with wider
permissions is left as it is, with a :class:`DataPermissionsWarning` that names it and the
command that fixes it.

:func:`clean_work_folder` removes what a finished load no longer needs: dlt's completed load
packages (``load/loaded/``: a Parquet copy of every row loaded) and spill files, keeping dlt's
state, schemas and any package still pending (the next run aborts it and reads its rows again).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import warnings
from pathlib import Path

__all__ = [
    "FILE_MODE",
    "FOLDER_MODE",
    "DataPermissionsWarning",
    "check_private",
    "clean_work_folder",
    "create_duckdb",
    "duckdb_wal",
    "private_folder",
    "private_opener",
    "tighten",
]

#: Mode of every file the sync writes.
FILE_MODE = 0o600
#: Mode of every folder the sync makes.
FOLDER_MODE = 0o700


class DataPermissionsWarning(UserWarning):
    """A database or work folder holding customers' data can be read by other users."""


def private_folder(path: Path) -> Path:
    """``path`` as a folder: created 0700 (with its missing parents) when it does not exist."""
    missing: list[Path] = []
    current = path
    while not current.exists():
        missing.append(current)
        current = current.parent
    for folder in reversed(missing):
        with contextlib.suppress(FileExistsError):
            os.mkdir(folder, FOLDER_MODE)  # the umask only ever removes bits from 0700
        os.chmod(folder, FOLDER_MODE)  # a umask such as 0o077 is fine; 0o100 is not
    return path


def private_opener(path: str, flags: int) -> int:
    """An ``opener`` for :func:`open` that creates the file 0600."""
    return os.open(path, flags, FILE_MODE)


def tighten(folder: Path) -> None:
    """Every file under ``folder`` 0600 and every folder 0700 (what dlt wrote with the umask)."""
    if not folder.is_dir():
        return
    _chmod(folder, FOLDER_MODE)
    for root, dirs, files in os.walk(folder):
        for name in dirs:
            _chmod(Path(root, name), FOLDER_MODE)
        for name in files:
            _chmod(Path(root, name), FILE_MODE)


def _chmod(path: Path, mode: int) -> None:
    with contextlib.suppress(FileNotFoundError):  # dlt may move a file while we walk
        st = path.lstat()
        if not stat.S_ISLNK(st.st_mode) and stat.S_IMODE(st.st_mode) != mode:
            os.chmod(path, mode)


def check_private(path: Path, what: str) -> bool:
    """Warn (once, naming ``path`` and the fix) when other users may read ``path``; change
    nothing. True when it is private."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return True
    if not mode & 0o077:
        return True
    fix = f"chmod {'700' if path.is_dir() else '600'} '{path}'"
    warnings.warn(
        DataPermissionsWarning(
            f"{what} {path} can be read by other users of this machine (mode "
            f"{mode:04o}); it holds your customers' data. The sync leaves it as it is: make "
            f"it private with `{fix}`."
        ),
        stacklevel=4,
    )
    return False


def duckdb_wal(path: Path) -> Path:
    """The write-ahead log DuckDB keeps beside the database ``path``."""
    return path.with_name(path.name + ".wal")


def create_duckdb(path: Path, work: Path) -> None:
    """A new, empty DuckDB database at ``path``, 0600 from its first byte.

    DuckDB creates files with ``0o666`` less the umask and refuses an empty file, so the
    database is made inside the private work folder, set to 0600, and linked into place
    (``os.link`` fails if a file appeared at ``path`` meanwhile: that one is kept).
    """
    import duckdb

    scratch = work / f".new-{os.getpid()}.duckdb"
    for leftover in (scratch, duckdb_wal(scratch)):
        leftover.unlink(missing_ok=True)
    duckdb.connect(str(scratch)).close()
    try:
        os.chmod(scratch, FILE_MODE)
        with contextlib.suppress(FileExistsError):
            os.link(scratch, path)
    except OSError:  # a file system without hard links: move it (same folder tree)
        with contextlib.suppress(FileExistsError):
            if not path.exists():
                shutil.move(str(scratch), str(path))
    finally:
        scratch.unlink(missing_ok=True)
        duckdb_wal(scratch).unlink(missing_ok=True)


def clean_work_folder(pipelines: Path, spill: Path | None = None) -> None:
    """Delete completed load packages of every pipeline under ``pipelines`` (and ``spill``).

    Pending packages (``load/normalized``, ``normalize/``) and dlt's state and schemas stay:
    an interrupted load is finished from them by the next run.
    """
    if pipelines.is_dir():
        for loaded in pipelines.glob("*/load/loaded"):
            for package in list(loaded.iterdir()):
                if package.is_dir():
                    shutil.rmtree(package, ignore_errors=True)
                else:
                    package.unlink(missing_ok=True)
    if spill is not None and spill.exists():
        shutil.rmtree(spill, ignore_errors=True)
