"""Fuzz every command's arguments and every file the toolkit reads: store, attempts, .env, manifest.

For every run: no traceback; an exit code the command line documents (0, 1 or 2, never 70,
which means a bug); a failing run says one thing (at most one ``error:``); nothing the user typed
shows a whole key or token; and when the run fails, the files it was given are untouched.

The runs are in-process (``main(argv)``) so Hypothesis can try many; the cases that could hang
(a FIFO, a device) or that only a real ``argv`` can carry (undecodable bytes) run in a
subprocess with a timeout. Nothing reaches the network: the API and marketplace bases are a
closed loopback port, and ``login`` always reads the landed URL from an empty stdin
(``--paste``), so it never listens or waits.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from stripe_oauth_nb._cli import EXIT_BUG, main

#: Real processes or kernels in most tests here: out of the fast loop (`-m "not slow"`).
pytestmark = pytest.mark.slow

SECRET_KEY = "sk_test_EXAMPLEfuzzKey0123456789abcd"
SECRETS = (
    SECRET_KEY,
    "sk_live_EXAMPLEfuzzLive0123456789abc",
    "rk_test_EXAMPLEfuzzAccess0123456789ab",
    "rt_EXAMPLEfuzzRefresh0123456789abcdef",
    "ac_EXAMPLEfuzzCode0123456789abcdefgh",
)
GOOD_MANIFEST = (Path(__file__).parent / "data" / "manifests" / "good_oauth.json").read_bytes()
#: The files a run may read, and what they hold before it (a valid, ordinary setup).
WATCHED = {
    ".env": b"STRIPE_OAUTH_NB_MODE=test\n",
    "stripe-app.json": GOOD_MANIFEST,
    "store/tokens.json": None,  # no tokens yet
}
TIMEOUT = 120  # seconds for one subprocess run; generous for a loaded machine


# -- the workspace -------------------------------------------------------------------------------


@dataclass
class Run:
    code: int
    out: str
    err: str


class Workspace:
    """A temporary working folder with a settings file, a manifest and a store location."""

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "store").mkdir(mode=0o700)
        (root / "folder").mkdir()
        os.mkfifo(root / "fifo")
        for name, content in WATCHED.items():
            if content is not None:
                (root / name).write_bytes(content)
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("STRIPE")},
            "STRIPE_OAUTH_NB_TARGET": "stripe",
            "STRIPE_SECRET_KEY_TEST": SECRET_KEY,
            "STRIPE_CLIENT_ID_TEST": "ca_EXAMPLEfuzz0001",
            "STRIPE_API_BASE": "http://127.0.0.1:9",  # discard port: nothing listens
            "STRIPE_MARKETPLACE_BASE": "http://127.0.0.1:9",
            "STRIPE_REDIRECT_URI": "http://127.0.0.1:9/callback",
            "STRIPE_OAUTH_NB_TOKEN_STORE": str(root / "store" / "tokens.json"),
            "HOME": str(root),
        }

    def snapshot(self, names: Iterator[str] | list[str]) -> dict[str, bytes | None]:
        found: dict[str, bytes | None] = {}
        for name in names:
            path = self.root / name
            found[name] = path.read_bytes() if path.is_file() else None
        return found

    def run(self, argv: list[str]) -> Run:
        out, err = io.StringIO(), io.StringIO()
        with (
            mock.patch.dict(os.environ, self.env, clear=True),
            contextlib.chdir(self.root),
            mock.patch.object(sys, "stdin", io.StringIO("")),
            contextlib.redirect_stdout(out),
            contextlib.redirect_stderr(err),
        ):
            try:
                code = main(argv)
            except SystemExit as exc:  # argparse: usage errors (2) and --help (0)
                code = exc.code if isinstance(exc.code, int) else 1
        return Run(code, out.getvalue(), err.getvalue())

    def run_process(self, argv: list[str], *, stdin: str = "") -> Run:
        result = subprocess.run(
            [sys.executable, "-m", "stripe_oauth_nb", *argv],
            capture_output=True,
            text=True,
            errors="backslashreplace",
            env=self.env,
            cwd=self.root,
            input=stdin,
            timeout=TIMEOUT,
        )
        return Run(result.returncode, result.stdout, result.stderr)


@contextlib.contextmanager
def workspace() -> Iterator[Workspace]:
    with tempfile.TemporaryDirectory(prefix="som-fuzz-") as folder:
        yield Workspace(Path(folder))


def check(run: Run, argv: list[str], before: dict[str, bytes | None], ws: Workspace) -> None:
    """The properties every run must have."""
    shown = run.out + run.err
    assert "Traceback" not in shown, shown
    assert run.code != EXIT_BUG, shown
    assert run.code in (0, 1, 2), (run.code, shown)
    for secret in SECRETS:
        assert secret not in shown, f"{secret[:8]}… echoed whole for {argv!r}"
    if run.code != 0:
        assert shown.strip(), f"{argv!r} failed silently"
        assert len(re.findall(r"(?m)^(?:\S+: )?error: ", shown)) <= 1, shown
        assert ws.snapshot(list(before)) == before, f"{argv!r} changed a file it failed on"


# -- argument values ------------------------------------------------------------------------------

NUMBERS = st.sampled_from(
    ["nan", "NaN", "inf", "-inf", "1e400", "-1", "0", "0.0001", "99999", "1e-400", "3e9", "x", ""]
)
PATHS = st.sampled_from(
    [
        "missing.json",
        "nowhere/x.json",
        "folder",
        "folder/",
        "fifo",
        "",
        "~nosuchuser-EXAMPLE/x",
        "stripe-app.json",
        ".env",
        "store/tokens.json",
        "store",
    ]
)
URLS = st.sampled_from(
    [
        "http://127.0.0.1:8765/callback",
        "http://127.0.0.1:99999/callback",
        "http://evil.example/callback",
        "https://hub.example.org/hub/user-redirect/proxy/8765/callback",
        "http://127.0.0.1:8765/callback?code=" + SECRETS[4],
        "::::",
        "",
        "https://marketplace.stripe.com/oauth/v2/authorize?client_id=ca_EXAMPLE&state=x",
        "https://marketplace.stripe.com/oauth/v2/authorize?client_id=" + SECRET_KEY,
    ]
)
WORDS = st.one_of(
    st.sampled_from(["test", "live", "sandbox", "customers", "/v1/customers", "//evil", *SECRETS]),
    st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=30),
)
VALUES = st.one_of(NUMBERS, PATHS, URLS, WORDS)

#: Per command: the fixed start of the command line, and its options with their values
#: (None: a flag). Positional values come first in the fixed part when a command needs one.
OPTIONS: dict[str, tuple[list[str], dict[str, st.SearchStrategy[str] | None]]] = {
    "login": (
        ["login", "--paste"],
        {
            "--mode": WORDS,
            "--redirect-uri": URLS,
            "--manifest": PATHS,
            "--dashboard-link": URLS,
            "--approve": None,
            "--timeout": NUMBERS,
        },
    ),
    "validate": (
        ["validate"],
        {
            "--account": WORDS,
            "--mode": WORDS,
            "--pull": WORDS,
            "--output": PATHS,
            "--timeout": NUMBERS,
        },
    ),
    "manifest check": (["manifest", "check"], {"--json": None, "--no-oauth": None}),
    "manifest new": (
        ["manifest", "new"],
        {
            "--name": WORDS,
            "--id": WORDS,
            "--version": WORDS,
            "--redirect-uri": URLS,
            "--permission": WORDS,
            "--force": None,
            "--no-icon": None,
        },
    ),
    "tokens status": (["tokens", "status"], {"--json": None}),
    "tokens refresh": (
        ["tokens", "refresh"],
        {"--account": WORDS, "--mode": WORDS, "--force": None, "--margin": NUMBERS},
    ),
}
TOKEN_STEP = frozenset({"tokens status", "tokens refresh"})
POSITIONAL: dict[str, st.SearchStrategy[str]] = {
    "manifest check": st.one_of(PATHS, WORDS),
    "manifest new": st.one_of(PATHS, st.sampled_from(["new/stripe-app.json", "new.json"])),
}


@st.composite
def command_lines(draw: st.DrawFn, names: frozenset[str]) -> list[str]:
    name = draw(st.sampled_from(sorted(names)))
    fixed, options = OPTIONS[name]
    argv = list(fixed)
    if name in POSITIONAL:
        argv.append(draw(POSITIONAL[name]))
    if name.startswith("tokens") and draw(st.booleans()):
        argv[1:1] = ["--store", draw(PATHS)]
    chosen = draw(st.lists(st.sampled_from(sorted(options)), max_size=4, unique=True))
    for option in chosen:
        values = options[option]
        argv.append(option)
        if values is not None:
            argv.append(draw(st.one_of(values, VALUES)))
    if draw(st.integers(0, 9)) == 0:  # now and then something no command takes
        argv.append(draw(st.sampled_from(["--nope", "-x", "extra", "--timeout="])))
    return argv


FUZZ = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,  # the same cases every run: a failure is never luck
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _arguments(argv: list[str]) -> None:
    with workspace() as ws:
        before = ws.snapshot(list(WATCHED))
        check(ws.run(argv), argv, before, ws)


@FUZZ
@given(argv=command_lines(frozenset(OPTIONS) - TOKEN_STEP))
@example(argv=["login", "--paste", "--timeout", "nan"])
@example(argv=["login", "--paste", "--timeout", "1e400"])
@example(argv=["login", "--paste", "--mode", SECRET_KEY])
@example(argv=["login", "--paste", "--manifest", "fifo"])
@example(argv=["login", "--paste", "--redirect-uri", "http://evil.example/callback"])
@example(argv=["validate", "--output", "nowhere/x.json"])
@example(argv=["validate", "--output", "folder"])
@example(argv=["validate", "--timeout", "1e400"])
@example(argv=["validate", "--pull", "https://evil.example/x"])
@example(argv=["manifest", "check", "fifo"])
@example(argv=["manifest", "new", "folder"])
@example(argv=["manifest", "new", "nowhere/x.json"])
def test_command_arguments(argv: list[str]) -> None:
    _arguments(argv)


@FUZZ
@given(argv=command_lines(TOKEN_STEP))
@example(argv=["tokens", "--store", "", "status"])
@example(argv=["tokens", "--store", "~nosuchuser-EXAMPLE/x", "status"])
@example(argv=["tokens", "refresh", "--account", SECRET_KEY])
@example(argv=["tokens", "refresh", "--margin", "nan"])
def test_tokens_command_arguments(argv: list[str]) -> None:
    _arguments(argv)


# -- the files the toolkit reads ----------------------------------------------------------------

#: Each file, where it lives, and the commands that read it.
FILES: dict[str, tuple[str, list[list[str]]]] = {
    "store": (
        "store/tokens.json",
        [
            ["tokens", "status"],
            ["tokens", "refresh", "--force"],
            ["validate"],
            ["login", "--paste"],
        ],
    ),
    "attempts": ("store/attempts.json", [["login", "--paste"]]),
    ".env": (".env", [["tokens", "status"], ["validate"], ["login", "--paste"]]),
    "manifest": (
        "stripe-app.json",
        [["manifest", "check", "stripe-app.json"], ["login", "--paste"]],
    ),
}


def _json_like() -> st.SearchStrategy[bytes]:
    leaves = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=False),
        st.text(max_size=20),
        st.sampled_from(SECRETS),
    )
    values = st.recursive(
        leaves,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner),
        max_leaves=12,
    )
    import json

    return values.map(lambda v: json.dumps(v).encode())


CONTENTS = st.one_of(
    st.binary(max_size=200),
    st.text(max_size=200).map(str.encode),
    _json_like(),
    st.sampled_from(
        [
            b"",
            b"\xff\xfe\x00garbage",
            b"[" * 100_000 + b"]" * 100_000,
            b'{"a": ' + b"9" * 4300 + b"}",
            b'{"a": NaN, "b": Infinity}',
            b'{"tokens": {"x": {"access_token": "' + SECRETS[2].encode() + b'"}}}',
            b'{"attempts": {"s": {"state": "s"}}}',
            b"STRIPE_OAUTH_NB_MODE=" + SECRET_KEY.encode() + b"\n",
            b"STRIPE_API_BASE=http://evil.example\n",
            b"STRIPE_OAUTH_NB_MODE=t\xe9st\n",
        ]
    ),
)


def _file(kind: str, content: bytes, which: int) -> None:
    name, commands = FILES[kind]
    argv = commands[which % len(commands)]
    with workspace() as ws:
        (ws.root / name).write_bytes(content)
        if name.startswith("store/"):
            (ws.root / name).chmod(0o600)
        before = ws.snapshot([name])
        check(ws.run(argv), argv, before, ws)


@FUZZ
@given(kind=st.sampled_from([".env", "manifest"]), content=CONTENTS, which=st.integers(0, 3))
def test_settings_and_manifest_files(kind: str, content: bytes, which: int) -> None:
    _file(kind, content, which)


@FUZZ
@given(kind=st.sampled_from(["attempts", "store"]), content=CONTENTS, which=st.integers(0, 3))
@example(kind="store", content=b"[" * 100_000 + b"]" * 100_000, which=0)
@example(kind="attempts", content=b"not json", which=0)
def test_store_and_attempt_files(kind: str, content: bytes, which: int) -> None:
    _file(kind, content, which)


# -- what only a real process shows ----------------------------------------------------------------

SPECIAL: list[tuple[str, Callable[[Path], object]]] = [
    ("fifo", lambda p: os.mkfifo(p)),
    ("folder", lambda p: p.mkdir()),
    ("huge", lambda p: p.write_bytes(b'{"x": "' + b"a" * (45 * 1024 * 1024) + b'"}')),
]


@pytest.mark.parametrize(("special", "make"), SPECIAL, ids=[s for s, _ in SPECIAL])
@pytest.mark.parametrize("kind", sorted(FILES))
def test_special_files_neither_hang_nor_crash(
    kind: str, special: str, make: Callable[[Path], object]
) -> None:
    name, commands = FILES[kind]
    with workspace() as ws:
        path = ws.root / name
        path.unlink(missing_ok=True)
        make(path)
        for argv in commands:
            run = ws.run_process(argv)
            check(run, argv, {}, ws)
            assert path.exists()
            if special == "fifo":
                assert path.is_fifo()


@pytest.mark.parametrize(
    ("argv", "fails"),
    [
        (["manifest", "check", "caf\udcff.json"], True),
        (["manifest", "new", "caf\udcff/stripe-app.json"], False),  # a new folder is fine
        (["validate", "--pull", "cust\udcffomers"], True),
        (["login", "--paste", "--redirect-uri", "http://127.0.0.1:8765/\udcff"], True),
        (["sandbox", "--port", "99999"], True),
        (["sandbox", "--port", "-1"], True),
        (["sandbox", "--port", "http"], True),
        (["sandbox", "--customers", "many"], True),
    ],
)
def test_undecodable_and_out_of_range_arguments_in_a_real_process(
    argv: list[str], fails: bool
) -> None:
    with workspace() as ws:
        before = ws.snapshot(list(WATCHED))
        args = [os.fsencode(a) for a in argv]  # what a shell hands over for undecodable bytes
        result = subprocess.run(
            [os.fsencode(sys.executable), b"-m", b"stripe_oauth_nb", *args],
            capture_output=True,
            env=ws.env,
            cwd=ws.root,
            input=b"",
            timeout=TIMEOUT,
        )
        run = Run(
            result.returncode,
            result.stdout.decode(errors="backslashreplace"),
            result.stderr.decode(errors="backslashreplace"),
        )
        check(run, argv, before, ws)
        assert (run.code != 0) is fails
