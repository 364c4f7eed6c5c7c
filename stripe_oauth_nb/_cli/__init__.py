"""The ``stripe-oauth-nb`` command line.

Each sub-command lives in its own module in this package and exposes
``register(subparsers) -> None``, which adds its parser and sets ``func`` (a callable taking the
parsed namespace and returning an exit code). Modules are found by name, so adding a command is
adding a file.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

from .._errors import StripeOAuthNBError

__all__ = ["build_parser", "main"]

#: Optional libraries and the extra that installs each (see pyproject.toml).
_EXTRAS = {
    "starlette": "server",
    "uvicorn": "server",
    "itsdangerous": "server",
    "ipywidgets": "lab",
    "pandas": "data",
    "stripe": "data",
    "keyring": "keyring",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="stripe-oauth-nb",
        description="Stripe Apps OAuth, step by step: manifest, install link, callback, tokens.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args))
    except StripeOAuthNBError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except ModuleNotFoundError as exc:
        extra = _EXTRAS.get((exc.name or "").split(".")[0])
        if extra is None:
            raise
        print(
            f"error: this command needs {exc.name}, which the core install leaves out: "
            f"pip install 'stripe-oauth-nb[{extra}]'",
            file=sys.stderr,
        )
        return 1
    except KeyboardInterrupt:
        return 130
