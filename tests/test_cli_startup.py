"""Building the command line loads no HTTP client, server, TLS or widget library.

A light start is also what makes a command end cleanly on a signal during its start-up: a
signal that lands inside a C extension's import (``ssl`` importing ``_socket``) becomes an
``ImportError`` instead of the ``KeyboardInterrupt`` the command's handler would have turned
into a clean exit (``tests/test_sandbox_cli.py`` signals 200 start-ups at random moments)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("httpx2", "starlette", "uvicorn", "ipywidgets", "ssl", "socket")

_PROBE = f"""
import json, sys
from stripe_oauth_nb._cli import build_parser
build_parser()
print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r}))))
"""


def test_build_parser_loads_no_heavy_library() -> None:
    result = subprocess.run(
        [sys.executable, "-c", _PROBE], capture_output=True, text=True, check=True, timeout=60
    )
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []


@pytest.mark.parametrize("command", ["login", "validate", "manifest", "sandbox", "tokens"])
def test_each_command_still_has_its_help(command: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "stripe_oauth_nb", command, "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "usage:" in result.stdout


_SCHEMA_PROBE = """
import json, sys
from stripe_oauth_nb.manifest import check_text
findings = check_text('{"id": 5}')  # jsonschema's findings: not a string, keys missing
print(json.dumps([len(findings) > 1, "rfc3987_syntax" in sys.modules]))
"""


def test_the_manifest_schema_loads_without_the_iri_grammar() -> None:
    """jsonschema would load rfc3987-syntax (about 2 s of grammar building) when JupyterLab's
    dependencies installed it: the manifest check keeps it out and leaves no trace behind."""
    result = subprocess.run(
        [sys.executable, "-c", _SCHEMA_PROBE], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == [True, False]
