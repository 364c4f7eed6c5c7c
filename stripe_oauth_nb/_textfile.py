"""Reading a small text file the user points at (``.env``, a manifest) without hanging.

``open(path).read()`` blocks forever on a FIFO, reads a device until memory runs out, and takes
minutes on a file of tens of megabytes. :func:`read_small_text` opens without blocking, accepts
regular files only, refuses anything larger than the caller's limit before reading it, and
decodes strict UTF-8. Its ``ValueError`` carries a phrase for the caller's own error message.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

__all__ = ["read_small_text"]

_OPEN_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NONBLOCK", 0)  # opening a FIFO must not wait for a writer
    | getattr(os, "O_NOCTTY", 0)
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_BINARY", 0)
)


def _size(limit: int) -> str:
    return f"{limit // (1024 * 1024)} MB" if limit >= 1024 * 1024 else f"{limit // 1024} KB"


def read_small_text(path: str | os.PathLike[str], *, limit: int) -> str:
    """The UTF-8 text of the regular file at ``path``, at most ``limit`` bytes.

    Raises ``FileNotFoundError`` when nothing is there, ``OSError`` when it cannot be opened,
    and ``ValueError`` (a phrase such as "is a folder, not a file") when it is not a regular
    file, is larger than ``limit`` or is not UTF-8. A leading byte-order mark is dropped.
    """
    fd = os.open(Path(path), _OPEN_FLAGS)
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise ValueError("is a folder, not a file")
        if not stat.S_ISREG(info.st_mode):
            raise ValueError("is not a regular file (a pipe, socket or device)")
        if info.st_size > limit:
            raise ValueError(f"is larger than {_size(limit)} ({info.st_size:,} bytes)")
        chunks: list[bytes] = []
        left = limit + 1
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 16))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        data = b"".join(chunks)
    finally:
        os.close(fd)
    if len(data) > limit:
        raise ValueError(f"is larger than {_size(limit)}")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"is not UTF-8 text (byte {exc.start + 1} is 0x{data[exc.start]:02x})"
        ) from None
    return text.removeprefix("\ufeff")
