from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest

from stripe_oauth_nb._errors import InsecureStoreError
from stripe_oauth_nb._fileio import (
    MARKER,
    LockTimeout,
    atomic_write_text,
    atomic_writer,
    check_private,
    ensure_private_dir,
    hold_lock,
)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_private_write_creates_0600_file_in_0700_folder(tmp_path: Path) -> None:
    target = tmp_path / "new" / "tokens.json"
    atomic_write_text(target, "{}\n")
    assert target.read_text() == "{}\n"
    assert _mode(target) == 0o600
    assert _mode(target.parent) == 0o700


def test_public_write_is_readable(tmp_path: Path) -> None:
    target = tmp_path / "stripe-app.json"
    atomic_write_text(target, "{}\n", private=False)
    assert _mode(target) == 0o644


def test_replace_leaves_no_temp_files(tmp_path: Path) -> None:
    target = tmp_path / "f.json"
    for i in range(3):
        atomic_write_text(target, f"{i}\n")
    assert target.read_text() == "2\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.json"]


def test_failed_write_keeps_old_file_and_cleans_up(tmp_path: Path) -> None:
    target = tmp_path / "f.json"
    atomic_write_text(target, "old\n")

    with pytest.raises(TypeError):
        atomic_write_text(target, 123)  # type: ignore[arg-type]
    assert target.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.json"]


@pytest.mark.parametrize(("mode", "refused"), [(0o600, False), (0o640, True), (0o604, True)])
def test_check_private_file(tmp_path: Path, mode: int, refused: bool) -> None:
    target = tmp_path / "tokens.json"
    target.write_text("{}")
    os.chmod(target, mode)
    if refused:
        with pytest.raises(InsecureStoreError, match="chmod 600"):
            check_private(target)
    else:
        check_private(target)


def test_check_private_folder_the_toolkit_made(tmp_path: Path) -> None:
    folder = tmp_path / "store"
    atomic_write_text(folder / "tokens.json", "{}")  # the toolkit makes the folder
    assert (folder / MARKER).exists()
    os.chmod(folder, 0o755)
    with pytest.raises(InsecureStoreError, match=f"chmod 700 {folder}"):
        check_private(folder)


@pytest.mark.parametrize("mode", [0o755, 0o770, 0o1777])
def test_check_private_never_advises_chmod_on_a_folder_it_did_not_make(
    tmp_path: Path, mode: int
) -> None:
    folder = tmp_path / "shared"
    folder.mkdir()
    os.chmod(folder, mode)
    with pytest.raises(InsecureStoreError, match="private folder of their own") as info:
        check_private(folder)
    assert "chmod" not in str(info.value)
    assert "stripe-oauth-nb did not make it" in str(info.value)


@pytest.mark.parametrize("store", ["/tmp/tokens.json", "/tokens.json"])
def test_a_store_in_a_system_folder_gets_a_private_folder_as_advice(store: str) -> None:
    from stripe_oauth_nb._settings import default_token_store_path
    from stripe_oauth_nb.tokens import FileTokenStore

    with pytest.raises(InsecureStoreError) as info:
        FileTokenStore(store).all()
    message = str(info.value)
    assert "chmod" not in message
    assert str(default_token_store_path()) in message


def test_ensure_private_dir_makes_every_missing_folder_private(tmp_path: Path) -> None:
    deep = tmp_path / "a" / "b" / "c"
    ensure_private_dir(deep)
    for folder in (tmp_path / "a", tmp_path / "a" / "b", deep):
        assert _mode(folder) == 0o700
        assert (folder / MARKER).exists()
    assert not (tmp_path / MARKER).exists()  # not ours


def test_a_write_is_durable_in_order_and_never_readable_by_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The temp file is 0600 from its first byte, is fsynced before it replaces the old file,
    and the folder is fsynced after, so a power cut leaves the old file or the new one."""
    path = tmp_path / "store" / "tokens.json"
    atomic_write_text(path, "old")
    steps: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        kind = "folder" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file"
        if kind == "file":
            assert stat.S_IMODE(os.fstat(fd).st_mode) == 0o600
            assert path.read_text() == "old"  # not replaced yet
        steps.append(f"fsync {kind}")
        real_fsync(fd)

    def replace(src: Any, dst: Any) -> None:
        assert _mode(Path(src)) == 0o600
        steps.append("replace")
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    atomic_write_text(path, "new")
    assert steps == ["fsync file", "replace", "fsync folder"]
    assert path.read_text() == "new"
    assert _mode(path) == 0o600


def test_a_live_writer_is_never_taken_for_a_dead_one(tmp_path: Path) -> None:
    """A cleaner that runs while a writer has just created its temp file leaves it alone: the
    file only gets the ``.tmp`` name once it is locked."""
    from stripe_oauth_nb._fileio import ReservedWrite, remove_stale_temps, stale_temps

    path = tmp_path / "tokens.json"
    atomic_write_text(path, "old")
    seen: list[list[Path]] = []
    real_rename = os.rename

    def rename(src: Any, dst: Any) -> None:
        seen.append(stale_temps(path))  # the cleaner, between creation and the .tmp name
        remove_stale_temps(path)
        real_rename(src, dst)
        seen.append(stale_temps(path))  # and right after: locked, so in use

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(os, "rename", rename)
        reserved = ReservedWrite(path, 64)
    assert seen == [[], []]
    remove_stale_temps(path)
    reserved.commit("new")
    assert path.read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tokens.json"]


def test_atomic_writer_streams_into_place_and_keeps_the_old_file_on_an_error(
    tmp_path: Path,
) -> None:
    target = tmp_path / "rows.jsonl"
    with atomic_writer(target) as handle:
        for n in range(3):
            handle.write(f"{n}\n".encode())
        assert not target.exists()  # nothing is in place before the block ends
    assert target.read_text() == "0\n1\n2\n"
    assert _mode(target) == 0o600

    def export() -> None:
        with atomic_writer(target) as handle:
            handle.write(b"half")
            raise RuntimeError("the export failed")

    with pytest.raises(RuntimeError):
        export()
    assert target.read_text() == "0\n1\n2\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rows.jsonl"]  # no temp file left


def test_atomic_writer_public_file_is_0644(tmp_path: Path) -> None:
    target = tmp_path / "icon.png"
    with atomic_writer(target, private=False) as handle:
        handle.write(b"png")
    assert _mode(target) == 0o644


def test_hold_lock_waits_then_says_who_holds_it(tmp_path: Path) -> None:
    path = tmp_path / "state" / "attempts.json.lock"
    with hold_lock(path, 1.0):
        assert _mode(path) == 0o600
        assert _mode(path.parent) == 0o700
        with pytest.raises(LockTimeout, match=r"attempts\.json\.lock"):
            hold_lock(path, 0.1)
    with hold_lock(path, 0.1):  # released when the first block ended
        pass
