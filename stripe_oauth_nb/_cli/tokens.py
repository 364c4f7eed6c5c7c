"""``stripe-oauth-nb tokens status|refresh``: see and roll stored tokens, e.g. from cron.

Safe on many processes at once: a refresh takes the store's lock, re-reads the store, and only
sends a request when the tokens are due (access token within ``--margin`` of its end, or refresh
token in its last 30 days) unless ``--force``. A crontab line that keeps every connection alive::

    17 * * * *  stripe-oauth-nb tokens refresh >> ~/.cache/stripe-oauth-nb-refresh.log 2>&1
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from .._errors import StripeOAuthNBError
from .._settings import DEFAULT_MARGIN
from .._tokenset import format_remaining

__all__ = ["register"]


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "tokens",
        help="show or refresh stored OAuth tokens",
        description="Show or refresh the stored Stripe Apps OAuth tokens (masked).",
    )
    parser.add_argument(
        "--store", type=Path, help="token store file (default: STRIPE_OAUTH_NB_TOKEN_STORE)"
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    status = actions.add_parser("status", help="accounts, modes, expiries (masked)")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.set_defaults(func=_status)

    refresh = actions.add_parser("refresh", help="refresh due tokens (single-flight, cron-safe)")
    refresh.add_argument("--account", help="only this account (acct_…)")
    refresh.add_argument("--mode", choices=["test", "live"], help="only this mode")
    refresh.add_argument("--force", action="store_true", help="refresh even when not due")
    refresh.add_argument(
        "--margin",
        type=float,
        default=DEFAULT_MARGIN,
        help=(
            "refresh when the access token has less than this many seconds left "
            f"({DEFAULT_MARGIN:g})"
        ),
    )
    refresh.set_defaults(func=_refresh)


def _settings(args: argparse.Namespace) -> Any:
    from .._settings import load_settings

    settings = load_settings()
    if args.store is not None:
        settings = settings.with_changes(
            token_store_path=args.store.expanduser(), token_store_configured=True
        )
    return settings


def _manager(args: argparse.Namespace, *, target_needed: bool) -> Any:
    """The token manager; with ``target_needed``, over the target's settings (a sandbox given by
    ``STRIPE_OAUTH_NB_SANDBOX_URL`` brings its keys and token folder), else over the store only."""
    from .._target import Target
    from .._tokens import TokenManager

    settings = _settings(args)
    if target_needed or settings.sandbox_url is not None:
        settings = Target.open(settings, start_sandbox=False).settings
    return TokenManager(settings)


def _status(args: argparse.Namespace) -> int:
    with _manager(args, target_needed=False) as manager:
        rows: list[dict[str, Any]] = manager.summary()
        if args.json:
            print(json.dumps({"store": manager.location, "tokens": rows}, indent=2))
            return 0
        if not rows:
            print(
                f"No tokens stored in {manager.location}. Run `stripe-oauth-nb login` to "
                "authorize the app, or pass --store with the file that holds them."
            )
            return 0
        print(f"Tokens in {manager.location}:")
        for row in rows:
            access_left = format_remaining(row["access_expires_in"])
            refresh_left = format_remaining(row["refresh_expires_in"])
            print(
                f"  {row['account_id']}  {row['mode']:4}  access {row['access_token']} "
                f"({access_left})  refresh {row['refresh_token']} "
                f"({refresh_left}, until {row['refresh_expires_at']})"
                + ("" if row["state"] == "ok" else f"  [{row['state']}]")
            )
    return 0


def _refresh(args: argparse.Namespace) -> int:
    failures = 0
    with _manager(args, target_needed=True) as manager:
        targets = [
            t
            for t in manager.all()
            if (args.account is None or t.account_id == args.account)
            and (args.mode is None or t.mode == args.mode)
        ]
        if not targets:
            which = " ".join(filter(None, [args.account, args.mode])) or "any account"
            print(
                f"No tokens stored for {which} in {manager.location}. Check --account and "
                "--mode against `stripe-oauth-nb tokens status`, or run `stripe-oauth-nb login`."
            )
            return 1
        for tokens in targets:
            label = f"{tokens.account_id} {tokens.mode}"
            try:
                new = manager.refresh(
                    tokens.account_id, tokens.livemode, force=args.force, margin=args.margin
                )
            except StripeOAuthNBError as exc:
                failures += 1
                print(f"{label}: error: {exc}")
                continue
            if new.refresh_token != tokens.refresh_token:
                print(f"{label}: rolled, access token now {new.access_token.masked}")
            else:
                left = format_remaining(new.access_expires_in())
                print(f"{label}: not due (access token valid {left})")
    return 1 if failures else 0
