"""Every file the token step reads, fed arbitrary content: ``tokens.json``, its in-flight record
and ``attempts.json``. Property: reading gives a result or the toolkit's own error (one clear
message, no traceback, never a bare ``ValueError``/``RecursionError``/``OSError``), never
blocks, and the file is left byte for byte as it was (a damaged file is refused, never emptied).

Inputs covered: arbitrary bytes (Hypothesis), non-UTF-8, every JSON shape with random leaves
(Hypothesis), NaN/Infinity/-Infinity, 1e400, a 5,000-digit integer, 100,000-deep nesting,
wrong types in each field, a set filed under another key, a FIFO, a folder, /dev/null, an
oversized file; and through the CLI: ``tokens status|list|refresh`` on each, ``--store ''``,
``--store ~nosuchuser/...``, the same in ``STRIPE_OAUTH_NB_TOKEN_STORE``.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stripe_oauth_nb._cli import main
from stripe_oauth_nb._errors import StripeOAuthNBError
from stripe_oauth_nb.oauth._attempts import AttemptLog
from stripe_oauth_nb.sandbox import Sandbox
from stripe_oauth_nb.tokens import FileTokenStore
from stripe_oauth_nb.tokens._refresh import InflightFile

GOOD_SET = {
    "access_token": "rk_test_EXAMPLE" + "a" * 30,
    "refresh_token": "rt_EXAMPLE" + "b" * 30,
    "account_id": "acct_EXAMPLE1",
    "livemode": False,
    "publishable_key": "pk_test_EXAMPLE",
    "scope": "stripe_apps",
    "token_type": "bearer",
    "obtained_at": 1_700_000_000.0,
}
GOOD_ATTEMPT = {
    "state": "EXAMPLE-state",
    "mode": "test",
    "client_id": "ca_EXAMPLE",
    "redirect_uri": "http://127.0.0.1:8765/callback",
    "created_at": 1_700_000_000.0,
}

#: Hand-picked content that broke (or could break) a reader: (name, bytes).
NASTY: list[tuple[str, bytes]] = [
    ("empty", b""),
    ("not utf-8", b'{"tokens": {"\xff\xfe": 1}}'),
    ("latin-1 text", '{"version": 1, "tokens": {"é": 1}}'.encode("latin-1")),
    ("nan", b'{"version": 1, "tokens": {"acct_EXAMPLE1:test": {"obtained_at": NaN}}}'),
    ("infinity", json.dumps({"tokens": {"a": {**GOOD_SET, "obtained_at": 1}}}).replace(
        "1}", "Infinity}").encode()),
    ("-infinity", b'{"tokens": {}, "x": -Infinity}'),
    ("1e400", json.dumps({"tokens": {"acct_EXAMPLE1:test": GOOD_SET}}).replace(
        "1700000000.0", "1e400").encode()),
    ("5000 digits", json.dumps({"tokens": {"acct_EXAMPLE1:test": GOOD_SET}}).replace(
        "1700000000.0", "9" * 5000).encode()),
    ("deep list", b"[" * 100_000 + b"]" * 100_000),
    ("deep object", b'{"a":' * 100_000 + b"1" + b"}" * 100_000),
    ("deep in tokens", b'{"tokens": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"),
    ("null", b"null"),
    ("list", b"[]"),
    ("tokens list", b'{"tokens": []}'),
    ("set is a string", b'{"tokens": {"acct_EXAMPLE1:test": "x"}}'),
    ("wrong key", json.dumps({"tokens": {"acct_OTHER:live": GOOD_SET}}).encode()),
    ("livemode string", json.dumps(
        {"tokens": {"acct_EXAMPLE1:test": {**GOOD_SET, "livemode": "false"}}}).encode()),
    ("token number", json.dumps(
        {"tokens": {"acct_EXAMPLE1:test": {**GOOD_SET, "access_token": 7}}}).encode()),
    ("empty token", json.dumps(
        {"tokens": {"acct_EXAMPLE1:test": {**GOOD_SET, "refresh_token": ""}}}).encode()),
    ("control chars", json.dumps(
        {"tokens": {"acct_EXAMPLE1:test": {**GOOD_SET, "account_id": "acct_\x1b[31m"}}}).encode()),
    ("time is bool", json.dumps(
        {"tokens": {"acct_EXAMPLE1:test": {**GOOD_SET, "obtained_at": True}}}).encode()),
    ("negative time", json.dumps(
        {"tokens": {"acct_EXAMPLE1:test": {**GOOD_SET, "obtained_at": -1}}}).encode()),
    ("sealed without key", json.dumps(
        {"tokens": {"acct_EXAMPLE1:test": {**GOOD_SET, "access_token": "enc:v1:abcd:xx"}}}
    ).encode()),
    ("attempts not a dict", b'{"attempts": [1, 2]}'),
    ("attempt mode", json.dumps(
        {"attempts": {"EXAMPLE-state": {**GOOD_ATTEMPT, "mode": "prod"}}}).encode()),
    ("attempt state mismatch", json.dumps(
        {"attempts": {"other": GOOD_ATTEMPT}}).encode()),
    ("inflight bad hash", b'{"inflight": {"k": {"key": "k", "refresh_sha256": "x", '
        b'"started_at": 1, "pid": 1}}}'),
    ("inflight nan", b'{"inflight": {"k": {"key": "k", "refresh_sha256": "' + b"a" * 64 +
        b'", "started_at": NaN, "pid": 1}}}'),
]  # fmt: skip

#: (name, reader): each reads one kind of file at ``path``.
READERS: list[tuple[str, Callable[[Path], Any]]] = [
    ("tokens.json", lambda path: FileTokenStore(path).all()),
    ("tokens.json", lambda path: FileTokenStore(path).load("acct_EXAMPLE1", False)),
    ("attempts.json", lambda path: AttemptLog(path).all()),
    ("attempts.json", lambda path: AttemptLog(path).find("EXAMPLE-state")),
    ("tokens.json.inflight", lambda path: InflightFile(path).read()),
]


def _private(folder: Path, name: str, content: bytes) -> Path:
    folder.mkdir(mode=0o700, exist_ok=True)
    path = folder / name
    path.write_bytes(content)
    path.chmod(0o600)
    return path


def _read_is_clean(reader: Callable[[Path], Any], path: Path) -> None:
    before = path.read_bytes()
    try:
        reader(path)
    except StripeOAuthNBError as exc:
        message = str(exc)
        assert message
        assert "\n" not in message
        assert "Traceback" not in message
    assert path.read_bytes() == before  # refused or read: never rewritten, never emptied


@pytest.mark.parametrize(("reader_name", "reader"), READERS, ids=[r[0] for r in READERS])
@pytest.mark.parametrize(("case", "content"), NASTY, ids=[n[0] for n in NASTY])
def test_nasty_content_gives_one_clear_error_and_leaves_the_file(
    tmp_path: Path, reader_name: str, reader: Callable[[Path], Any], case: str, content: bytes
) -> None:
    path = _private(tmp_path / "cfg", reader_name, content)
    _read_is_clean(reader, path)


@pytest.mark.parametrize(("name", "reader"), READERS, ids=[r[0] for r in READERS])
def test_damaged_files_are_refused_not_emptied_one_policy(
    tmp_path: Path, name: str, reader: Callable[[Path], Any]
) -> None:
    path = _private(tmp_path / "cfg", name, b"{ damaged")
    with pytest.raises(StripeOAuthNBError, match=r"damaged.*(move it aside|Move it aside)"):
        reader(path)
    assert path.read_bytes() == b"{ damaged"


@pytest.mark.parametrize(("name", "reader"), READERS, ids=[r[0] for r in READERS])
def test_an_oversized_file_is_refused_without_reading_it_all(
    tmp_path: Path, name: str, reader: Callable[[Path], Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from stripe_oauth_nb import _fileio

    monkeypatch.setattr(_fileio, "MAX_FILE_BYTES", 1000)
    monkeypatch.setattr(_fileio.read_json_file, "__defaults__", None)
    monkeypatch.setattr(_fileio.read_json_file, "__kwdefaults__", {"limit": 1000})
    path = _private(tmp_path / "cfg", name, b" " * 5000 + b"{}")
    with pytest.raises(StripeOAuthNBError, match="bytes, far more"):
        reader(path)


@pytest.mark.parametrize("kind", ["fifo", "folder", "dev-null"])
@pytest.mark.parametrize(("name", "reader"), READERS, ids=[r[0] for r in READERS])
def test_a_path_that_is_not_a_regular_file_is_refused_without_blocking(
    tmp_path: Path, name: str, reader: Callable[[Path], Any], kind: str
) -> None:
    folder = tmp_path / "cfg"
    folder.mkdir(mode=0o700)
    path = folder / name
    if kind == "fifo":
        os.mkfifo(path, 0o600)  # reading a FIFO with no writer would block forever
    elif kind == "folder":
        path.mkdir(mode=0o700)
    else:
        path = Path("/dev/null")
    with pytest.raises(StripeOAuthNBError, match=r"not a regular file|is a folder|cannot be read"):
        reader(path)
    if kind == "fifo":
        assert stat.S_ISFIFO(path.stat().st_mode)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(content=st.binary(max_size=400))
def test_arbitrary_bytes_never_escape_the_error_tree(tmp_path: Path, content: bytes) -> None:
    for name, reader in READERS:
        path = _private(tmp_path / "fuzz", name, content)
        _read_is_clean(reader, path)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)


@pytest.mark.slow
@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    value=_JSON,
    field=st.sampled_from(sorted(GOOD_SET)),
    attempt_field=st.sampled_from(sorted(GOOD_ATTEMPT)),
)
def test_any_json_in_any_field_never_escapes_the_error_tree(
    tmp_path: Path, value: Any, field: str, attempt_field: str
) -> None:
    shapes = {
        "tokens.json": [
            {"version": 1, "tokens": {"acct_EXAMPLE1:test": {**GOOD_SET, field: value}}},
            {"version": 1, "tokens": value},
            value,
        ],
        "attempts.json": [
            {"attempts": {"EXAMPLE-state": {**GOOD_ATTEMPT, attempt_field: value}}},
            {"attempts": value},
            value,
        ],
        "tokens.json.inflight": [{"inflight": value}, {"inflight": {"k": value}}, value],
    }
    for name, reader in READERS:
        for shape in shapes[name]:
            path = _private(tmp_path / "json", name, json.dumps(shape).encode())
            _read_is_clean(reader, path)


# -- through the command line -----------------------------------------------------------------
@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sandbox: Sandbox) -> Path:
    """A folder to run the CLI in, with the module's sandbox configured as the target."""
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("STRIPE_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("STRIPE_OAUTH_NB_TARGET", "sandbox")
    monkeypatch.setenv("STRIPE_API_BASE", sandbox.api_base)
    monkeypatch.setenv("STRIPE_SECRET_KEY_TEST", sandbox.test.secret_key)
    return tmp_path


@pytest.mark.parametrize("action", [["status"], ["list"], ["refresh"], ["refresh", "--all"]])
@pytest.mark.parametrize(("case", "content"), NASTY[:14], ids=[n[0] for n in NASTY[:14]])
def test_cli_on_a_damaged_store_exits_1_with_one_message_and_leaves_it(
    cli_env: Path, capsys: pytest.CaptureFixture[str], action: list[str], case: str, content: bytes
) -> None:
    path = _private(cli_env / "cfg", "tokens.json", content)
    code = main(["tokens", "--store", str(path), *action])
    out, err = capsys.readouterr()
    assert code == 1
    assert err.startswith("error: "), err
    assert err.count("\n") == 1, err
    assert "Traceback" not in out + err
    assert path.read_bytes() == content


@pytest.mark.parametrize(
    ("store", "message"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("~nosuchuser-EXAMPLE/tokens.json", "no user 'nosuchuser-EXAMPLE'"),
        (".", "names no file"),
    ],
)
def test_cli_store_option_edge_cases(
    cli_env: Path, capsys: pytest.CaptureFixture[str], store: str, message: str
) -> None:
    assert main(["tokens", "--store", store, "status"]) == 1
    _, err = capsys.readouterr()
    assert message in err
    assert err.count("\n") == 1


def test_a_store_setting_under_an_unknown_user_is_a_config_error(
    cli_env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STRIPE_OAUTH_NB_TOKEN_STORE", "~nosuchuser-EXAMPLE/tokens.json")
    assert main(["tokens", "status"]) == 1
    assert "STRIPE_OAUTH_NB_TOKEN_STORE" in capsys.readouterr().err
