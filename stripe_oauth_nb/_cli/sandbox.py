"""``stripe-oauth-nb sandbox``: serve the embedded Stripe sandbox until interrupted.

The first stdout line is one JSON object (``api_base``, ``marketplace_base``, ``redirect_uris``,
``account_id``, and ``test``/``live`` with ``secret_key`` and ``client_id``), so a script can read
it and talk to the sandbox. Logs go to stderr with secrets masked and query strings dropped.
SIGINT or SIGTERM stops the server and exits 0.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from types import FrameType
from typing import Any

from .._masking import MaskingFilter

__all__ = ["register", "run"]


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "sandbox",
        help="run the local Stripe sandbox (marketplace + API) until interrupted",
        description=(
            "Serve a local stand-in for marketplace.stripe.com and api.stripe.com on 127.0.0.1. "
            "Prints one JSON line with the base URL, keys and client ids, then serves until "
            "Ctrl-C."
        ),
    )
    parser.add_argument(
        "--port", type=int, default=0, help="port on 127.0.0.1 (default: any free port)"
    )
    parser.add_argument(
        "--customers", type=int, default=25, help="seeded customers of the installing account"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the sample data")
    parser.add_argument(
        "--redirect-uri",
        action="append",
        dest="redirect_uris",
        metavar="URI",
        help="allowed redirect URI of the demo app (repeatable)",
    )
    parser.set_defaults(func=run, reveals_secrets=True)  # the connection line holds made-up keys


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
    from ..sandbox import Sandbox

    _configure_logging()
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        sandbox = Sandbox(
            customers=args.customers,
            port=args.port,
            seed=args.seed,
            redirect_uris=args.redirect_uris,
        ).start()
        try:
            print(json.dumps(sandbox.connection_info()), flush=True)
            logging.getLogger("stripe_oauth_nb").info(
                "sandbox serving on %s (Ctrl-C to stop)", sandbox.api_base
            )
            while not stop.wait(0.5):
                if not sandbox.running:
                    return 1
        finally:
            sandbox.stop()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0
