"""``stripe-oauth-nb manifest check|new``: lint a stripe-app.json, or write an OAuth-ready one.

Exit codes: 0 no errors (warnings alone pass), 1 the manifest has errors, 2 a usage problem
(bad arguments, a missing file, refusing to overwrite).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from .._errors import ManifestError

__all__ = ["register"]

EXIT_OK, EXIT_ERRORS, EXIT_USAGE = 0, 1, 2


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "manifest",
        help="check or create a Stripe app manifest (stripe-app.json)",
        description="Check a stripe-app.json offline, or write a new OAuth-ready one.",
    )
    verbs = parser.add_subparsers(dest="manifest_command", metavar="ACTION")
    parser.set_defaults(func=lambda args: _usage(parser))

    check = verbs.add_parser(
        "check",
        help="report every problem in a manifest (exit 1 on errors)",
        description="Check a manifest against Stripe's schema and the OAuth and review rules.",
    )
    check.add_argument("path", metavar="PATH", type=Path, help="the stripe-app.json to check")
    check.add_argument("--json", action="store_true", help="print the findings as a JSON list")
    check.add_argument(
        "--no-oauth",
        action="store_true",
        help="skip the OAuth readiness rules (for apps that do not use OAuth)",
    )
    check.add_argument(
        "--publish",
        action="store_true",
        help="also check readiness for Stripe's review (HTTPS only, icon, install URL)",
    )
    check.add_argument("--install-url", help="with --publish: the Marketplace install URL")
    check.set_defaults(func=run_check)

    new = verbs.add_parser(
        "new",
        help="write an OAuth-ready manifest",
        description="Write an OAuth-ready manifest (public, oauth access, no views).",
    )
    new.add_argument("path", metavar="PATH", type=Path, help="where to write stripe-app.json")
    new.add_argument("--name", default="Reports Sync", help="the app's name")
    new.add_argument("--id", dest="app_id", default="com.example.reports", help="the app's id")
    new.add_argument("--version", dest="app_version", default="0.0.1", help="the app's version")
    new.add_argument(
        "--redirect-uri",
        dest="redirect_uris",
        action="append",
        default=[],
        metavar="URI",
        help="an allowed redirect URI (repeat for more; the first is the default)",
    )
    new.add_argument(
        "--permission",
        dest="permissions",
        action="append",
        default=[],
        metavar="NAME=PURPOSE",
        help="a permission and why the app needs it (repeat for more)",
    )
    new.add_argument("--force", action="store_true", help="overwrite an existing file")
    new.add_argument(
        "--no-icon",
        action="store_true",
        help="do not write a placeholder icon.png when there is none",
    )
    new.set_defaults(func=run_new)


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return EXIT_USAGE


def run_check(args: argparse.Namespace) -> int:
    from ..manifest import check_file, format_findings, has_errors

    path: Path = args.path
    if not path.exists():
        print(
            f"error: {path} does not exist. Pass the path of a stripe-app.json, or create one "
            f"with `stripe-oauth-nb manifest new {path}`.",
            file=sys.stderr,
        )
        return EXIT_USAGE
    try:
        if args.publish:
            from ..manifest import check_publish_file

            findings = check_publish_file(path, install_url=args.install_url)
        else:
            findings = check_file(path, oauth=not args.no_oauth)
    except ManifestError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.json:
        print(json.dumps([f.to_dict() for f in findings], indent=2, ensure_ascii=False))
    elif findings:
        print(f"{path}: {format_findings(findings)}")
    else:
        print(f"{path}: no problems found.")
    if args.publish and not has_errors(findings) and not args.json:
        print(
            f"Ready for review. Marketplace install URL for the submission form: {args.install_url}"
        )
    return EXIT_ERRORS if has_errors(findings) else EXIT_OK


def _parse_permissions(items: list[str]) -> dict[str, str] | str:
    permissions: dict[str, str] = {}
    for item in items:
        name, sep, purpose = item.partition("=")
        if not sep or not name.strip() or not purpose.strip():
            return (
                f"--permission {item!r} is not NAME=PURPOSE. Example: "
                "--permission 'customer_read=List customers for the report.'"
            )
        permissions[name.strip()] = purpose.strip()
    return permissions


def run_new(args: argparse.Namespace) -> int:
    from .._settings import DEFAULT_REDIRECT_URI
    from ..manifest import Manifest, format_findings, has_errors, write_placeholder_icon

    path: Path = args.path
    if path.is_dir():
        print(
            f"error: {path} is a folder. Pass a file name, e.g. {path / 'stripe-app.json'}.",
            file=sys.stderr,
        )
        return EXIT_USAGE
    if path.exists() and not args.force:
        print(
            f"error: {path} already exists; not overwriting it. Check it with "
            f"`stripe-oauth-nb manifest check {path}`, or add --force to replace it.",
            file=sys.stderr,
        )
        return EXIT_USAGE
    permissions = _parse_permissions(args.permissions)
    if isinstance(permissions, str):
        print(f"error: {permissions}", file=sys.stderr)
        return EXIT_USAGE
    manifest = Manifest.new(
        name=args.name,
        id=args.app_id,
        version=args.app_version,
        redirect_uris=args.redirect_uris or [DEFAULT_REDIRECT_URI],
        permissions=permissions,
    )
    findings = manifest.check(base_dir=path.parent)
    # The icon is the user's to add; everything else must pass before anything is written.
    blocking = [f for f in findings if f.is_error and f.code != "review.icon-missing"]
    if blocking:
        print(
            "error: these values would make an invalid manifest, so nothing was written:\n"
            + format_findings(blocking),
            file=sys.stderr,
        )
        return EXIT_USAGE
    manifest.save(path)
    print(f"Wrote {path}.")
    icon = path.parent / "icon.png"
    if not args.no_icon and not icon.exists():
        write_placeholder_icon(icon)
        print(f"Wrote {icon} (a 300x300 placeholder: replace it with your app's icon).")
        findings = manifest.check()
    if findings:  # nothing blocking is left (that returned above): the icon at most
        print(format_findings(findings))
    if not has_errors(findings):
        print("Next: `stripe apps upload` in that folder (or register it with the sandbox).")
    else:
        print(f"Next: fix the errors above, then `stripe-oauth-nb manifest check {path}`.")
    return EXIT_OK
