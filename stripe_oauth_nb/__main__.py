"""``python -m stripe_oauth_nb`` and the ``stripe-oauth-nb`` script: the command line.

A signal before the command has started ends the process at once (:mod:`._startup`), so the
guard goes up before anything else is imported.
"""

from __future__ import annotations

import sys
from typing import NoReturn

from ._startup import guard


def console() -> NoReturn:
    """Run the command line with the start-up guard up (the ``stripe-oauth-nb`` script)."""
    guard()
    from ._cli import main

    sys.exit(main())


if __name__ == "__main__":
    console()
