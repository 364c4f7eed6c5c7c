"""``stripe-oauth-nb login``: install link, callback (or pasted URL), code, tokens, stored.

For terminals and SSH sessions: the same authorization as :func:`stripe_oauth_nb.connect`
(:func:`stripe_oauth_nb._connect.authorize`). It prints the link (and opens a browser when there
is one), catches the redirect on the loopback server or reads the URL the browser landed on from
the terminal (``--paste`` reads only that), exchanges the code once with the developer's key of
the attempt's mode, stores the tokens and prints a masked summary. Against the sandbox,
``--approve`` answers the consent page itself, for demos and tests.

Where things go: the token store is ``--store``, else ``STRIPE_OAUTH_NB_TOKEN_STORE``, else (for
a sandbox given by ``STRIPE_OAUTH_NB_SANDBOX_URL``) the sandbox's own token folder, else the
user's config folder; attempts are recorded beside it, so a code is never sent twice, not even by
another process. With nothing configured it says what to run: a sandbox started by a command that
ends at once would leave tokens nothing can use.

Only ``register`` runs when the parser is built, so this module imports the link, callback,
attempt and token machinery inside the function that runs the command.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from .._errors import ManifestError
from ..oauth._attempts import ATTEMPT_TTL
from ._args import account_id, add_store_option, seconds

__all__ = ["register", "run"]


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "login",
        help="authorize the app: install link, callback, token exchange, stored tokens",
        description=(
            "Build the OAuth install link, print it, and wait for Stripe's redirect on a "
            "loopback server (or read the URL the browser landed on, pasted here); then "
            "exchange the code for tokens and store them."
        ),
    )
    parser.add_argument("--mode", choices=["test", "live"], help="default: the configured mode")
    parser.add_argument("--redirect-uri", help="default: STRIPE_REDIRECT_URI or the sandbox's")
    parser.add_argument(
        "--manifest",
        type=Path,
        help="stripe-app.json whose allowed_redirect_uris are checked (default: ./stripe-app.json)",
    )
    parser.add_argument("--dashboard-link", help="an install link copied from the Dashboard")
    parser.add_argument(
        "--paste",
        action="store_true",
        help="do not listen: read the URL the browser landed on from stdin",
    )
    parser.add_argument(
        "--approve",
        action="store_true",
        help="sandbox only: accept the consent page automatically",
    )
    parser.add_argument(
        "--account",
        type=account_id,
        help="sandbox only, with --approve: the sample account to install on",
    )
    parser.add_argument(
        "--timeout",
        type=seconds(most=ATTEMPT_TTL),
        default=300.0,
        help=f"seconds to wait for the redirect (300; at most {ATTEMPT_TTL}, an install link's "
        "lifetime)",
    )
    add_store_option(parser)
    parser.set_defaults(func=run)


def _manifest_redirect_uris(path: Path | None) -> list[str] | None:
    """``allowed_redirect_uris`` of the manifest (None: no ``--manifest`` and none here)."""
    from ..manifest import Manifest

    chosen = path if path is not None else Path("stripe-app.json")
    if path is None and not chosen.exists():
        return None
    try:
        return Manifest.load(chosen, lenient=True).redirect_uris
    except ManifestError as exc:
        raise ManifestError(f"{exc} (Or give the right file with --manifest PATH.)") from None


def _when(timestamp: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds")


def run(args: argparse.Namespace) -> int:
    from .._connect import TerminalPresenter, authorize
    from .._target import Target
    from ..tokens import TokenManager, open_store

    with Target.open(store=args.store, mode=args.mode, start_sandbox=False) as target:
        settings = target.settings
        print(target.describe(), flush=True)
        open_store(settings).all()  # unreadable or insecure: say so now
        allowed = _manifest_redirect_uris(args.manifest)
        if allowed is None:
            print("No stripe-app.json here: the redirect URI is not checked locally.")
        presenter = TerminalPresenter(
            open_browser=not args.approve, read_stdin=args.paste or sys.stdin.isatty()
        )
        with TokenManager(settings) as manager:
            tokens = authorize(
                target,
                manager,
                mode=settings.mode,
                approve=args.approve,
                paste=args.paste,
                timeout=args.timeout,
                redirect_uri=args.redirect_uri,
                allowed_redirect_uris=allowed,
                pasted_link=args.dashboard_link,
                account=args.account,
                presenter=presenter,
            )
            minutes = max(0, round(tokens.access_expires_in(time.time()) / 60))
            print(
                f"  access token   {tokens.access_token.masked}, expires "
                f"{_when(tokens.access_expires_at)} (in {minutes} min; refreshed when used)"
            )
            print(
                f"  refresh token  {tokens.refresh_token.masked}, rotates on every refresh, "
                f"valid until {_when(tokens.refresh_expires_at)}"
            )
            print(
                "Next: `stripe-oauth-nb validate`, and `stripe-oauth-nb tokens refresh` from "
                "cron to keep the connection alive."
            )
    return 0
