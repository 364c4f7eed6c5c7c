"""Allocators that give memory back, and a collector that runs less often, while a sync runs.

The sync's peak memory is its data in flight, not what earlier pages and loads left behind in
allocator caches; its CPU goes to its rows, not to Python's cycle collector.

Process-wide settings, made once when a sync starts (measured with ``python
bench/bench_sync.py --memory``: the first two together about 130 MB less peak RSS for the same
sync):

- Arrow's buffers come from the C library's allocator instead of Arrow's default (mimalloc or
  jemalloc), which keeps the pages a load used for later loads: about 100 MB of a full sync's
  peak. A process that chose its pool (``ARROW_DEFAULT_MEMORY_POOL``) keeps its choice.
- glibc gives each thread that allocates its own arena (up to eight per core), and the reader's
  two dozen threads each keep the high-water mark of the pages they parsed: arenas are capped
  at :data:`ARENAS` (``mallopt(M_ARENA_MAX)``), unless ``MALLOC_ARENA_MAX`` says otherwise.
- glibc serves a block of :data:`MMAP_THRESHOLD` or more (an Arrow batch's buffers, a batch
  file read back, the bytes dlt writes) with its own ``mmap``, given back when freed, instead of
  from the heap, where freed blocks stayed as holes: at the peak of a 20,000-customer sync the
  heap held 131 MB, 73 MB of it free (``mallinfo2``). glibc's own threshold starts at 128 KB but
  rises to the largest block freed so far (up to 32 MB), so after the first large batch every
  later one came from the heap; a fixed threshold (``mallopt(M_MMAP_THRESHOLD)``, unless
  ``MALLOC_MMAP_THRESHOLD_`` says otherwise) keeps it. Measured (ad-hoc, lean install, one
  unlimited sync of every resource each): peak RSS 335 to 360 MB down to 306 MB at 20,000
  customers, 276 to 297 MB down to 256 MB at 2,000. It costs CPU: a mapped block's pages are
  faulted in afresh each time, where the heap reused them; the charges alone cost about 0.8 ms
  more per 100-object page (7.4 against 8.2 ms, four runs each, in turn). At 256 KB (a page's
  response mapped too) the peaks were the same and the cost higher; at 4 MB most of the gain
  was gone (330 and 263 MB).
  glibc's trim threshold is left as it is: a process that freed large blocks before its first
  sync (a kernel that loaded data) keeps up to twice the largest of them free at the heap's
  top, and blocks past the threshold are still served from there (``tests/test_sync_memory``
  found this; fixing the trim threshold too, at 2 MB, cost about 2 ms more per page of charges
  in one ad-hoc comparison, so it was not kept).

On other C libraries the two glibc settings are not made.

And one setting for the duration of a sync (:func:`fewer_collections`): Python's cycle
collector runs after every 700 net allocations of containers by default, and a page parsed is
thousands of them (a dict per object and per nested object), so it ran several times a page; a
profile of a full sync (``perf``, 2,000 customers) put about 14% of its CPU in the collector.
While a sync runs, the thresholds are :data:`COLLECTIONS`: the youngest generation is collected
after 10,000 allocations, and the middle one at every other collection, so the objects an
account leaves behind (a dlt pipeline and its schemas, which hold cycles) still reach a full
collection often enough (one about every 180,000 allocations, against about 85,000 before).
Measured: about 7% less CPU for the same sync (2,000 customers, three runs each), the same peak,
and the same memory over 150 installs (a first generation at 10,000 with the other thresholds
left at 10 saved 11% but held 50 MB more over 300 installs). The process's thresholds are back
when the last sync ends.
"""

from __future__ import annotations

import contextlib
import gc
import os
import sys
import threading
from collections.abc import Iterator

__all__ = ["ARENAS", "COLLECTIONS", "MMAP_THRESHOLD", "fewer_collections", "thin_allocators"]

#: glibc malloc arenas the process may use (threads share them).
ARENAS = 2
#: The cycle collector's thresholds while a sync runs (``gc.set_threshold``; Python's default
#: is 700, 10, 10).
COLLECTIONS = (10_000, 0, 8)
#: Bytes from which glibc serves a block with its own ``mmap`` (``M_MMAP_THRESHOLD``).
MMAP_THRESHOLD = 1 << 20
#: glibc's ``mallopt`` parameter numbers.
_M_ARENA_MAX = -8
_M_MMAP_THRESHOLD = -3

_done = threading.Event()
_lock = threading.Lock()
#: Syncs running in this process.
_running = 0
#: The thresholds to put back when the last of them ends (None: they were not changed).
_restore: tuple[int, ...] | None = None


def thin_allocators() -> None:
    """Make the two settings (once per process; later calls return at once)."""
    if _done.is_set():
        return
    with _lock:
        if _done.is_set():
            return
        _arrow_system_pool()
        _tune_glibc()
        _done.set()


def _arrow_system_pool() -> None:
    if os.environ.get("ARROW_DEFAULT_MEMORY_POOL"):
        return  # the process chose its pool
    if "pyarrow" not in sys.modules:
        # Arrow's C++ side reads its default pool from the environment once, when first asked
        # (pyarrow's set_memory_pool below reaches only the calls made from Python)
        os.environ["ARROW_DEFAULT_MEMORY_POOL"] = "system"
    import pyarrow as pa

    system = pa.system_memory_pool()
    if pa.default_memory_pool().backend_name != system.backend_name:
        pa.set_memory_pool(system)


def _tune_glibc() -> None:
    """Arenas and the mmap threshold, each unless the process chose it (glibc read its
    environment at start)."""
    import ctypes
    import platform

    if platform.libc_ver()[0] != "glibc":
        return
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    if not os.environ.get("MALLOC_ARENA_MAX"):
        mallopt(_M_ARENA_MAX, ARENAS)
    if not os.environ.get("MALLOC_MMAP_THRESHOLD_"):
        mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)


@contextlib.contextmanager
def fewer_collections() -> Iterator[None]:
    """The cycle collector's thresholds are :data:`COLLECTIONS` (unless the process already
    chose a higher first one, or none) until the last sync running in the process ends; then
    they are what they were (unless changed meanwhile)."""
    global _running, _restore
    with _lock:
        if _running == 0:
            before = gc.get_threshold()
            _restore = before if 0 < before[0] < COLLECTIONS[0] else None
            if _restore is not None:
                gc.set_threshold(*COLLECTIONS)
        _running += 1
    try:
        yield
    finally:
        with _lock:
            _running -= 1
            if _running == 0 and _restore is not None and gc.get_threshold() == COLLECTIONS:
                gc.set_threshold(*_restore)
