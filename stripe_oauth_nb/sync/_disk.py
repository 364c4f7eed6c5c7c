"""Disk is bounded and checked: a full sync that will not fit stops before it writes; a disk that
fills up during a run ends it with "free N MB and run again", the loaded tables unchanged.

Before a full pass, :func:`estimate` reads the first page of every resource (pages the reader
then uses, so this costs no request of its own, and, with them or when a page is not the last,
one ``GET /v1/account`` for the account's age): the bytes per object of that page, and the
objects to read: all of them when the page is the last, else the page's objects per second of
``created`` times the seconds since the account was created (an estimate: high for an account
whose activity grew), the page's span taken as one day at least: a page of objects made within
the same second (a catalogue of prices imported at once) says nothing about the years before.
:class:`DiskBudget` compares that, times :data:`DISK_FACTOR` (rows waiting as JSON lines, dlt's
Parquet package, the growth of the database), with the free space of the work folder's file
system, and stops at once when it will not fit.

During a run, a write refused for want of space (``ENOSPC``: a spill file, dlt's package, the
database) becomes a :class:`~stripe_oauth_nb.errors.DiskSpaceError` naming the MB to free: the
load's transaction is rolled back, so the tables are as they were, and the next run finishes.
"""

from __future__ import annotations

import errno
import os
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._errors import DiskSpaceError

__all__ = ["DISK_FACTOR", "DiskBudget", "Estimate", "estimate", "is_disk_full"]

#: Bytes on disk while a sync runs per byte of objects read (JSON lines waiting for their load,
#: dlt's Parquet package of them, and what the database grows by), with room to spare.
DISK_FACTOR = 2.0
#: Space always left free, whatever the estimate (a full disk hurts every other program).
RESERVE = 32 << 20
#: The shortest span of ``created`` a first page's density is measured over (seconds).
MIN_SPAN = 86_400
_MB = 1 << 20


def free_bytes(path: Path) -> int:
    """Bytes an unprivileged writer may still use on ``path``'s file system."""
    found = os.statvfs(path)
    return found.f_bavail * found.f_frsize


def is_disk_full(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) is a write refused for want of space."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        text = str(current)
        if "No space left on device" in text or "Disk quota exceeded" in text:
            return True
        current = current.__cause__ or current.__context__
    return False


@dataclass
class Estimate:
    """Objects a full pass will read and their size, from the first pages."""

    objects: int = 0
    bytes: int = 0
    #: The first page of each resource, for the reader (no request is made twice).
    pages: dict[str, Mapping[str, Any]] = field(default_factory=dict)


def estimate(
    client: Any,
    requests: Mapping[str, tuple[str, Mapping[str, Any], str]],
    workers: int = 24,
    *,
    eager: bool = True,
) -> Estimate:
    """First pages of ``requests`` (``name -> (path, params, created field)``), fetched
    together; what a full
    pass of them will read. A page that fails is left to the reader (it reports the error).

    The account's age is asked for with the pages when ``eager`` (a full sync: no round trip of
    its own), else only if a page is not the last (a small full pass within an incremental run
    usually costs no request of its own)."""
    import orjson

    def get(path: str, params: Mapping[str, Any]) -> Any:
        try:
            return client.get(path, dict(params))
        except Exception:
            return None

    def created(account: Any) -> int | None:
        value = account.get("created") if isinstance(account, Mapping) else None
        return int(value) if isinstance(value, int | float) and value > 0 else None

    items = list(requests.items())
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(items) + 1))) as pool:
        age = pool.submit(get, "/v1/account", {}) if eager else None
        pages = list(pool.map(lambda item: get(item[1][0], item[1][1]), items))
        origin = created(age.result()) if age is not None else None
    asked = age is not None
    found = Estimate()
    for (name, (_, _, created_field)), page in zip(items, pages, strict=True):
        data = page.get("data") if isinstance(page, Mapping) else None
        if not isinstance(data, list):
            continue
        found.pages[name] = page
        if not data:
            continue
        objects = len(data)
        if page.get("has_more"):
            if not asked:
                asked, origin = True, created(get("/v1/account", {}))
            if origin is not None:  # no age: the page counts alone
                newest, oldest = int(data[0][created_field]), int(data[-1][created_field])
                per_second = len(data) / max(newest - oldest + 1, MIN_SPAN)
                objects = max(objects, int(per_second * max(newest - origin, 0)))
        found.objects += objects
        found.bytes += len(orjson.dumps(data)) * objects // len(data)
    return found


class DiskBudget:
    """The disk a run may use: the estimate's check, and the message of a full disk."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self._lock = threading.Lock()
        #: Bytes the run is expected to need (None until estimated: incremental runs are small).
        self.needed: int | None = None

    def need(self, more: int) -> None:
        """Add ``more`` bytes of objects to read; stop at once if the run will not fit."""
        with self._lock:
            self.needed = (self.needed or 0) + int(more * DISK_FACTOR)
            needed = self.needed
        free = free_bytes(self.work)
        if needed + RESERVE > free:
            short = needed + RESERVE - free
            raise DiskSpaceError(
                f"This full sync needs about {_mb(needed)} MB on the disk of {self.work} and "
                f"{_mb(free)} MB are free: free {_mb(short)} MB and run again (or give a work "
                "folder and database on a larger disk). Nothing was read or written.",
                shortfall=short,
            )

    def release(self, more: int) -> None:
        """Give back what :meth:`need` took for an account that is done (its rows are loaded
        and its spill files gone): a run of many accounts needs the disk of those in flight."""
        with self._lock:
            if self.needed is not None:
                self.needed = max(self.needed - int(more * DISK_FACTOR), 0)

    def full(self, where: str) -> DiskSpaceError:
        """The error of a write refused for want of space during the run."""
        free = free_bytes(self.work)
        with self._lock:
            needed = self.needed
        short = max((needed or 0) + RESERVE - free, RESERVE)
        return DiskSpaceError(
            f"The disk of {self.work} filled up while {where}: free {_mb(short)} MB and run "
            "again. The tables are as they were before this run; the next run finishes it.",
            shortfall=short,
        )


def _mb(n: int) -> int:
    return max(1, -(-n // _MB))
