"""The ``stripe-oauth-nb`` command line.

Each sub-command lives in its own module in this package and exposes
``register(subparsers) -> None``, which adds its parser and sets ``func`` (a callable taking the
parsed namespace and returning an exit code). Modules are found by name, so adding a command is
adding a file.

Everything a command prints passes through a filter that masks keys, tokens and codes (so a
secret typed as a path or an account id is never echoed whole) and writes undecodable
characters as escapes; a command that must print secrets (the sandbox's connection line, made-up
keys) sets ``reveals_secrets=True`` on its parser.

Whatever goes wrong, the user sees one message and no traceback: argparse's usage error (exit 2,
with any key or token in the echoed argument masked), the toolkit's own error (exit 1), a system
error such as a full disk (exit 1), or, for a bug, one line saying so (exit 70). Set
``STRIPE_OAUTH_NB_TRACEBACK=1`` to see the traceback of the last kind.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import os
import pkgutil
import sys
from collections.abc import Iterator, Sequence
from typing import Any, NoReturn, TextIO

from .._errors import EXTRA_FOR, StripeOAuthNBError, needs_extra
from .._masking import SECRET_PATTERN, mask, mask_text
from .._startup import release

__all__ = ["EXIT_BUG", "build_parser", "main"]

#: Exit code of an unexpected error (a bug): sysexits' EX_SOFTWARE.
EXIT_BUG = 70


class _Parser(argparse.ArgumentParser):
    """argparse, with any secret in an echoed argument masked (``--mode sk_test_…``)."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {_masked(message)}\n")


def _masked(message: str) -> str:
    """``message`` with argparse's quoted values masked when they look like secrets."""
    from .._masking import looks_secret, mask

    def quoted(part: str) -> str:
        return mask(part) if looks_secret(part) else part

    pieces = message.split("'")
    return mask_text("'".join(quoted(p) if i % 2 else p for i, p in enumerate(pieces)))


class _MaskedOutput(io.TextIOBase):
    """A text stream that masks keys, tokens and codes and escapes what cannot be encoded."""

    def __init__(self, inner: TextIO) -> None:
        super().__init__()
        self._inner = inner

    def write(self, text: str) -> int:
        safe = text.encode("utf-8", "backslashreplace").decode("utf-8")
        self._inner.write(SECRET_PATTERN.sub(lambda m: mask(m.group(0)), safe))
        return len(text)

    def flush(self) -> None:
        # Also called when this wrapper is collected, possibly after the stream it wraps was
        # closed (a test's capture, a closed pipe): nothing is left to flush then.
        with contextlib.suppress(ValueError, OSError):
            self._inner.flush()

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return self._inner.isatty()

    def fileno(self) -> int:
        return self._inner.fileno()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


@contextlib.contextmanager
def _masked_output() -> Iterator[None]:
    with (
        contextlib.redirect_stdout(_MaskedOutput(sys.stdout)),
        contextlib.redirect_stderr(_MaskedOutput(sys.stderr)),
    ):
        yield


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
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
    release()  # the command handles signals from here (see _startup)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    output = contextlib.nullcontext() if getattr(args, "reveals_secrets", False) else None
    try:
        with output or _masked_output():
            return int(args.func(args))
    except StripeOAuthNBError as exc:
        print(f"error: {mask_text(str(exc))}", file=sys.stderr)
        return 1
    except ModuleNotFoundError as exc:
        if exc.name is None or exc.name.split(".")[0] not in EXTRA_FOR:
            return _bug(exc, args)
        print(
            f"error: {needs_extra('This command', exc.name)}",
            file=sys.stderr,
        )
        return 1
    except KeyboardInterrupt:
        return 130
    except OSError as exc:  # the system refused: a full disk, a missing folder, a permission
        where = f" ({exc.filename})" if exc.filename else ""
        print(
            f"error: {exc.strerror or type(exc).__name__}{where}. Fix that (free space, "
            "permissions, the path) and run the command again.",
            file=sys.stderr,
        )
        return 1
    except Exception as exc:
        return _bug(exc, args)


def _bug(exc: Exception, args: argparse.Namespace) -> int:
    """One line for an error no command expected (the traceback with STRIPE_OAUTH_NB_TRACEBACK)."""
    if os.environ.get("STRIPE_OAUTH_NB_TRACEBACK"):
        raise exc
    print(
        f"error: unexpected {type(exc).__name__} in stripe-oauth-nb {args.command}: "
        f"{mask_text(str(exc))[:300]}. This is a bug: please report it (run again with "
        "STRIPE_OAUTH_NB_TRACEBACK=1 for the details).",
        file=sys.stderr,
    )
    return EXIT_BUG
