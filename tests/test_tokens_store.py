"""Token stores: keys, order, durability, permissions, refusal of readable stores, keyring."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import keyring
import keyring.backend
import pytest
from _tokens_helpers import disk_full, lock_held_elsewhere

from stripe_oauth_nb._errors import InsecureStoreError, StoreKeyError, TokenStoreError
from stripe_oauth_nb._masking import Secret
from stripe_oauth_nb._tokenset import TokenSet
from stripe_oauth_nb.tokens import (
    FileTokenStore,
    KeyringTokenStore,
    MemoryTokenStore,
    TokenStore,
)
from stripe_oauth_nb.tokens._crypto import StoreCipher, new_key

ACCESS = "rk_test_" + "A" * 40
REFRESH = "rt_" + "B" * 40


def _set(account: str = "acct_1111111111", livemode: bool = False, n: int = 0) -> TokenSet:
    mode = "live" if livemode else "test"
    return TokenSet(
        access_token=Secret(f"rk_{mode}_{account[-4:]}{n:04d}" + "x" * 32),
        refresh_token=Secret(f"rt_{account[-4:]}{n:04d}" + "y" * 32),
        account_id=account,
        livemode=livemode,
        publishable_key=f"pk_{mode}_123",
        obtained_at=1_700_000_000.0 + n,
    )


class MemKeyring(keyring.backend.KeyringBackend):
    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.values.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.values[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.values.pop((service, username), None)


@pytest.fixture
def mem_keyring() -> Iterator[MemKeyring]:
    before = keyring.get_keyring()
    backend = MemKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(before)


@pytest.fixture(params=["file", "memory", "keyring", "postgres", "file-sealed"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> TokenStore:
    if request.param == "file":
        return FileTokenStore(tmp_path / "cfg" / "tokens.json")
    if request.param == "file-sealed":
        return FileTokenStore(tmp_path / "cfg" / "tokens.json", cipher=_cipher())
    if request.param == "memory":
        return MemoryTokenStore()
    if request.param == "postgres":
        from stripe_oauth_nb.tokens._postgres import PostgresTokenStore

        dsn = request.getfixturevalue("postgres").create_database()
        return PostgresTokenStore(dsn, cipher=_cipher(), spool=tmp_path / "spool")
    request.getfixturevalue("mem_keyring")
    return KeyringTokenStore(folder=tmp_path / "cfg")


def _cipher() -> StoreCipher:
    cipher = StoreCipher.from_setting(new_key())
    assert cipher is not None
    return cipher


def test_every_store_keys_by_account_and_mode(store: TokenStore) -> None:
    sets = [_set("acct_1111111111", False), _set("acct_1111111111", True), _set("acct_2222222222")]
    for tokens in sets:
        store.save(tokens, authorized=True)
    assert isinstance(store, TokenStore)
    for tokens in sets:
        assert store.load(*tokens.key) == tokens
    assert store.load("acct_3333333333", False) is None
    assert store.all() == sets


def test_every_store_keeps_order_on_refresh_and_moves_a_new_authorization_last(
    store: TokenStore,
) -> None:
    a, b = _set("acct_1111111111"), _set("acct_2222222222")
    store.save(a, authorized=True)
    store.save(b, authorized=True)
    store.save(_set("acct_1111111111", n=1))  # a refresh: stays in place
    assert [t.account_id for t in store.all()] == ["acct_1111111111", "acct_2222222222"]
    store.save(_set("acct_1111111111", n=2), authorized=True)  # re-authorized: most recent
    assert [t.account_id for t in store.all()] == ["acct_2222222222", "acct_1111111111"]
    store.delete("acct_2222222222", False)
    assert [t.account_id for t in store.all()] == ["acct_1111111111"]
    assert store.load("acct_1111111111", False) == _set("acct_1111111111", n=2)


def test_file_store_creates_0600_in_0700_and_parses(tmp_path: Path) -> None:
    path = tmp_path / "new" / "deeper" / "tokens.json"
    store = FileTokenStore(path)
    store.save(_set(), authorized=True)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    data = json.loads(path.read_text())
    assert data["version"] == 1
    assert list(data["tokens"]) == ["acct_1111111111:test"]
    assert [p.name for p in path.parent.iterdir() if p.name.endswith(".tmp")] == []


@pytest.mark.parametrize(
    ("target", "mode", "fix"),
    [
        ("file", 0o644, "chmod 600"),
        ("file", 0o640, "chmod 600"),
        ("file", 0o604, "chmod 600"),
        ("folder", 0o755, "chmod 700"),
        ("folder", 0o770, "chmod 700"),
    ],
)
def test_file_store_refuses_a_store_others_can_read(
    tmp_path: Path, target: str, mode: int, fix: str
) -> None:
    path = tmp_path / "cfg" / "tokens.json"
    store = FileTokenStore(path)
    store.save(_set(), authorized=True)
    os.chmod(path if target == "file" else path.parent, mode)
    with pytest.raises(InsecureStoreError, match=fix):
        store.load("acct_1111111111", False)
    with pytest.raises(InsecureStoreError):
        store.save(_set(n=1))


@pytest.mark.parametrize(
    "content", ["{", "[]", '{"tokens": []}', '{"tokens": {"a:test": {"access_token": "x"}}}']
)
def test_file_store_damaged_is_a_clear_error(tmp_path: Path, content: str) -> None:
    path = tmp_path / "tokens.json"
    path.write_text(content)
    path.chmod(0o600)
    with pytest.raises(TokenStoreError, match="damaged"):
        FileTokenStore(path).all()


def test_file_store_removes_leftover_temp_files_of_dead_writers(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    store = FileTokenStore(path)
    store.save(_set(), authorized=True)
    leftover = tmp_path / ".tokens.json.abc123.tmp"
    leftover.write_text("half a file")
    assert store.load("acct_1111111111", False) == _set()  # ignored when reading
    store.save(_set(n=1))
    assert not leftover.exists()


def test_file_store_write_failure_is_a_store_error_and_keeps_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = FileTokenStore(tmp_path / "tokens.json")
    store.save(_set(), authorized=True)
    with (
        disk_full(monkeypatch, store.path),
        pytest.raises(TokenStoreError, match="could not be written"),
    ):
        store.save(_set(n=1))
    assert store.load("acct_1111111111", False) == _set()
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_stores_never_show_secrets(tmp_path: Path, mem_keyring: MemKeyring) -> None:
    tokens = _set()
    stores: list[TokenStore] = [
        FileTokenStore(tmp_path / "tokens.json"),
        MemoryTokenStore(tokens),
        KeyringTokenStore(folder=tmp_path),
    ]
    for store in stores:
        store.save(tokens)
        text = repr(store) + str(store) + repr(store.all())
        assert tokens.access_token.reveal() not in text
        assert tokens.refresh_token.reveal() not in text


def test_keyring_store_stores_json_per_key(tmp_path: Path, mem_keyring: MemKeyring) -> None:
    store = KeyringTokenStore(folder=tmp_path)
    store.save(_set(), authorized=True)
    raw = mem_keyring.values[("stripe-oauth-nb", "acct_1111111111:test")]
    assert json.loads(raw)["refresh_token"] == _set().refresh_token.reveal()
    assert json.loads(mem_keyring.values[("stripe-oauth-nb", "__index__")]) == [
        "acct_1111111111:test"
    ]
    assert store.lock_path("acct_1111111111", False).parent == tmp_path / "keyring.locks"


def test_keyring_store_without_backend_is_a_clear_error(tmp_path: Path) -> None:
    import keyring.backends.fail

    before = keyring.get_keyring()
    keyring.set_keyring(keyring.backends.fail.Keyring())
    try:
        with pytest.raises(TokenStoreError, match="No working OS keyring backend"):
            KeyringTokenStore(folder=tmp_path)
    finally:
        keyring.set_keyring(before)


def test_a_sealed_file_store_holds_no_token_and_refuses_a_wrong_key(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    sealed = FileTokenStore(path, cipher=_cipher())
    sealed.save(_set(), authorized=True)
    text = path.read_text()
    assert _set().access_token.reveal() not in text
    assert _set().refresh_token.reveal() not in text
    assert sealed.load("acct_1111111111", False) == _set()
    before = path.read_bytes()
    for wrong in (FileTokenStore(path, cipher=_cipher()), FileTokenStore(path)):
        with pytest.raises(StoreKeyError, match="Nothing was changed"):
            wrong.all()
        with pytest.raises(StoreKeyError):
            wrong.save(_set("acct_2222222222"))
    assert path.read_bytes() == before


def test_a_clear_file_store_is_sealed_by_rekey_and_rotation_needs_both_keys(
    tmp_path: Path,
) -> None:
    path = tmp_path / "tokens.json"
    FileTokenStore(path).save(_set(), authorized=True)  # written before a key was set
    old, new = new_key(), new_key()
    with_old = FileTokenStore(path, cipher=StoreCipher.from_setting(old))
    assert with_old.all() == [_set()]  # clear values still read
    assert with_old.rekey() == 1
    assert _set().refresh_token.reveal() not in path.read_text()
    rotating = FileTokenStore(path, cipher=StoreCipher.from_setting(f"{new},{old}"))
    assert rotating.rekey() == 1
    assert FileTokenStore(path, cipher=StoreCipher.from_setting(new)).all() == [_set()]
    with pytest.raises(StoreKeyError):
        FileTokenStore(path, cipher=StoreCipher.from_setting(old)).all()


@pytest.mark.parametrize("setting", ["not-a-key", "c2hvcnQ=", "x" * 44])
def test_a_malformed_store_key_is_a_clear_error(setting: str) -> None:
    with pytest.raises(StoreKeyError, match="tokens new-key") as info:
        StoreCipher.from_setting(Secret(setting))
    assert setting not in str(info.value)


def test_a_sealed_value_moved_to_another_account_does_not_open(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    cipher = _cipher()
    store = FileTokenStore(path, cipher=cipher)
    store.save(_set("acct_1111111111"), authorized=True)
    store.save(_set("acct_2222222222"), authorized=True)
    data = json.loads(path.read_text())
    one, two = data["tokens"]["acct_1111111111:test"], data["tokens"]["acct_2222222222:test"]
    one["refresh_token"] = two["refresh_token"]  # swap a sealed value between rows
    path.write_text(json.dumps(data))
    with pytest.raises(StoreKeyError, match="moved from another account"):
        store.all()


def test_every_store_locks_per_key(store: TokenStore) -> None:
    from stripe_oauth_nb._errors import TokenLockTimeoutError

    a, b = _set("acct_1111111111"), _set("acct_2222222222")
    store.save(a, authorized=True)
    store.save(b, authorized=True)
    with lock_held_elsewhere(store, a.key):
        with pytest.raises(TokenLockTimeoutError), store.locked(*a.key, 0.0):  # that key: busy
            pass
        with store.locked(*b.key, 0.0) as slot:  # ... the others are not
            assert slot.load() == b
    with store.locked(*a.key, 0.0) as slot:  # and it is free again once let go
        assert slot.load() == a


def test_a_store_key_kept_in_the_keyring_rotates_with_rekey(
    tmp_path: Path,
    mem_keyring: MemKeyring,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from stripe_oauth_nb._cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("STRIPE_OAUTH_NB_TARGET", "sandbox")
    monkeypatch.setenv("STRIPE_OAUTH_NB_STORE_KEY", "keyring")
    path = tmp_path / "cfg" / "tokens.json"
    with pytest.raises(StoreKeyError, match="holds no 'store-key'"):
        StoreCipher.from_setting("keyring")
    assert main(["tokens", "new-key", "--keyring"]) == 0
    first = StoreCipher.from_setting("keyring")
    assert first is not None
    FileTokenStore(path, cipher=first).save(_set(), authorized=True)
    assert main(["tokens", "new-key", "--keyring"]) == 0  # a new key first, the old one kept
    both = StoreCipher.from_setting("keyring")
    assert both is not None
    assert both.key_ids[1:] == [first.primary]
    capsys.readouterr()
    assert main(["tokens", "--store", str(path), "rekey"]) == 0
    out = capsys.readouterr().out
    assert f"sealed with key {both.primary}" in out
    assert "removed from the keyring" in out
    only = StoreCipher.from_setting("keyring")
    assert only is not None
    assert only.key_ids == [both.primary]
    assert FileTokenStore(path, cipher=only).all() == [_set()]
    stored = mem_keyring.values[("stripe-oauth-nb", "store-key")]
    assert stored not in out


def test_new_key_prints_a_key_that_opens(capsys: pytest.CaptureFixture[str]) -> None:
    from stripe_oauth_nb._cli import main

    assert main(["tokens", "new-key"]) == 0
    key = capsys.readouterr().out.strip()
    cipher = StoreCipher.from_setting(key)
    assert cipher is not None
    assert cipher.open(cipher.seal("rt_EXAMPLE", "ctx"), "ctx", "here") == "rt_EXAMPLE"
