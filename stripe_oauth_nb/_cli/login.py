"""``stripe-oauth-nb login``: install link, callback (or pasted URL), authorization code.

For terminals and SSH sessions. It builds the link, prints it, catches the redirect on the
loopback server (or reads the pasted URL from stdin with ``--paste``) and reports the code,
masked. With the sandbox target (and nothing configured, an in-process sandbox is started),
``--approve`` answers the consent page itself, for demos and tests.

The exchange for tokens is the next step (the tokens issue): :func:`_after_code` is the one
place where it is called.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._attempts import AttemptLog, AuthorizationCode
from .._callback import CallbackServer, code_from_pasted_url, detect_remote
from .._errors import ConfigError, ManifestError
from .._install_link import InstallLink, install_link_from_settings
from .._settings import Mode, Settings, load_settings

__all__ = ["register", "run"]


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "login",
        help="build the install link and catch the authorization code",
        description=(
            "Build the OAuth install link, print it, and wait for Stripe's redirect on a "
            "loopback server (or read the URL the browser landed on with --paste)."
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
        "--timeout", type=float, default=300.0, help="seconds to wait for the redirect"
    )
    parser.set_defaults(func=run)


@dataclass
class _Target:
    settings: Settings
    allowed_redirect_uris: Sequence[str] | None
    log: AttemptLog
    approve: Callable[..., str] | None


def _manifest_redirect_uris(path: Path | None) -> list[str] | None:
    """``allowed_redirect_uris`` of the manifest, read as plain JSON (None: no manifest)."""
    chosen = path if path is not None else Path("stripe-app.json")
    if not chosen.exists():
        if path is not None:
            raise ManifestError(f"{path} does not exist. Give the path of your stripe-app.json.")
        return None
    try:
        data = json.loads(chosen.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ManifestError(f"{chosen} cannot be read as JSON ({exc}).") from None
    uris = data.get("allowed_redirect_uris") if isinstance(data, dict) else None
    return [u for u in uris if isinstance(u, str)] if isinstance(uris, list) else []


@contextlib.contextmanager
def _target(args: argparse.Namespace) -> Iterator[_Target]:
    settings = load_settings()
    mode: Mode = args.mode or settings.mode
    if settings.is_sandbox and not settings.credentials(mode).client_id:
        from ..sandbox import Sandbox

        redirect = args.redirect_uri or settings.redirect_uri
        with Sandbox(customers=5, redirect_uris=[redirect]) as sandbox:
            yield _Target(
                settings=sandbox.settings(mode=mode, redirect_uri=redirect),
                allowed_redirect_uris=list(sandbox.demo_app.redirect_uris),
                log=AttemptLog(),
                approve=sandbox.approve,
            )
        return
    approve: Callable[..., str] | None = None
    if settings.is_sandbox:
        from ..sandbox._browser import approve as sandbox_approve

        approve = sandbox_approve
    yield _Target(
        settings=settings.with_changes(mode=mode),
        allowed_redirect_uris=_manifest_redirect_uris(args.manifest),
        # Beside the token store, where the token step looks for attempts.
        log=AttemptLog(settings.token_store_path.with_name("attempts.json")),
        approve=approve,
    )


def _say(text: str = "") -> None:
    print(text, flush=True)


def _after_code(code: AuthorizationCode, target: _Target) -> int:
    """What follows the code. The token exchange (tokens issue) is the one call to add here."""
    _say(
        f"Received authorization code {code.code.masked} ({code.mode} mode, client "
        f"{code.attempt.client_id})."
    )
    _say(
        "Next: exchange it for tokens within 5 minutes with the developer's "
        f"{code.mode}-mode secret key (the token step comes next)."
    )
    return 0


def run(args: argparse.Namespace) -> int:
    if args.timeout <= 0:
        raise ConfigError("--timeout must be positive.")
    with _target(args) as target:
        settings = target.settings
        _say(settings.describe())
        if target.allowed_redirect_uris is None:
            _say("No stripe-app.json here: the redirect URI is not checked locally.")
        if args.approve and target.approve is None:
            raise ConfigError(
                "--approve only works with the sandbox target; with Stripe, open the link in "
                "a browser and press Accept yourself."
            )
        redirect_uri = args.redirect_uri or settings.redirect_uri
        server: CallbackServer | None = None
        if not args.paste:
            # The port is checked (and held) before the link is shown.
            server = CallbackServer(target.log, redirect_uri, deadline=args.timeout).start()
        try:
            link = install_link_from_settings(
                settings,
                target.log,
                allowed_redirect_uris=target.allowed_redirect_uris,
                redirect_uri=redirect_uri,
                pasted_link=args.dashboard_link,
            )
            code = _collect(link, server, target, args)
        finally:
            if server is not None:
                server.stop()
        return _after_code(code, target)


def _collect(
    link: InstallLink, server: CallbackServer | None, target: _Target, args: argparse.Namespace
) -> AuthorizationCode:
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
            _say("Then paste the address the browser landed on (it may fail to load) here:")
            landed = sys.stdin.readline()
        return code_from_pasted_url(landed, link.log)
    if args.approve and target.approve is not None:
        target.approve(link.url, follow=True)
    return server.wait(args.timeout)
