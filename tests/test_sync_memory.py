"""``sync/_memory.thin_allocators``: Arrow's buffers from the C library's allocator (which gives
memory back), unless the process chose its pool; run in a fresh interpreter each, since the
setting is process-wide and made once."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytest.importorskip("pyarrow")

PROBE = r"""
import sys
from stripe_oauth_nb.sync._memory import thin_allocators
if sys.argv[1] == "late":
    import pyarrow  # imported before the sync starts (a notebook that used Arrow already)
thin_allocators()
thin_allocators()  # once per process: a second call changes nothing
import pyarrow as pa
print(pa.default_memory_pool().backend_name)
"""


def probe(code: str, when: str, unset: tuple[str, ...], **env: str) -> str:
    """What ``code`` prints in a fresh interpreter, without the variables starting with
    ``unset`` (the test's own choice of allocators) and with ``env``."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(unset)}
    done = subprocess.run(
        [sys.executable, "-c", code, when],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return done.stdout.strip()


def backend(when: str, **env: str) -> str:
    return probe(PROBE, when, ("ARROW_DEFAULT_MEMORY_POOL",), **env)


@pytest.mark.parametrize("when", ["first", "late"])
def test_arrow_uses_the_system_allocator(when: str) -> None:
    assert backend(when) == "system"


def test_a_pool_the_process_chose_is_kept() -> None:
    assert backend("first", ARROW_DEFAULT_MEMORY_POOL="mimalloc") == "mimalloc"


def test_fewer_collections_while_syncs_run_then_the_thresholds_come_back() -> None:
    import gc
    import threading

    from stripe_oauth_nb.sync._memory import COLLECTIONS, fewer_collections

    original = gc.get_threshold()
    try:
        gc.set_threshold(700, 10, 10)
        first = fewer_collections()
        first.__enter__()
        assert gc.get_threshold() == COLLECTIONS
        second = fewer_collections()  # a second sync in the process, from another thread
        started = threading.Thread(target=second.__enter__)
        started.start()
        started.join()
        first.__exit__(None, None, None)  # the first to start ends first
        assert gc.get_threshold() == COLLECTIONS
        second.__exit__(None, None, None)
        assert gc.get_threshold() == (700, 10, 10)

        gc.set_threshold(50_000, 5, 5)  # a process that chose more already keeps its choice
        with fewer_collections():
            assert gc.get_threshold() == (50_000, 5, 5)
        assert gc.get_threshold() == (50_000, 5, 5)

        gc.set_threshold(700, 10, 10)
        with fewer_collections():
            gc.set_threshold(2_000, 10, 10)  # changed by the process meanwhile: left as it is
        assert gc.get_threshold() == (2_000, 10, 10)
    finally:
        gc.set_threshold(*original)


MMAP_PROBE = r"""
import ctypes, sys
from stripe_oauth_nb.sync._memory import thin_allocators

class Info(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in (
        "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost".split()
    )]

mallinfo2 = ctypes.CDLL(None).mallinfo2
mallinfo2.restype = Info
if sys.argv[1] == "sync":
    thin_allocators()
# Mapped, then freed: glibc's own threshold rises to its size (and its trim threshold to twice
# that). A block smaller than it but larger than what the heap has free at its top (what imports
# left there) then comes from the heap, unless the threshold is fixed below it.
large = b"x" * (24 << 20)
del large
mapped = mallinfo2().hblkhd
block = b"y" * (16 << 20)
print(mallinfo2().hblkhd - mapped >= 16 << 20)
"""


def block_mapped(when: str, **env: str) -> bool:
    return probe(MMAP_PROBE, when, ("MALLOC_",), **env) == "True"


glibc = pytest.mark.skipif(
    not sys.platform.startswith("linux") or os.confstr("CS_GNU_LIBC_VERSION") is None,
    reason="glibc's allocator settings (the sync makes them on glibc only)",
)


@glibc
def test_large_blocks_stay_mapped_after_a_larger_one_was_freed() -> None:
    """glibc alone puts the block in the heap (its threshold rose); a sync's process maps it,
    so freeing it gives the memory back instead of leaving a hole in the heap."""
    assert block_mapped("alone") is False
    assert block_mapped("sync") is True


@glibc
def test_a_threshold_the_process_chose_is_kept() -> None:
    assert block_mapped("sync", MALLOC_MMAP_THRESHOLD_=str(20 << 20)) is False
