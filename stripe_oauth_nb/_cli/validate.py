"""``stripe-oauth-nb validate``: check the stored access token with two API calls.

Prints the same summary as the notebook panel and exits 0 when every call worked, 1 otherwise.
``--pull customers`` then reads a whole list (a terminal progress bar on stderr) and writes it
as JSON Lines to ``--output`` (or only counts it). The output is written beside the target and
moved into place when the pull is complete, so a failed pull leaves an existing file as it was.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._errors import ConfigError
from .._settings import Mode
from ._args import account_id, add_store_option, new_output_file, seconds

if TYPE_CHECKING:  # the API client (httpx2) loads only when the command runs
    from ..api import PageProgress

__all__ = ["register", "run"]


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "validate",
        help="check the stored access token with GET /v1/account and GET /v1/customers",
        description=(
            "Call the API with the stored access token (refreshing it if needed) and print "
            "what worked: account, mode, each call, and any permission the app lacks. "
            "Exits non-zero when a call failed."
        ),
    )
    parser.add_argument(
        "--account", metavar="ID", type=account_id, help="installing account (acct_…) to use"
    )
    parser.add_argument(
        "--mode", choices=("test", "live"), help="token mode (default: STRIPE_OAUTH_NB_MODE)"
    )
    parser.add_argument(
        "--pull",
        metavar="LIST",
        help="after validating, read a whole list, e.g. 'customers' or '/v1/customers'",
    )
    parser.add_argument(
        "--output",
        metavar="FILE",
        type=new_output_file,
        help="write the pulled objects as JSON Lines (replaced only when the pull completes)",
    )
    parser.add_argument(
        "--timeout",
        metavar="SECONDS",
        type=seconds(most=3600),
        default=60.0,
        help="the most the two validation calls may take in all (default: 60)",
    )
    add_store_option(parser)
    parser.set_defaults(func=run)


@contextmanager
def _terminal_bar(description: str) -> Iterator[PageProgress]:
    """A tqdm bar on stderr behind the core's ``progress(done, total)`` callback."""
    from tqdm import tqdm

    bar = tqdm(desc=description, unit=" objects", file=sys.stderr, dynamic_ncols=True)

    def update(done: int, total: int | None) -> None:
        if total is not None and bar.total != total:
            bar.total = total
        bar.update(done - bar.n)

    try:
        yield update
    finally:
        bar.close()


def _list_path(name: str) -> str:
    path = name if name.startswith("/") else f"/v1/{name.strip('/')}"
    if path.startswith("//") or any(c.isspace() or c in "?#" for c in path) or len(path) > 200:
        raise ConfigError(
            "--pull takes a list name such as 'customers' or an API path such as "
            "'/v1/customers' (no spaces, query string or host)."
        )
    return path


def _write_lines(rows: Iterable[dict[str, Any]], output: Path) -> int:
    """Write ``rows`` as JSON Lines into a file beside ``output``, then move it into place."""
    from .._fileio import atomic_writer

    count = 0
    with atomic_writer(output) as out:
        for row in rows:
            out.write((json.dumps(row, separators=(",", ":")) + "\n").encode("utf-8"))
            count += 1
    return count


def run(args: argparse.Namespace) -> int:
    """Validate; with ``--pull``, read the whole list. 0 when everything worked."""
    from .._target import target_settings
    from ..api import ApiClient, validate
    from ..tokens import TokenManager

    path = _list_path(args.pull) if args.pull else None
    settings = target_settings(args.store, mode=args.mode)
    mode: Mode = settings.mode
    with (
        TokenManager(settings) as tokens,
        ApiClient.from_settings(settings, tokens, account_id=args.account, mode=mode) as client,
    ):
        report = validate(client, deadline=args.timeout)
        print(report.summary())
        if not report.ok:
            return 1
        if path is not None:
            with _terminal_bar(path) as progress:
                rows = client.list_all(path, progress=progress)
                if args.output is not None:
                    count = _write_lines(rows, args.output)
                else:
                    count = sum(1 for _ in rows)
            where = f" into {args.output}" if args.output is not None else ""
            print(f"Read {count:,} objects from {path}{where}.")
    return 0
