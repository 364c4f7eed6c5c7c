"""``stripe-oauth-nb sandbox``: serve the embedded Stripe sandbox until interrupted.

The first stdout line is one JSON object (``api_base``, ``marketplace_base``, ``redirect_uris``,
``account_id``, ``account_ids``, ``developer_account_id``, and ``test``/``live`` with
``secret_key`` and ``client_id``), so a script can read it and talk to the sandbox; the same
object is ``GET /_sandbox/info``. Logs go to stderr with secrets masked and query strings
dropped. SIGINT or SIGTERM stops the server and exits 0.

Signals never take a lock (an ``Event.set()`` in a handler can deadlock against the interrupted
``Event.wait()``, which holds the same lock). While the command is still importing and building
the sandbox (only the main thread exists, nothing is printed yet and nothing needs cleaning up),
the handler ends the process at once with ``os._exit``: raising from the handler instead could
land inside a library's import or C extension, which may turn it into another error; from
the moment the server thread may exist, the handler only appends to a list, which the start-up
wait and the serving loop read every few milliseconds. Once the server has stopped and its port
is free, the process ends at once (``os._exit`` after flushing stdout and stderr): the command
only ever ends on a signal to its process, and the interpreter's own teardown can take seconds
on a loaded machine.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import signal
import sys
import time
from types import FrameType
from typing import Any, NoReturn

from .._masking import MaskingFilter
from ..sandbox._rules import DEFAULT_CUSTOMERS

__all__ = ["register", "run"]

#: How often the main thread looks at the stop flag (and whether the server still runs).
_POLL = 0.05


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "sandbox",
        help="run the local Stripe sandbox (marketplace + API) until interrupted",
        description=(
            "Serve a local stand-in for marketplace.stripe.com and api.stripe.com on 127.0.0.1. "
            "Prints one JSON line with the base URL, keys and client ids, then serves until "
            "Ctrl-C. Stripe's rate limits apply (25 requests/s in test mode, 100 in live mode, "
            "25 per endpoint)."
        ),
    )
    parser.add_argument(
        "--port", type=int, default=0, help="port on 127.0.0.1 (default: any free port)"
    )
    parser.add_argument(
        "--customers",
        type=int,
        default=DEFAULT_CUSTOMERS,
        help=(
            "customers of the default installing account (every other object scales with it; "
            "default: %(default)s)"
        ),
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the sample data")
    parser.add_argument(
        "--start",
        type=_moment,
        default=None,
        metavar="WHEN",
        help=(
            "when the seeded history ends: an ISO date/time (UTC) or Unix seconds; the clock "
            "then stands still there until /_sandbox/simulate or /_sandbox/clock moves it "
            "(default: now, with a running clock)"
        ),
    )
    parser.add_argument(
        "--no-rate-limit",
        dest="rate_limit",
        action="store_false",
        help="turn Stripe's rate limits off",
    )
    parser.add_argument(
        "--latency-ms",
        type=float,
        default=0.0,
        metavar="N",
        help="add N milliseconds to every API answer (a round trip to Stripe is about 150)",
    )
    parser.add_argument(
        "--redirect-uri",
        action="append",
        dest="redirect_uris",
        metavar="URI",
        help="allowed redirect URI of the demo app (repeatable)",
    )
    parser.set_defaults(func=run, reveals_secrets=True)  # the connection line holds made-up keys


def _moment(text: str) -> float:
    """Unix seconds from ``1767225600`` or ``2026-01-01`` / ``2026-01-01T12:00:00``."""
    try:
        return float(text)
    except ValueError:
        pass
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is neither Unix seconds nor an ISO date such as 2026-01-01"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.timestamp()


def _configure_logging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    handler.addFilter(MaskingFilter())
    for name in ("uvicorn.error", "uvicorn.access", "stripe_oauth_nb"):
        logger = logging.getLogger(name)
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False


def run(args: argparse.Namespace) -> int:
    """Start the sandbox, print its connection line, serve until SIGINT/SIGTERM."""
    stop: list[int] = []
    threads_may_run = [False]

    def on_signal(signum: int, frame: FrameType | None) -> None:
        if not threads_may_run[0]:
            os._exit(0)  # start-up: nothing printed, nothing to stop
        stop.append(signum)  # no lock, no I/O

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        from ..sandbox import Sandbox

        _configure_logging()
        sandbox = Sandbox(
            customers=args.customers,
            port=args.port,
            seed=args.seed,
            redirect_uris=args.redirect_uris,
            start=args.start,
            rate_limit=args.rate_limit,
            latency_ms=args.latency_ms,
        )
        threads_may_run[0] = True
        sandbox.start(abort=lambda: bool(stop))
        try:
            if not stop:
                print(json.dumps(sandbox.connection_info()), flush=True)
                logging.getLogger("stripe_oauth_nb").info(
                    "sandbox serving on %s (Ctrl-C to stop)", sandbox.api_base
                )
            while not stop:
                if not sandbox.running:
                    return 1
                time.sleep(_POLL)
        finally:
            sandbox.stop()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    _exit_now()


def _exit_now() -> NoReturn:
    """End the process with status 0 now: streams flushed, the server already stopped."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
