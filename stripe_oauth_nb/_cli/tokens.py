"""``stripe-oauth-nb tokens status|list|refresh|migrate|rekey|new-key``: see, roll and move stored
tokens, e.g. from cron, on one machine or many.

Safe on many processes and hosts at once: a refresh takes the set's lock, re-reads the store, and
only sends a request when the tokens are due (access token within ``--margin`` of its end, or
refresh token in its last 30 days) unless ``--force``. ``refresh --all`` does every set of the
store, many at once within Stripe's rate limits; workers on several hosts split the sets between
them. A crontab line that keeps every connection alive::

    17 * * * *  stripe-oauth-nb tokens refresh --all >> ~/.cache/stripe-oauth-nb-refresh.log 2>&1

``--store`` takes a file path or a ``postgresql://`` DSN (default: STRIPE_OAUTH_NB_TOKEN_STORE).
"""

from __future__ import annotations

import argparse
import json
import time
from typing import TYPE_CHECKING, Any

from .._errors import ConfigError, StripeOAuthNBError, TokenStoreError
from .._settings import DEFAULT_MARGIN
from .._tokenset import format_remaining
from ._args import account_id, add_store_option

if TYPE_CHECKING:
    from .._settings import Settings
    from ..tokens import RefreshOutcome, TokenManager, TokenStore

__all__ = ["register"]


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "tokens",
        help="show, refresh or move stored OAuth tokens",
        description="Show, refresh or move the stored Stripe Apps OAuth tokens (masked).",
    )
    add_store_option(parser)
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    status = actions.add_parser("status", help="accounts, modes, expiries (masked)")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    add_store_option(status, inherited=True)
    status.set_defaults(func=_status)

    listing = actions.add_parser("list", help="one line per stored set: many installs at a glance")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    listing.add_argument("--mode", choices=["test", "live"], help="only this mode")
    add_store_option(listing, inherited=True)
    listing.set_defaults(func=_list)

    refresh = actions.add_parser("refresh", help="refresh due tokens (single-flight, cron-safe)")
    refresh.add_argument("--account", type=account_id, help="only this account (acct_…)")
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
    refresh.add_argument(
        "--all",
        action="store_true",
        help="every set, many at once within Stripe's rate limits; several hosts may run it",
    )
    refresh.add_argument(
        "--workers", type=int, default=16, help="with --all: sets refreshed at once (16)"
    )
    add_store_option(refresh, inherited=True)
    refresh.set_defaults(func=_refresh)

    migrate = actions.add_parser(
        "migrate", help="copy every set to another store, without refreshing it"
    )
    migrate.add_argument("--from", dest="source", metavar="PATH_OR_DSN", required=True)
    migrate.add_argument("--to", dest="target", metavar="PATH_OR_DSN", required=True)
    migrate.add_argument(
        "--replace", action="store_true", help="overwrite sets the target already holds"
    )
    migrate.set_defaults(func=_migrate)

    rekey = actions.add_parser(
        "rekey", help="seal every set again with the first STRIPE_OAUTH_NB_STORE_KEY (rotation)"
    )
    add_store_option(rekey, inherited=True)
    rekey.set_defaults(func=_rekey)

    new_key = actions.add_parser(
        "new-key", help="print a new store key (or keep it in the keyring)"
    )
    new_key.add_argument(
        "--keyring",
        action="store_true",
        help="put it first in the OS keyring's key list (use STRIPE_OAUTH_NB_STORE_KEY=keyring)",
    )
    new_key.set_defaults(func=_new_key)


def _settings(store: str | None = None) -> Settings:
    """The settings whose token store every command agrees on (``--store`` first; see
    :func:`~stripe_oauth_nb._target.target_settings`), without needing a target."""
    from .._target import target_settings

    return target_settings(store, need_target=False)


def _store(settings: Settings, location: str) -> TokenStore:
    from ..tokens import open_store

    if not location.strip():
        raise ConfigError("--from and --to need a file path or a postgresql:// DSN each.")
    return open_store(settings, location)


def _manager(args: argparse.Namespace, *, target_needed: bool) -> TokenManager:
    """The token manager over the target's settings (:func:`~stripe_oauth_nb._target.
    target_settings`: the store and the API base every command agrees on). Without
    ``target_needed`` (listing), nothing configured reads the default folder."""
    from .._target import target_settings
    from ..tokens import TokenManager

    if not target_needed:
        return TokenManager(_settings(args.store))
    return TokenManager(target_settings(args.store))


def _status(args: argparse.Namespace) -> int:
    with _manager(args, target_needed=False) as manager:
        rows: list[dict[str, Any]] = manager.summary()
        if args.json:
            print(json.dumps({"store": manager.location, "tokens": rows}, indent=2))
            return 0
        if not rows:
            print(_nothing_stored(manager, args))
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


def _list(args: argparse.Namespace) -> int:
    with _manager(args, target_needed=False) as manager:
        rows = [r for r in manager.summary() if args.mode is None or r["mode"] == args.mode]
        for row in rows:
            row["deauthorized"] = row["state"].startswith("deauthorized")
        sealed = getattr(manager.store, "cipher", None) is not None
        if args.json:
            print(json.dumps({"store": manager.location, "encrypted": sealed, "tokens": rows}))
            return 0
        if not rows and args.mode is None:
            print(_nothing_stored(manager, args))
            return 0
        due = sum(1 for r in rows if r["access_expires_in"] < DEFAULT_MARGIN)
        print(
            f"{len(rows)} token set(s) in {manager.location} "
            f"({'encrypted' if sealed else 'not encrypted'}; {due} due for a refresh):"
        )
        for row in rows:
            mark = "DEAUTHORIZED  " if row["deauthorized"] else ""
            print(
                f"  {row['account_id']:<24} {row['mode']:4}  "
                f"access {row['access_token']} {format_remaining(row['access_expires_in']):>9}  "
                f"refresh until {row['refresh_expires_at'][:10]}  {mark}{row['state']}"
            )
        gone = [r for r in rows if r["deauthorized"]]
        if gone:
            print(
                f"{len(gone)} deauthorized (the app was uninstalled, or its token revoked): "
                "`sync --all-accounts` skips them. Authorize the app again, or delete an "
                "account's synced rows: stripe-oauth-nb sync --forget ACCT --mode MODE"
            )
    return 0


def _nothing_stored(manager: TokenManager, args: argparse.Namespace) -> str:
    """An empty store: how to fill it, and, with nothing configured, what every command says."""
    from .._settings import load_settings
    from .._target import NO_TARGET_HELP

    text = (
        f"No tokens stored in {manager.location}. Run `stripe-oauth-nb login` to authorize the "
        "app, or pass --store with the file or DSN that holds them."
    )
    if args.store is None and load_settings().unconfigured:
        text += "\n" + NO_TARGET_HELP
    return text


def _say_failure(label: str, exc: StripeOAuthNBError) -> None:
    print(f"{label}: error: {exc}")
    if isinstance(exc, TokenStoreError) and exc.tokens is not None and exc.kept_at is None:
        print(
            f"{label}: the new tokens are only in this command's memory, which ends now: "
            "authorize the app again once the store is fixed."
        )


def _refresh(args: argparse.Namespace) -> int:
    failures = 0
    with _manager(args, target_needed=True) as manager:
        if args.all:
            return _refresh_all(manager, args)
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
            except TokenStoreError as exc:
                if exc.tokens is None:
                    failures += 1
                    _say_failure(label, exc)
                    continue
                try:  # one more try: the store may take it now
                    manager.save_pending()
                except StripeOAuthNBError:
                    failures += 1
                    _say_failure(label, exc)
                    continue
                new = exc.tokens
            except StripeOAuthNBError as exc:
                failures += 1
                _say_failure(label, exc)
                continue
            if new.refresh_token != tokens.refresh_token:
                print(f"{label}: rolled, access token now {new.access_token.masked}")
            else:
                left = format_remaining(new.access_expires_in())
                print(f"{label}: not due (access token valid {left})")
    return 1 if failures else 0


def _refresh_all(manager: TokenManager, args: argparse.Namespace) -> int:
    if args.workers < 1:
        raise ConfigError("--workers must be 1 or more.")
    keys = [
        t.key
        for t in manager.all()
        if (args.account is None or t.account_id == args.account)
        and (args.mode is None or t.mode == args.mode)
    ]
    started = time.monotonic()

    def report(outcome: RefreshOutcome) -> None:
        label = f"{outcome.account_id} {outcome.mode}"
        if outcome.status == "refreshed" and outcome.tokens is not None:
            print(f"{label}: rolled, access token now {outcome.tokens.access_token.masked}")
        elif outcome.status in ("fresh", "done elsewhere", "busy"):
            print(f"{label}: {outcome.status}" + (f" ({outcome.detail})" if outcome.detail else ""))
        else:
            print(f"{label}: {outcome.status}: {outcome.detail}")

    outcomes = manager.refresh_all(
        force=args.force, margin=args.margin, workers=args.workers, keys=keys, progress=report
    )
    counts: dict[str, int] = {}
    for outcome in outcomes:
        counts[outcome.status] = counts.get(outcome.status, 0) + 1
    summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "nothing"
    print(
        f"{len(outcomes)} set(s) in {manager.location}: {summary} "
        f"({time.monotonic() - started:.1f} s)."
    )
    bad = [o for o in outcomes if not o.ok]
    if bad:
        print(
            f"{len(bad)} set(s) need attention: authorize those accounts again "
            "(deauthorized or lost) or fix what the error says, then run this again."
        )
    return 1 if bad else 0


def _migrate(args: argparse.Namespace) -> int:
    from .._settings import load_settings
    from ..tokens._migrate import migrate

    settings = load_settings()  # --from and --to name both stores: no target needed
    source, target = _store(settings, args.source), _store(settings, args.target)
    report = migrate(source, target, replace=args.replace)
    print(report.summary())
    return 0


def _rekey(args: argparse.Namespace) -> int:
    from ..tokens import open_store
    from ..tokens._crypto import rewrite_keyring_keys

    store = open_store(_settings(args.store))
    rekey = getattr(store, "rekey", None)
    if rekey is None:
        raise ConfigError(f"{store.location} has no keys to rotate (the OS keyring seals itself).")
    cipher = getattr(store, "cipher", None)
    count = rekey()
    if cipher is None:
        print(f"{count} set(s) in {store.location} are now stored without encryption.")
        return 0
    print(f"{count} set(s) in {store.location} are now sealed with key {cipher.primary}.")
    if len(cipher.key_ids) > 1:
        if cipher.from_keyring:
            rewrite_keyring_keys(keep_first_only=True)
            print("The older keys were removed from the keyring.")
        else:
            print(
                "Now remove the older keys from STRIPE_OAUTH_NB_STORE_KEY (keep only the first); "
                "other stores sealed with them must be rekeyed first."
            )
    return 0


def _new_key(args: argparse.Namespace) -> int:
    from ..tokens._crypto import new_key, rewrite_keyring_keys

    key = new_key()
    if not args.keyring:
        print(key)
        return 0
    rewrite_keyring_keys(prepend=key)
    print(
        "A new store key is first in the OS keyring (service stripe-oauth-nb, user store-key). "
        "With STRIPE_OAUTH_NB_STORE_KEY=keyring, run `stripe-oauth-nb tokens rekey` to seal "
        "every set with it."
    )
    return 0
