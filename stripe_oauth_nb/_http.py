"""The one place that imports the HTTP client library.

HTTPX comes from the maintained ``httpx2`` distribution (same API as ``httpx``). Every other
module imports ``httpx`` from here, so switching distributions is a one-line change.

HTTPX logs every request URL (INFO) and its transport logs response headers (DEBUG), which can
carry an authorization code (a redirect's ``Location``). Importing this module puts a
:class:`~stripe_oauth_nb._masking.MaskingFilter` on those loggers, so turning on DEBUG logging
never prints a whole secret.
"""

from __future__ import annotations

import logging

import httpx2 as httpx

from ._masking import MaskingFilter

__all__ = ["DEFAULT_TIMEOUT", "httpx"]

#: Explicit connect/read/write/pool timeouts for every call the toolkit makes (seconds).
DEFAULT_TIMEOUT = httpx.Timeout(connect=5.0, read=30.0, write=30.0, pool=5.0)

_LOGGERS = (
    "httpx2",
    "httpcore2.connection",
    "httpcore2.connection_pool",
    "httpcore2.http11",
    "httpcore2.http2",
    "httpcore2.proxy",
    "httpcore2.socks",
)


def _mask_client_logs() -> None:
    for name in _LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, MaskingFilter) for f in logger.filters):
            logger.addFilter(MaskingFilter())


_mask_client_logs()
