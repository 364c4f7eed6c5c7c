"""``stripe-oauth-nb serve``: the Marketplace install page and install backend.

Serves the onboarding page (``/``), the install redirect (``/install``), the OAuth callback
(``/callback``) and a health check (``/healthz``) until SIGINT/SIGTERM. The first stdout line is
one JSON object (``url``: where it listens, ``public_url``, ``callback_url``, ``mode``,
``api_base``, ``sandbox``: whether a sandbox started here), so a script can wait for it; logs go to
stderr, secrets masked, query strings dropped.

Start-up refuses, with a message saying what to change: a non-loopback ``--host`` without an
``https://`` ``--public-url`` (a reverse proxy terminates TLS in production), a callback URL
(``{public-url}/callback``) missing from the manifest's ``allowed_redirect_uris``, a mode
without a client id. With nothing configured it starts a sandbox in this process and registers
the manifest with it; ``STRIPE_OAUTH_NB_SANDBOX_URL`` points it at a running one instead (the
target rules of :class:`~stripe_oauth_nb._target.Target`).

Only ``register`` runs when the parser is built; Starlette and uvicorn load in ``run``.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Any

from ._args import add_store_option
from .sandbox import _configure_logging  # one logging set-up for the server commands

__all__ = ["register", "run"]

DEFAULT_PORT = 8765


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="serve the Marketplace install page and OAuth callback (many accounts install)",
        description=(
            "Serve the app's install page and OAuth callback: visitors press Install, accept on "
            "Stripe's page, and their token set is stored. Plain HTTP only on 127.0.0.1; in "
            "production put a TLS-terminating reverse proxy in front and pass its https:// "
            "address with --public-url."
        ),
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})"
    )
    parser.add_argument(
        "--public-url",
        help=(
            "the address visitors and Stripe reach this server at (default http://HOST:PORT); "
            "PUBLIC_URL/callback must be in allowed_redirect_uris"
        ),
    )
    parser.add_argument(
        "--manifest",
        type=Path,
        default=Path("stripe-app.json"),
        help="the app's stripe-app.json (default: ./stripe-app.json)",
    )
    parser.add_argument("--mode", choices=["test", "live"], help="default: the configured mode")
    add_store_option(parser)
    parser.add_argument(
        "--description", default="", help="one paragraph for the page: what the app does"
    )
    parser.add_argument(
        "--token-rate",
        type=float,
        help=(
            "token requests a second from this process (default: Stripe's limits, 25 in test "
            "and 100 in live mode); with N processes give each its share"
        ),
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from dotenv import find_dotenv, load_dotenv

    from .._errors import ConfigError
    from .._settings import load_settings
    from .._target import Target
    from ..manifest import Manifest
    from ..serve import InstallServer, ServeConfig, app_settings

    _configure_logging()
    if not 0 < args.port < 65536:
        raise ConfigError(f"--port {args.port} is not a port: give 1 to 65535, e.g. --port 8765.")
    load_dotenv(find_dotenv(usecwd=True))  # STRIPE_OAUTH_NB_SERVE_SECRET may live in .env
    settings = load_settings()
    manifest = Manifest.load(args.manifest, lenient=True)
    mode = args.mode or settings.mode
    with Target.open(settings, store=args.store, mode=mode) as target:
        served = app_settings(target, manifest)
        config = ServeConfig.create(
            served,
            manifest,
            public_url=args.public_url,
            host=args.host,
            port=args.port,
            mode=mode,
            description=args.description,
            token_rate=args.token_rate,
        )
        server = InstallServer(config).start()  # a taken port fails before anything is announced
        line = {
            "url": server.url,
            "public_url": config.public_url,
            "callback_url": config.callback_url,
            "mode": config.mode,
            "api_base": config.settings.api_base,
            "sandbox": target.kind == "sandbox",
            "token_store": config.store.location,
        }
        log = logging.getLogger("stripe_oauth_nb.serve")
        log.info(target.describe())
        log.info(
            "install page on %s/ (listening on %s:%s); tokens go to %s",
            config.public_url,
            args.host,
            args.port,
            config.store.location,
        )
        if target.kind == "sandbox" and args.store is None:
            log.warning(
                "%s is the in-process sandbox's folder, removed when serve stops: see its tokens "
                "with `stripe-oauth-nb tokens --store %s list` while it runs, or start serve "
                "with --store PATH to keep them",
                config.store.location,
                config.store.location,
            )
        print(json.dumps(line), flush=True)  # last: whoever waits for it has the log lines too
        server.serve_forever()
    return 0
