"""``stripe-oauth-nb login``: install link, callback (or pasted URL), code, tokens, stored.

For terminals and SSH sessions. It builds the link, prints it, catches the redirect on the
loopback server (or reads the pasted URL from stdin with ``--paste``), exchanges the code once
with the developer's key of the attempt's mode, stores the tokens and prints a masked summary.
With the sandbox target, ``--approve`` answers the consent page itself, for demos and tests.

Where things go: the token store is ``--store`` (like ``tokens --store``), else
``STRIPE_OAUTH_NB_TOKEN_STORE`` or the user's config folder; attempts are recorded beside it
(``AttemptLog.for_settings``), the file the token step reads, so a code is never sent twice, not
even by another process. With nothing configured an in-process sandbox is started, whose tokens
die with this command: they go to ``--store`` or a new temporary folder, never to the user's
real store.

Only ``register`` runs when the parser is built, so this module imports the link, callback,
attempt and token machinery inside the functions that run the command.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._attempts import ATTEMPT_TTL
from .._errors import ConfigError, ManifestError, TokenStoreError
from .._settings import Mode, Settings, load_settings
from ._args import seconds

if TYPE_CHECKING:
    from .._attempts import AttemptLog, AuthorizationCode
    from .._callback import CallbackServer
    from .._install_link import InstallLink
    from .._tokenset import TokenSet

__all__ = ["register", "run"]


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "login",
        help="authorize the app: install link, callback, token exchange, stored tokens",
        description=(
            "Build the OAuth install link, print it, and wait for Stripe's redirect on a "
            "loopback server (or read the URL the browser landed on with --paste); then "
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
        "--timeout",
        type=seconds(most=ATTEMPT_TTL),
        default=300.0,
        help=f"seconds to wait for the redirect (default 300, at most {ATTEMPT_TTL}: an install "
        "link is good for that long)",
    )
    parser.add_argument(
        "--store",
        type=Path,
        help=(
            "token store file (default: STRIPE_OAUTH_NB_TOKEN_STORE; with the in-process "
            "sandbox, a new temporary folder)"
        ),
    )
    parser.set_defaults(func=run)


@dataclass
class _Target:
    settings: Settings
    allowed_redirect_uris: Sequence[str] | None
    log: AttemptLog
    approve: Callable[..., str] | None
    #: The sandbox was started by this command: its tokens stop working when it ends.
    in_process: bool = False


def _manifest_redirect_uris(path: Path | None) -> list[str] | None:
    """``allowed_redirect_uris`` of the manifest (None: no ``--manifest`` and none here).

    Read by :meth:`Manifest.load` (lenient: comments and trailing commas are allowed), whose
    errors say where the file is broken and how to fix it.
    """
    from ..manifest import Manifest

    chosen = path if path is not None else Path("stripe-app.json")
    if path is None and not chosen.exists():
        return None
    try:
        return Manifest.load(chosen, lenient=True).redirect_uris
    except ManifestError as exc:
        raise ManifestError(f"{exc} (Or give the right file with --manifest PATH.)") from None


@contextlib.contextmanager
def _target(args: argparse.Namespace) -> Iterator[_Target]:
    from .._attempts import AttemptLog

    settings = load_settings()
    mode: Mode = args.mode or settings.mode
    store: Path | None = args.store.expanduser() if args.store is not None else None
    if settings.is_sandbox and not settings.credentials(mode).client_id:
        from ..sandbox import Sandbox

        if store is None:  # never the user's real store: these tokens die with the sandbox
            store = Path(tempfile.mkdtemp(prefix="stripe-oauth-nb-login-")) / "tokens.json"
        redirect = args.redirect_uri or settings.redirect_uri
        with Sandbox(customers=5, redirect_uris=[redirect]) as sandbox:
            sandboxed = sandbox.settings(mode=mode, redirect_uri=redirect, token_store_path=store)
            yield _Target(
                settings=sandboxed,
                allowed_redirect_uris=list(sandbox.demo_app.redirect_uris),
                log=AttemptLog.for_settings(sandboxed),
                approve=sandbox.approve,
                in_process=True,
            )
        return
    approve: Callable[..., str] | None = None
    if settings.is_sandbox:
        from ..sandbox import approve as sandbox_approve

        approve = sandbox_approve
    settings = settings.with_changes(mode=mode)
    if store is not None:
        settings = settings.with_changes(token_store_path=store)
    yield _Target(
        settings=settings,
        allowed_redirect_uris=_manifest_redirect_uris(args.manifest),
        # The file TokenManager reads by default, so the code's "sent" mark is seen by all.
        log=AttemptLog.for_settings(settings),
        approve=approve,
    )


def _say(text: str = "") -> None:
    print(text, flush=True)


def _when(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds")


def _check_store(settings: Settings) -> None:
    """Refuse an unreadable or insecure store before the user goes through the consent page."""
    from .._tokens import FileTokenStore

    FileTokenStore(settings.token_store_path).all()


def _after_code(code: AuthorizationCode, target: _Target) -> int:
    """Exchange the code (once, ever), store the tokens, print a masked summary."""
    from .._tokens import TokenManager

    _say(
        f"Received authorization code {code.code.masked} ({code.mode} mode, client "
        f"{code.attempt.client_id}). Exchanging it for tokens..."
    )
    from .._errors import TokenError

    with TokenManager(target.settings, attempts=target.log) as manager:
        try:
            tokens = manager.exchange(code)
        except TokenStoreError as exc:
            if exc.tokens is None:
                raise
            # Received but not written (a busy lock, a full disk). The manager keeps them in
            # memory, which ends with this command: one more try, then say what to do.
            try:
                manager.save_pending()
            except TokenError:
                raise TokenStoreError(
                    f"{exc} Here the session is this login command, which ends now: fix the "
                    "store (or choose another with --store), then run login again for a new code.",
                    tokens=exc.tokens,
                ) from None
            tokens = exc.tokens
        _summary(tokens, manager.location, target)
    return 0


def _summary(tokens: TokenSet, location: str, target: _Target) -> None:
    minutes = max(0, round(tokens.access_expires_in(time.time()) / 60))
    _say(f"Authorized: account {tokens.account_id} ({tokens.mode} mode).")
    _say(
        f"  access token   {tokens.access_token.masked}, expires {_when(tokens.access_expires_at)}"
        f" (in {minutes} min; refreshed when used)"
    )
    _say(
        f"  refresh token  {tokens.refresh_token.masked}, rotates on every refresh, valid until "
        f"{_when(tokens.refresh_expires_at)}"
    )
    _say(f"Tokens stored in {location}.")
    if target.in_process:
        _say(
            "These come from the in-process sandbox, which stops with this command, so they "
            "only show the flow; nothing was written to your real token store."
        )
    else:
        _say(
            "Next: `stripe-oauth-nb validate`, and `stripe-oauth-nb tokens refresh` from cron "
            "to keep the connection alive."
        )


def run(args: argparse.Namespace) -> int:
    with _target(args) as target:
        settings = target.settings
        _say(settings.describe())
        _check_store(settings)
        if target.allowed_redirect_uris is None:
            _say("No stripe-app.json here: the redirect URI is not checked locally.")
        if args.approve and target.approve is None:
            raise ConfigError(
                "--approve only works with the sandbox target; with Stripe, open the link in "
                "a browser and press Accept yourself."
            )
        from .._authorize import start_authorization

        # The port is checked (and held) before the link is shown; a redirect URI that does
        # not reach this machine gets no server, and the pasted URL is read instead.
        link, server = start_authorization(
            settings,
            target.log,
            allowed_redirect_uris=target.allowed_redirect_uris,
            redirect_uri=args.redirect_uri or settings.redirect_uri,
            pasted_link=args.dashboard_link,
            deadline=args.timeout,
            listen=not args.paste,
        )
        try:
            code = _collect(link, server, target, args)
        finally:
            if server is not None:
                server.stop()
        return _after_code(code, target)


def _collect(
    link: InstallLink, server: CallbackServer | None, target: _Target, args: argparse.Namespace
) -> AuthorizationCode:
    from .._callback import code_from_pasted_url, detect_remote

    if server is not None:
        _say(f"Listening on {server.local_url} for {args.timeout:g} s.")
    _say("Open this link in a browser, review the permissions and press Accept:")
    _say()
    _say(f"  {link.url}")
    _say()
    if server is None:
        if args.approve and target.approve is not None:
            landed = target.approve(link.url, follow=False)
        else:
            remote = detect_remote()
            if remote.is_remote:
                _say(remote.advice())
            elif not args.paste:
                _say(
                    "The redirect URI does not reach this machine, so nothing listens for it: "
                    "the browser's address after Accept is the way back."
                )
            _say("Then paste the address the browser landed on (it may fail to load) here:")
            landed = sys.stdin.readline()
        return code_from_pasted_url(landed, link.log)
    if args.approve and target.approve is not None:
        target.approve(link.url, follow=True)
    return server.wait(args.timeout)
