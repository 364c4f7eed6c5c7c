"""Every code block of the README runs as written.

- ``python`` blocks run, each in a fresh interpreter with nothing configured (so against the
  sandbox), in an empty folder;
- ``console`` blocks run line by line in one shell (``$ `` prompts; a trailing ``&`` starts a
  background process, stopped at the end), exactly as printed but for each port (``87xx``),
  replaced by a free one so that runs in parallel never meet; the terminal section goes from
  ``sandbox`` through ``login``, ``tokens``, ``validate`` and ``sync`` to DuckDB queries;
- ``ini`` blocks are ``.env`` files: the settings loader accepts them;
- the command synopsis (lines starting ``stripe-oauth-nb``) parses with the real parser;
- the quick start's two commands are checked by ``tests/test_project.py`` (CI runs the second).
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from _ports import free_port

from stripe_oauth_nb._cli import build_parser
from stripe_oauth_nb._settings import load_settings

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"^```(\w*)\n(.*?)^```", README, re.MULTILINE | re.DOTALL)
BIN = Path(sys.executable).parent


def _blocks(kind: str) -> list[str]:
    return [body for info, body in BLOCKS if info == kind]


def _clean_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STRIPE_")}
    env["HOME"] = str(tmp_path / "home")  # the default token store lands here, not in ~
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


def test_the_readme_has_blocks_of_every_kind() -> None:
    kinds = {info for info, _ in BLOCKS}
    assert {"python", "console", "ini", ""} <= kinds
    assert kinds <= {"python", "console", "ini", ""}, "a block of a kind this test does not run"


@pytest.mark.slow
@pytest.mark.parametrize("source", _blocks("python"), ids=lambda s: s.splitlines()[0][:40])
def test_python_block_runs(source: str, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", source],
        cwd=tmp_path,
        env=_clean_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
@pytest.mark.parametrize("source", _blocks("console"), ids=lambda s: s.splitlines()[0][:40])
def test_console_block_runs_line_by_line(source: str, tmp_path: Path) -> None:
    ports = {port: str(free_port()) for port in set(re.findall(r"\b87\d\d\b", source))}
    lines = [line.removeprefix("$ ") for line in source.splitlines() if line.startswith("$ ")]
    assert lines, source
    env = _clean_env(tmp_path)
    background: list[subprocess.Popen[str]] = []
    outputs: dict[str, str] = {}
    try:
        for line in lines:
            line = re.sub(r"\b87\d\d\b", lambda m: ports[m.group(0)], line)
            words = shlex.split(line.rstrip("&").strip())
            if words[0] == "export":
                name, _, value = words[1].partition("=")
                env[name] = value
                continue
            if line.endswith("&"):
                process = subprocess.Popen(
                    words, cwd=tmp_path, env=env, stdout=subprocess.PIPE, text=True
                )
                assert process.stdout is not None
                first = process.stdout.readline()  # the sandbox prints one JSON line when up
                assert first.startswith("{"), first
                background.append(process)
                continue
            result = subprocess.run(
                words, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
            )
            assert result.returncode == 0, f"{line}\n{result.stdout}{result.stderr}"
            assert "Traceback" not in result.stderr
            assert result.stdout.strip(), f"{line} printed nothing"
            outputs[words[1] if words[0] == "stripe-oauth-nb" else words[0]] = result.stdout
    finally:
        for process in background:
            process.send_signal(signal.SIGTERM)
            process.communicate(timeout=30)  # also closes its pipe
    if "sql" in outputs:  # the terminal section: a sync, then answers from its tables
        assert "Synced into duckdb:stripe.duckdb" in outputs["sync"]
        assert "succeeded" in outputs["sql"]
        assert "count_star()" in outputs["python"]
        found = list((tmp_path / "home").rglob("tokens.json"))
        assert not found, "the tokens went to the default folder, not the sandbox's"


@pytest.mark.parametrize("source", _blocks("ini"))
def test_env_block_is_a_valid_env_file(source: str, tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(source)
    settings = load_settings(env_file=env_file, environ={})
    assert settings.target == "stripe"
    assert settings.test.client_id == "ca_..."


def test_command_synopsis_parses() -> None:
    parser = build_parser()
    synopsis = [b for b in _blocks("") if "stripe-oauth-nb " in b and "python3" not in b]
    assert synopsis
    commands = " ".join(synopsis).replace("\\\n", " ")
    checked = 0
    for line in commands.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line.startswith("stripe-oauth-nb "):
            continue
        words = shlex.split(line)[1:]
        concrete = []
        for word in words:
            # One concrete choice per alternative: [--mode test|live] -> --mode test.
            word = word.strip("[]").split("|")[0]
            word = {
                "N": "8",
                "PATH": "tokens.json",
                "FILE": "out.jsonl",
                "ACCT": "acct_1Nv0FGQ9RKHgCVdK",
            }.get(word, word)
            concrete.append(word)
        parser.parse_args(concrete)  # exits (SystemExit) on an unknown option
        checked += 1
    assert checked >= 6
