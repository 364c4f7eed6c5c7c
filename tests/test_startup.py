"""The start-up guard: a signal before the command has started ends the process at once."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

CHILD = """
import sys, time
from stripe_oauth_nb._startup import guard, release
guard()
if sys.argv[1] == "released":
    release()
print("up", flush=True)
time.sleep(30)
"""


def _signalled(state: str, sig: signal.Signals) -> subprocess.CompletedProcess[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, state],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline() == "up\n"
    proc.send_signal(sig)
    stdout, stderr = proc.communicate(timeout=10)
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_while_guarded_ends_the_process_by_that_signal(sig: signal.Signals) -> None:
    ended = _signalled("guarded", sig)
    assert ended.returncode == -sig
    assert ended.stderr == ""  # no traceback, nothing half-said


def test_after_release_sigint_is_pythons_keyboard_interrupt_again() -> None:
    ended = _signalled("released", signal.SIGINT)
    assert ended.returncode == -signal.SIGINT  # Python ends an uncaught interrupt by the signal
    assert "KeyboardInterrupt" in ended.stderr


def test_the_script_is_the_guarded_front_door() -> None:
    from importlib.metadata import entry_points

    (script,) = [e for e in entry_points(group="console_scripts") if e.name == "stripe-oauth-nb"]
    assert script.value == "stripe_oauth_nb.__main__:console"
