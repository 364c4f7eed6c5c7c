"""The one place that imports the HTTP client library.

HTTPX comes from the maintained ``httpx2`` distribution (same API as ``httpx``). Every other
module imports ``httpx`` from here, so switching distributions is a one-line change.
"""

from __future__ import annotations

import httpx2 as httpx

__all__ = ["DEFAULT_TIMEOUT", "httpx"]

#: Explicit connect/read/write/pool timeouts for every call the toolkit makes (seconds).
DEFAULT_TIMEOUT = httpx.Timeout(connect=5.0, read=30.0, write=30.0, pool=5.0)
