"""PNG images with the standard library: read the size from the header, write a placeholder icon."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

from .._fileio import atomic_writer

__all__ = ["PNG_SIGNATURE", "placeholder_icon_bytes", "png_size", "write_placeholder_icon"]

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(path: Path) -> tuple[int, int] | None:
    """``(width, height)`` from the IHDR chunk, or None when the file is not a PNG."""
    with path.open("rb") as handle:
        header = handle.read(24)
    if len(header) < 24 or header[:8] != PNG_SIGNATURE or header[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", header[16:24])
    return int(width), int(height)


def _chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def placeholder_icon_bytes(
    size: int = 300, rgb: tuple[int, int, int] = (99, 91, 255), border: int = 24
) -> bytes:
    """A square PNG: a coloured tile with a white frame (a stand-in until the real icon exists)."""
    white = bytes((255, 255, 255))
    fill = bytes(rgb)
    edge = b"\x00" + white * size
    inner = b"\x00" + white * border + fill * (size - 2 * border) + white * border
    rows = [edge if y < border or y >= size - border else inner for y in range(size)]
    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)  # 8-bit RGB
    return (
        PNG_SIGNATURE
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(b"".join(rows), 9))
        + _chunk(b"IEND", b"")
    )


def write_placeholder_icon(path: str | Path, size: int = 300) -> Path:
    """Write a placeholder PNG icon (atomically); returns its path."""
    path = Path(path)
    with atomic_writer(path, private=False) as handle:
        handle.write(placeholder_icon_bytes(size))
    return path
