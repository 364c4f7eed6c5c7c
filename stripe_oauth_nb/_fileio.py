"""Private files: durable writes (with space reserved in advance), strict reads, permission checks.

- :func:`atomic_write_text` (and :func:`atomic_writer` for content written piece by piece, e.g.
  an export or an icon): every durable write in the toolkit goes through here. A temp file in
  the same folder (0600), fsync, replace, fsync of the folder: a crash leaves the old file or
  the new one, whole.
- :class:`ReservedWrite`: the same write in two halves. The temp file is created and its space
  allocated first (``posix_fallocate``), while nothing irreversible has happened yet; the content
  comes later and needs no new disk blocks. The token store reserves before it sends a refresh
  token, so a full disk fails the refresh *before* Stripe rotates anything.
- :func:`read_json_file`: reads a small JSON file strictly: a regular file only (a FIFO or a
  device is refused, never read), size-capped, UTF-8, no ``NaN``/``Infinity``, no absurd nesting.
  Anything else is :class:`DamagedFile`; the caller decides the wording and never rewrites it.
- :func:`hold_lock`: the one lock file of a state file (0600, in a private folder), taken before
  a read-modify-write of a JSON state file (the attempt log, the token store and its in-flight
  records, the install app's used codes) and released after the durable write.
- :func:`check_private`: refuse a store that others can read, with advice that never changes a
  folder the toolkit did not make.
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from ._errors import ConfigError, InsecureStoreError

__all__ = [
    "MAX_FILE_BYTES",
    "DamagedFile",
    "LockTimeout",
    "ReservedWrite",
    "atomic_write_text",
    "atomic_writer",
    "check_private",
    "ensure_private_dir",
    "hold_lock",
    "read_json_file",
    "read_section",
    "remove_stale_temps",
    "stale_temps",
    "user_path",
]

#: The largest state file read (bytes): a store of 10,000 accounts is about 8 MB.
MAX_FILE_BYTES = 64 * 1024 * 1024
#: The name of the private sub-folder the advice suggests.
OWN_FOLDER = "stripe-oauth-nb"


class DamagedFile(ValueError):
    """A state file exists but does not hold what the toolkit writes (the reason is the text)."""


class LockTimeout(TimeoutError):
    """Another thread or process held a lock file longer than the wait (the path is the text)."""


class NotARegularFile(OSError):
    """The path is a folder, FIFO, device or socket: never opened for reading or writing."""


#: An empty file in every folder the toolkit creates: it says whose folder it is, so that advice
#: to ``chmod`` it is only ever given for such a folder.
MARKER = ".made-by-stripe-oauth-nb"


def ensure_private_dir(folder: Path) -> None:
    """Create ``folder`` and any missing parents, each with mode 0700 and a :data:`MARKER`."""
    missing: list[Path] = []
    current = folder
    while not current.exists() and current != current.parent:
        missing.append(current)
        current = current.parent
    for created in reversed(missing):
        try:
            created.mkdir(mode=0o700)
        except FileExistsError:
            continue  # made meanwhile by someone else: theirs
        with contextlib.suppress(OSError):
            (created / MARKER).touch(mode=0o600)
    if not folder.is_dir():
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)  # raises the right OSError


def user_path(text: str, *, what: str = "The token store path") -> Path:
    """``text`` as a path with ``~`` expanded; a :class:`ConfigError` for an empty text or a
    ``~user`` that does not exist (``Path.expanduser`` raises a bare ``RuntimeError`` there)."""
    if not text.strip():
        raise ConfigError(
            f"{what} is empty. Give a file path (e.g. ~/.config/stripe-oauth-nb/tokens.json) or "
            "a postgresql:// DSN, or leave the setting out for the default."
        )
    try:
        return Path(text).expanduser()
    except RuntimeError:
        user = text[1:].split("/", 1)[0]
        raise ConfigError(
            f"{what} {text!r} starts with ~{user}, but there is no user {user!r} on this "
            "machine. Write the folder out in full, or use ~/ for your own home."
        ) from None


def _advice_for_folder(
    folder: Path, info: os.stat_result, store_name: str, default_store: Path | None
) -> str:
    """What to do about a folder others can open: never ``chmod`` a folder that is not ours."""
    mode = stat.S_IMODE(info.st_mode)
    mine = os.name == "posix" and info.st_uid == os.getuid()
    head = f"{folder} can be opened by other users (mode {mode:o}), so tokens cannot be kept in it."
    if mine and (folder / MARKER).exists():  # a folder the toolkit made: put it right
        return (
            f"{head} stripe-oauth-nb made this folder: run `chmod 700 {folder}` and try again; "
            "if others may have read the tokens, authorize the app again to get new ones."
        )
    try:
        in_home = folder.resolve().is_relative_to(Path.home().resolve())
    except (RuntimeError, OSError):
        in_home = False
    shared = not mine or bool(mode & 0o022) or not in_home
    home = "a folder of your own under your home, such as ~/.config/stripe-oauth-nb/tokens.json"
    suggestion = (default_store or home) if shared else folder / OWN_FOLDER / store_name
    return (
        f"{head} stripe-oauth-nb did not make it and leaves its permissions alone (other things "
        "may need them). Keep the tokens in a private folder of their own instead: set "
        f"STRIPE_OAUTH_NB_TOKEN_STORE (or --store) to {suggestion}; stripe-oauth-nb creates that "
        "folder with mode 700."
    )


def check_private(
    path: Path, *, store_name: str = "tokens.json", default_store: Path | None = None
) -> None:
    """Refuse a file or folder that group or others can read or write (POSIX only).

    A file gets ``chmod 600`` as its fix (it is the toolkit's own file). A folder gets
    ``chmod 700`` only when the toolkit made it (it holds :data:`MARKER`, and it is yours); any
    other folder (``/tmp``, ``/``, a shared project folder) gets a private sub-folder as advice,
    since changing it could break whatever else lives there.
    """
    if os.name != "posix":
        return
    try:
        info = path.stat()
    except (FileNotFoundError, NotADirectoryError):
        return
    mode = stat.S_IMODE(info.st_mode)
    if not mode & 0o077:
        return
    if stat.S_ISDIR(info.st_mode):
        raise InsecureStoreError(_advice_for_folder(path, info, store_name, default_store))
    if stat.S_ISREG(info.st_mode):
        if info.st_uid != os.getuid():
            raise InsecureStoreError(
                f"{path} belongs to another user and others can read it (mode {mode:o}). Keep "
                "tokens in a file of your own: choose another path (STRIPE_OAUTH_NB_TOKEN_STORE)."
            )
        raise InsecureStoreError(
            f"{path} can be read by other users (mode {mode:o}). Run `chmod 600 {path}` and try "
            "again; if others may have read it, authorize the app again to get new tokens."
        )
    # not a regular file (a device, a FIFO): the reader refuses it with its own message


# -- reading ---------------------------------------------------------------------------------
def _reject_constant(name: str) -> Any:
    raise DamagedFile(f"it holds {name}, which the toolkit never writes")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise DamagedFile(f"it holds the number {text[:20]}, which is out of range")
    return value


def parse_json(text: str) -> Any:
    """Strict JSON: no NaN/Infinity, finite numbers, no absurd nesting; :class:`DamagedFile`."""
    try:
        return json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
    except DamagedFile:
        raise
    except RecursionError:
        raise DamagedFile("it is nested too deeply to be a file the toolkit wrote") from None
    except ValueError as exc:  # JSONDecodeError, and int() past the digit limit
        raise DamagedFile(f"it is not valid JSON ({str(exc)[:80]})") from None


def read_json_file(path: Path, *, limit: int = MAX_FILE_BYTES) -> Any | None:
    """The parsed content of ``path``, or ``None`` when there is no such file.

    Raises :class:`NotARegularFile` (a folder, FIFO, device: never read, so nothing blocks),
    other ``OSError`` (permissions, I/O), or :class:`DamagedFile` (too large, not UTF-8, not
    strict JSON). It never writes.
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        raise NotARegularFile(errno.EISDIR, "is a folder, not a file") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = "a folder" if stat.S_ISDIR(info.st_mode) else "a FIFO, device or socket"
            raise NotARegularFile(errno.EINVAL, f"is {kind}, not a regular file")
        if info.st_size > limit:
            raise DamagedFile(f"it is {info.st_size:,} bytes, far more than the toolkit writes")
        with os.fdopen(fd, "rb", closefd=False) as handle:
            raw = handle.read(limit + 1)
    finally:
        os.close(fd)
    if len(raw) > limit:
        raise DamagedFile("it is far larger than the toolkit writes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise DamagedFile("it is not UTF-8 text") from None
    value = parse_json(text)
    if value is None:  # never written by the toolkit; and None means "no file" to callers
        raise DamagedFile("it holds only null")
    return value


def read_section(path: Path, name: str) -> dict[str, Any]:
    """The object under ``name`` in the state file ``path`` (``{}`` when there is no file):
    the one reading rule of the token store, its in-flight records and the attempt log.
    Raises what :func:`read_json_file` raises, and :class:`DamagedFile` when the file has no
    such object."""
    data = read_json_file(path)
    if data is None:
        return {}
    section = data.get(name) if isinstance(data, dict) else None
    if not isinstance(section, dict):
        raise DamagedFile(f"it holds no {name}")
    return section


# -- writing ---------------------------------------------------------------------------------
def _fsync_folder(folder: Path) -> None:
    if os.name == "posix":
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


class ReservedWrite:
    """A durable replacement of ``path`` whose disk space is allocated before its content is known.

    ``ReservedWrite(path, size)`` creates the temp file (0600 when ``private``) beside ``path``
    and allocates ``size`` bytes (raising ``OSError`` such as ``ENOSPC`` now, when failing is
    still harmless). :meth:`commit` writes the text into that space, truncates, fsyncs and
    replaces ``path``; :meth:`discard` removes the temp file. Content larger than the
    reservation is still written, it just may need more space.

    The temp file is created as ``.<name>.<random>.new``, locked, and only then renamed to
    ``.<name>.<random>.tmp``: a ``.tmp`` file that is not locked is a dead writer's
    (:func:`stale_temps`), never a live one that has not locked it yet.
    """

    def __init__(self, path: Path, size: int, *, private: bool = True) -> None:
        self.path = path
        folder = path.parent
        if private:
            ensure_private_dir(folder)
        else:
            folder.mkdir(parents=True, exist_ok=True)
        fd, new = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".new")
        self.temp = Path(new)
        self._fd: int | None = fd
        try:
            _flock(fd, blocking=True)  # "in use": remove_stale_temps leaves it alone
            locked = self.temp.with_suffix(".tmp")
            os.rename(self.temp, locked)  # only now can stale_temps see it
            self.temp = locked
            if not private:
                os.fchmod(fd, 0o644)
            if size > 0 and hasattr(os, "posix_fallocate"):
                os.posix_fallocate(fd, 0, size)
        except BaseException:
            self.discard()
            raise

    @contextlib.contextmanager
    def writing(self) -> Iterator[BinaryIO]:
        """A handle on the reserved temp file; when the block ends without an error, the file
        is truncated where the writing stopped, fsynced and put in place of ``path``."""
        if self._fd is None:
            raise ValueError("this reserved write was already used")
        fd, self._fd = self._fd, None
        try:
            with os.fdopen(fd, "r+b") as handle:  # closed (and unlocked) after the replace
                handle.seek(0)
                yield handle
                handle.truncate(handle.tell())
                handle.flush()
                os.fsync(handle.fileno())
                os.replace(self.temp, self.path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.temp)
            raise
        _fsync_folder(self.path.parent)

    def commit(self, text: str) -> None:
        with self.writing() as handle:
            handle.write(text.encode("utf-8"))

    def discard(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.temp)


def _flock(fd: int, *, blocking: bool) -> bool:
    """Take an exclusive ``flock`` on ``fd``; False when another process holds it."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
    except BlockingIOError:
        return False
    return True


def stale_temps(path: Path) -> list[Path]:
    """Temp files of writers of ``path`` that died before their replace (not those in use)."""
    found: list[Path] = []
    for temp in path.parent.glob(f".{path.name}.*.tmp"):
        try:
            fd = os.open(temp, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except OSError:
            continue
        try:
            if _flock(fd, blocking=False):
                found.append(temp)
        finally:
            os.close(fd)
    return found


def remove_stale_temps(path: Path) -> None:
    """Remove what :func:`stale_temps` finds (they may hold secrets)."""
    for temp in stale_temps(path):
        with contextlib.suppress(OSError):
            temp.unlink()


def atomic_write_text(path: Path, text: str, *, private: bool = True) -> None:
    """Write ``text`` to ``path`` so that a crash leaves either the old or the new file whole."""
    if not isinstance(text, str):
        raise TypeError(f"text must be str, not {type(text).__name__}")
    ReservedWrite(path, 0, private=private).commit(text)


@contextlib.contextmanager
def atomic_writer(path: Path, *, private: bool = True) -> Iterator[BinaryIO]:
    """A binary handle whose content replaces ``path`` durably when the block ends; on an error
    the old file stays and the temp file goes. For content written piece by piece (an export)."""
    with ReservedWrite(path, 0, private=private).writing() as handle:
        yield handle


def hold_lock(path: Path, timeout: float) -> contextlib.AbstractContextManager[None]:
    """Take the OS lock file ``path`` now; the lock is released when the returned context ends.

    Creates ``path`` (0600) and any missing folder (0700) first. Failing to lock raises here,
    before anything was read or written: :class:`LockTimeout` after ``timeout`` seconds, or
    ``OSError`` when the lock file cannot be made. Callers turn each into their own error::

        try:
            held = hold_lock(lock_path, 10.0)
        except LockTimeout: ...
        with held:
            ...  # read, change, atomic_write_text
    """
    from filelock import FileLock, Timeout

    ensure_private_dir(path.parent)
    lock = FileLock(str(path), mode=0o600)
    try:
        lock.acquire(timeout=max(timeout, 0.0))
    except Timeout:
        raise LockTimeout(str(path)) from None

    @contextlib.contextmanager
    def held() -> Iterator[None]:
        try:
            yield
        finally:
            lock.release()

    return held()
