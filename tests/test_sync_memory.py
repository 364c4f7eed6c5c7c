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


def backend(when: str, **env: str) -> str:
    clean = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
    done = subprocess.run(
        [sys.executable, "-c", PROBE, when],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return done.stdout.strip()


@pytest.mark.parametrize("when", ["first", "late"])
def test_arrow_uses_the_system_allocator(when: str) -> None:
    assert backend(when) == "system"


def test_a_pool_the_process_chose_is_kept() -> None:
    assert backend("first", ARROW_DEFAULT_MEMORY_POOL="mimalloc") == "mimalloc"
