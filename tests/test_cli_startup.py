"""Building the command line loads no HTTP client, server or widget library."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("httpx2", "starlette", "uvicorn", "ipywidgets")

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
