"""Argument types for the commands: numbers that are really numbers, paths that can be written.

``float("nan")``, ``float("1e400")`` (infinity) and ``-5`` all parse as floats, and each used to
reach code that spins, overflows or waits forever. These types refuse them while the command
line is read, with argparse's one-line error (exit 2), before anything starts.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from pathlib import Path

from .._account_id import account_id_problem

__all__ = ["STORE_HELP", "account_id", "add_store_option", "new_output_file", "seconds"]

STORE_HELP = (
    "token store: a file path or a postgresql:// DSN (default: STRIPE_OAUTH_NB_TOKEN_STORE, "
    "else the running sandbox's token folder, else ~/.config/stripe-oauth-nb/tokens.json)"
)


def add_store_option(parser: argparse.ArgumentParser, *, inherited: bool = False) -> None:
    """``--store``, the same on every command that reads or writes tokens.

    ``inherited``: a sub-command whose parent takes ``--store`` too (``tokens --store P status``
    and ``tokens status --store P`` both work): the sub-command's is only kept when given.
    """
    default: str | None = argparse.SUPPRESS if inherited else None
    parser.add_argument("--store", metavar="PATH_OR_DSN", help=STORE_HELP, default=default)


def account_id(text: str) -> str:
    """An argparse ``type``: a Stripe account id (``_account_id``)."""
    problem = account_id_problem(text)
    if problem is not None:
        raise argparse.ArgumentTypeError(problem)
    return text


def seconds(*, most: float) -> Callable[[str], float]:
    """An argparse ``type``: a finite number of seconds above 0 and at most ``most``."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError("expected a number of seconds, e.g. 300") from None
        if not math.isfinite(value) or not 0 < value <= most:
            raise argparse.ArgumentTypeError(
                f"expected seconds above 0 and at most {most:g}, e.g. 300"
            )
        return value

    return parse


def new_output_file(text: str) -> Path:
    """An argparse ``type``: a file path in an existing folder, not a folder itself."""
    if not text or text.endswith(("/", "\\")):
        raise argparse.ArgumentTypeError("expected a file name, e.g. customers.jsonl")
    try:
        path = Path(text).expanduser()
    except RuntimeError:  # ~name of a user who does not exist here
        raise argparse.ArgumentTypeError(
            "its ~user part names no user of this machine; give a full path"
        ) from None
    if path.is_dir():
        raise argparse.ArgumentTypeError(
            f"that is a folder; give a file name in it, e.g. {path / 'customers.jsonl'}"
        )
    if not path.parent.is_dir():
        raise argparse.ArgumentTypeError(
            f"the folder {path.parent} does not exist; create it first or write elsewhere"
        )
    return path
