"""A full or read-only disk under the token store, on a small filesystem the test mounts
(tmpfs; skipped, with the reason, where this process cannot mount; never in CI as root).

- one free block: ``tokens refresh --force`` fails *before* sending (the space for the answer
  is reserved first), says so, and the stored pair still works; after freeing space it works;
- the disk fills while the request is out: the reserved space takes the answer, nothing is lost;
- the store cannot be written after Stripe rotated: the pair kept in the in-flight record is
  stored by the next run, and the CLI says exactly that;
- a read-only filesystem: a clear error (not a raw ``OSError`` from the lock), nothing sent.
"""

from __future__ import annotations

import errno
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from _tmpfs import fill as _fill
from _tmpfs import tmpfs
from _tokens_helpers import disk_full, grants, new_code, token_works

from stripe_oauth_nb._cli import main
from stripe_oauth_nb._errors import TokenStoreError
from stripe_oauth_nb._settings import Settings
from stripe_oauth_nb._tokenset import TokenSet
from stripe_oauth_nb.oauth._attempts import AttemptLog
from stripe_oauth_nb.sandbox import Sandbox
from stripe_oauth_nb.tokens import FileTokenStore, TokenManager


@pytest.fixture
def small(tmp_path: Path) -> Iterator[Path]:
    """A 256 KiB filesystem of its own (tmpfs), unmounted after the test."""
    with tmpfs(tmp_path / "small", "256k") as target:
        yield target


def _env(sb: Sandbox, monkeypatch: pytest.MonkeyPatch, cwd: Path) -> None:
    monkeypatch.chdir(cwd)
    for name, value in {
        "STRIPE_OAUTH_NB_TARGET": "sandbox",
        "STRIPE_API_BASE": sb.api_base,
        "STRIPE_SECRET_KEY_TEST": sb.test.secret_key,
        "STRIPE_SECRET_KEY_LIVE": sb.live.secret_key,
    }.items():
        monkeypatch.setenv(name, value)


def _stored(sb: Sandbox, settings: Settings, store: FileTokenStore, tmp: Path) -> TokenManager:
    log = AttemptLog(tmp / "attempts.json")
    manager = TokenManager(settings, store, log, clock=sb.now)
    manager.exchange(new_code(sb, log))
    return manager


def test_one_free_block_fails_before_sending_and_loses_nothing(
    sb: Sandbox, tmp_settings: Settings, tmp_path: Path, small: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    store = FileTokenStore(small / "cfg" / "tokens.json")
    old = _stored(sb, tmp_settings, store, tmp_path).get()
    filler = _fill(small, leave=4096)  # one free block
    _env(sb, monkeypatch, tmp_path)
    assert main(["tokens", "--store", str(store.path), "refresh", "--force"]) == 1
    out = capsys.readouterr().out
    assert "none was sent and the stored tokens still work" in out
    assert "save_pending" not in out
    assert grants(sb)["refresh_token"] == 0
    assert store.load(*old.key) == old
    assert token_works(sb, old.access_token)
    filler.unlink()  # space again: the same command works
    assert main(["tokens", "--store", str(store.path), "refresh", "--force"]) == 0
    assert "rolled" in capsys.readouterr().out
    assert store.load(*old.key) != old
    assert grants(sb)["refresh_token"] == 1


def test_a_disk_that_fills_while_the_request_is_out_still_takes_the_answer(
    sb: Sandbox, tmp_settings: Settings, tmp_path: Path, small: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    store = FileTokenStore(small / "cfg" / "tokens.json")
    manager = _stored(sb, tmp_settings, store, tmp_path)
    old = manager.get()
    real = manager.client.refresh

    def refresh_then_fill(tokens: TokenSet) -> TokenSet:
        new = real(tokens)
        _fill(small)  # someone else takes every block meanwhile
        with pytest.raises(OSError, match="No space left") as full:
            (small / "probe").write_bytes(b"x" * 8192)
        assert full.value.errno == errno.ENOSPC
        return new

    monkeypatch.setattr(manager.client, "refresh", refresh_then_fill)
    new = manager.refresh(force=True)
    assert store.load(*old.key) == new  # written into the space reserved before the POST
    assert manager.inflight(*old.key) is None
    assert token_works(sb, new.access_token)


def test_a_failed_store_write_after_rotation_is_recovered_and_the_cli_says_so(
    sb: Sandbox, tmp_settings: Settings, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    store = FileTokenStore(tmp_settings.token_store_path)
    old = _stored(sb, tmp_settings, store, tmp_path).get()
    _env(sb, monkeypatch, tmp_path)
    argv = ["tokens", "--store", str(store.path), "refresh"]
    with disk_full(monkeypatch, store.path):  # the store's file cannot be replaced
        assert main([*argv, "--force"]) == 1
    out = capsys.readouterr().out
    assert f"kept in {store.inflight_path}" in out
    assert "nothing is lost" in out
    assert "authorize the app again" not in out  # that would not be true
    assert store.load(*old.key) == old
    assert main(argv) == 0  # the next run stores the pair Stripe sent, without a request
    assert "rolled" in capsys.readouterr().out
    new = store.load(*old.key)
    assert new is not None
    assert new.refresh_token != old.refresh_token
    assert grants(sb)["refresh_token"] == 1
    assert token_works(sb, new.access_token)


def test_a_pair_kept_nowhere_is_said_to_be_lost_when_the_command_ends(
    sb: Sandbox, tmp_settings: Settings, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    store = FileTokenStore(tmp_settings.token_store_path)
    _stored(sb, tmp_settings, store, tmp_path)
    _env(sb, monkeypatch, tmp_path)
    with (
        disk_full(monkeypatch, store.path),
        disk_full(monkeypatch, store.inflight_path, skip=1),  # the record before the POST: ok
    ):
        assert main(["tokens", "--store", str(store.path), "refresh", "--force"]) == 1
    out = capsys.readouterr().out
    assert "only in this command's memory" in out
    assert "authorize the app again" in out


def test_a_read_only_filesystem_is_a_clear_error_and_nothing_is_sent(
    sb: Sandbox, tmp_settings: Settings, tmp_path: Path, small: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    store = FileTokenStore(small / "cfg" / "tokens.json")
    manager = _stored(sb, tmp_settings, store, tmp_path)
    old = manager.refresh(force=True)  # the lock file exists from now on
    subprocess.run(["mount", "-o", "remount,ro", str(small)], check=True)
    try:
        with pytest.raises(TokenStoreError, match=r"(?i)read-only file system.*nothing was sent"):
            manager.refresh(force=True)
        _env(sb, monkeypatch, tmp_path)
        assert main(["tokens", "--store", str(store.path), "refresh", "--force"]) == 1
        out = capsys.readouterr().out
        assert "Read-only file system" in out
        assert "Traceback" not in out
        assert grants(sb)["refresh_token"] == 1
        assert store.load(*old.key) == old
        assert main(["tokens", "--store", str(store.path), "status"]) == 0  # reading works
    finally:
        subprocess.run(["mount", "-o", "remount,rw", str(small)], check=False)
