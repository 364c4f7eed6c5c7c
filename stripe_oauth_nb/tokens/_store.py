"""Where token sets live, keyed by (account id, livemode).

Four stores share one protocol (:class:`TokenStore`):

- :class:`FileTokenStore` (default): one JSON file under the user's config folder, 0600 in a 0700
  folder, written durably (``_fileio``); a file or folder that others can read is refused with
  a fix-it message; tokens sealed with AES-GCM when a store key is set (``_crypto``).
- :class:`~._postgres.PostgresTokenStore`: a shared PostgreSQL database, for teams and many
  installs (``STRIPE_OAUTH_NB_TOKEN_STORE=postgresql://...``).
- :class:`KeyringTokenStore`: the OS keyring, where a backend works (a clear error otherwise).
- :class:`MemoryTokenStore`: for tests and throw-away sessions.

Each store also runs the single-flight machinery of a refresh for its own medium:
``locked(account, livemode, timeout)`` holds that key's refresh lock and yields a
:class:`~._refresh.RefreshSlot` (read under the lock, in-flight record, durable save), and
``records()`` lists in-flight records. :func:`open_store` picks the store a setting names.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import stat
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from .._errors import (
    StoreKeyError,
    TokenStoreError,
    needs_extra,
)
from .._fileio import (
    DamagedFile,
    ReservedWrite,
    check_private,
    read_section,
    remove_stale_temps,
    user_path,
)
from .._settings import StoreLocation
from .._tokenset import TokenSet
from ..oauth._attempts import AttemptLog, default_attempts_path
from ._crypto import StoreCipher, open_fields, seal_fields
from ._refresh import (
    InflightFile,
    InflightRecord,
    LocalSlot,
    RefreshSlot,
    lock_file,
    store_key,
    thread_lock,
    write_lock,
)

if TYPE_CHECKING:
    from .._settings import Settings

__all__ = [
    "FileTokenStore",
    "KeyringTokenStore",
    "MemoryTokenStore",
    "TokenStore",
    "open_attempt_log",
    "open_store",
    "store_key",
]

_FORMAT_VERSION = 1
#: Room reserved for the store's next write on top of its size (bytes), before a refresh.
_RESERVE = 16 * 1024


def _lock_name(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:24] + ".lock"


@runtime_checkable
class TokenStore(Protocol):
    """What the token manager needs from a store."""

    @property
    def location(self) -> str:
        """Where the tokens are, for messages (a path, or a DSN without its password)."""

    def load(self, account_id: str, livemode: bool) -> TokenSet | None:
        """The stored set for (account, mode), or ``None``."""

    def all(self) -> list[TokenSet]:
        """Every stored set, oldest authorization first."""

    def save(self, tokens: TokenSet, *, authorized: bool = False) -> None:
        """Store ``tokens`` under its key, durably. ``authorized``: a new authorization, which
        becomes the most recent one (what ``TokenManager.get()`` returns with no arguments)."""

    def delete(self, account_id: str, livemode: bool) -> None:
        """Forget the set for (account, mode), if any."""

    def locked(
        self, account_id: str, livemode: bool, timeout: float
    ) -> AbstractContextManager[RefreshSlot]:
        """Hold the refresh lock of (account, mode) (bounded wait: ``TokenLockTimeoutError``;
        ``timeout=0``: try once) and yield the slot the lock holder works through."""

    def records(self) -> list[InflightRecord]:
        """Every in-flight record (and deauthorized mark)."""


def _ordered(entries: dict[str, Any], key: str, value: Any, authorized: bool) -> None:
    if authorized:
        entries.pop(key, None)
    entries[key] = value


class MemoryTokenStore:
    """Token sets in a dict: nothing survives the process. For tests and throw-away sessions."""

    location = "memory"

    def __init__(self, *tokens: TokenSet) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, TokenSet] = {}
        self._inflight = InflightFile(None)
        for item in tokens:
            self.save(item, authorized=True)

    def load(self, account_id: str, livemode: bool) -> TokenSet | None:
        with self._lock:
            return self._entries.get(store_key(account_id, livemode))

    def all(self) -> list[TokenSet]:
        with self._lock:
            return list(self._entries.values())

    def save(self, tokens: TokenSet, *, authorized: bool = False) -> None:
        with self._lock:
            _ordered(self._entries, store_key(*tokens.key), tokens, authorized)

    def delete(self, account_id: str, livemode: bool) -> None:
        with self._lock:
            self._entries.pop(store_key(account_id, livemode), None)

    def records(self) -> list[InflightRecord]:
        return list(self._inflight.read().values())

    @contextlib.contextmanager
    def locked(self, account_id: str, livemode: bool, timeout: float) -> Iterator[RefreshSlot]:
        key = store_key(account_id, livemode)
        with thread_lock(f"memory:{id(self)}:{key}", timeout, "in memory"):
            slot = LocalSlot(
                key,
                records=self._inflight,
                load=lambda: self.load(account_id, livemode),
                write=lambda tokens, authorized, _reserved: self.save(
                    tokens, authorized=authorized
                ),
                seal=TokenSet.to_json,
                unseal=TokenSet.from_json,
                reserve=lambda: None,
                where="memory",
            )
            try:
                yield slot
            finally:
                slot.release()

    def __repr__(self) -> str:
        return f"MemoryTokenStore({sorted(self._entries)!r})"


class FileTokenStore:
    """A private JSON file: ``{"version": 1, "tokens": {"acct_…:test": {…}, …}}``.

    Created 0600 in a 0700 folder; every write goes through a temp file, fsync, replace and an
    fsync of the folder, under a short write lock (``<file>.write.lock``) so that writers in
    other processes never lose each other's accounts. Reading refuses a file or folder that
    group or others can access (:class:`InsecureStoreError`), and a file that is not what the
    toolkit writes (:class:`TokenStoreError`: it is left as it is, never emptied or rewritten).

    Beside it: ``<file>.locks/`` (one refresh lock per key), ``<file>.inflight`` (in-flight
    records). With ``cipher`` (a :class:`~._crypto.StoreCipher`), tokens are sealed at rest.
    """

    def __init__(self, path: Path | str, *, cipher: StoreCipher | None = None) -> None:
        self.path = path if isinstance(path, Path) else user_path(path)
        if not self.path.name or self.path.name in (".", ".."):
            raise TokenStoreError(
                f"The token store path {str(path)!r} names no file. Give a file path such as "
                "~/.config/stripe-oauth-nb/tokens.json."
            )
        self.cipher = cipher
        self._inflight = InflightFile(
            self.inflight_path, write_lock=self.path.with_name(self.path.name + ".inflight.lock")
        )

    @property
    def location(self) -> str:
        return str(self.path)

    @property
    def lock_dir(self) -> Path:
        """The folder of per-key refresh lock files."""
        return self.path.with_name(self.path.name + ".locks")

    def lock_path(self, account_id: str, livemode: bool) -> Path:
        return self.lock_dir / _lock_name(store_key(account_id, livemode))

    @property
    def inflight_path(self) -> Path:
        return self.path.with_name(self.path.name + ".inflight")

    @property
    def _write_lock_path(self) -> Path:
        return self.path.with_name(self.path.name + ".write.lock")

    # -- reading -------------------------------------------------------------------------
    def _check(self) -> None:
        try:
            info = self.path.stat()
        except OSError:
            info = None
        if info is not None and not stat.S_ISREG(info.st_mode):
            raise TokenStoreError(
                f"The token store {self.path} is not a regular file (a folder, FIFO or device), "
                "so it is neither read nor written. Give a file path such as "
                "~/.config/stripe-oauth-nb/tokens.json."
            )
        from .._settings import default_token_store_path

        check_private(
            self.path.parent, store_name=self.path.name, default_store=default_token_store_path()
        )
        check_private(self.path)

    def _damaged(self, why: str) -> TokenStoreError:
        return TokenStoreError(
            f"The token store {self.path} is damaged ({why}), so its tokens cannot be read. It "
            f"was left as it is: move it aside (mv {self.path} {self.path}.damaged) and "
            "authorize the app again."
        )

    def _read_raw(self) -> dict[str, dict[str, Any]]:
        """The stored entries, checked for shape (tokens still sealed)."""
        self._check()
        try:
            raw = read_section(self.path, "tokens")
        except DamagedFile as exc:
            raise self._damaged(str(exc)) from None
        except OSError as exc:
            raise TokenStoreError(
                f"The token store {self.path} cannot be read ({exc.strerror or exc}). Check that "
                "it is a file of yours (mode 600), or choose another path with "
                "STRIPE_OAUTH_NB_TOKEN_STORE."
            ) from None
        if not all(isinstance(value, dict) for value in raw.values()):
            raise self._damaged("a token set is not an object")
        return raw

    def _open(self, raw: dict[str, dict[str, Any]]) -> dict[str, TokenSet]:
        entries: dict[str, TokenSet] = {}
        for key, value in raw.items():
            try:
                tokens = TokenSet.from_json(open_fields(value, self.cipher, str(self.path)))
                if store_key(*tokens.key) != key:
                    raise ValueError("a set is filed under another account or mode")
            except StoreKeyError:
                raise
            except (ValueError, KeyError, TypeError) as exc:
                raise self._damaged(f"{type(exc).__name__}: {str(exc)[:80]}") from None
            entries[key] = tokens
        return entries

    def _read(self) -> dict[str, TokenSet]:
        return self._open(self._read_raw())

    def load(self, account_id: str, livemode: bool) -> TokenSet | None:
        return self._read().get(store_key(account_id, livemode))

    def all(self) -> list[TokenSet]:
        return list(self._read().values())

    def records(self) -> list[InflightRecord]:
        return list(self._inflight.read().values())

    # -- writing -------------------------------------------------------------------------
    def _write_locked(self) -> contextlib.AbstractContextManager[None]:
        return write_lock(self._write_lock_path)

    def _write(self, entries: dict[str, TokenSet], reserved: ReservedWrite | None = None) -> None:
        payload: dict[str, Any] = {
            "version": _FORMAT_VERSION,
            "tokens": {
                key: seal_fields(tokens.to_json(), self.cipher) for key, tokens in entries.items()
            },
        }
        text = json.dumps(payload, indent=2) + "\n"
        try:
            (reserved or ReservedWrite(self.path, 0)).commit(text)
        except OSError as exc:
            raise TokenStoreError(
                f"The token store {self.path} could not be written ({exc.strerror or exc}); it "
                "still holds what it held before. Free some space or fix the folder's permissions."
            ) from None

    def _save(
        self, tokens: TokenSet, authorized: bool, reserved: ReservedWrite | None = None
    ) -> None:
        try:
            with self._write_locked():
                entries = self._read()
                remove_stale_temps(self.path)  # dead writers' temp files hold secrets
                remove_stale_temps(self.inflight_path)
                _ordered(entries, store_key(*tokens.key), tokens, authorized)
                self._write(entries, reserved)
                reserved = None
        finally:
            if reserved is not None:
                reserved.discard()

    def save(self, tokens: TokenSet, *, authorized: bool = False) -> None:
        self._save(tokens, authorized)

    def save_many(self, sets: list[TokenSet]) -> None:
        """Store many new authorizations in one write (imports, benchmarks), in this order."""
        with self._write_locked():
            entries = self._read()
            for tokens in sets:
                _ordered(entries, store_key(*tokens.key), tokens, True)
            self._write(entries)

    def delete(self, account_id: str, livemode: bool) -> None:
        with self._write_locked():
            entries = self._read()
            if entries.pop(store_key(account_id, livemode), None) is not None:
                self._write(entries)

    def rekey(self) -> int:
        """Seal every set again with the first key (or in clear without a cipher); how many."""
        with self._write_locked():
            entries = self._read()
            self._write(entries)
        return len(entries)

    def _reserve(self) -> ReservedWrite:
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            size = 0
        return ReservedWrite(self.path, size + _RESERVE)

    @contextlib.contextmanager
    def locked(self, account_id: str, livemode: bool, timeout: float) -> Iterator[RefreshSlot]:
        key = store_key(account_id, livemode)
        self._check()  # refuse an insecure folder before a lock file is made in it
        with lock_file(self.lock_path(account_id, livemode), timeout):
            slot = LocalSlot(
                key,
                records=self._inflight,
                load=lambda: self.load(account_id, livemode),
                write=self._save,
                seal=lambda tokens: seal_fields(tokens.to_json(), self.cipher),
                unseal=lambda data: TokenSet.from_json(
                    open_fields(data, self.cipher, str(self.inflight_path))
                ),
                reserve=self._reserve,
                where=str(self.path.parent),
            )
            try:
                yield slot
            finally:
                slot.release()

    def __repr__(self) -> str:
        return f"FileTokenStore({str(self.path)!r})"


class KeyringTokenStore:
    """Token sets in the OS keyring (service ``stripe-oauth-nb``), one entry per key.

    An index entry remembers which keys exist and their order. The refresh lock and in-flight
    record stay in files in ``folder`` (default: the config folder of the file store), as the
    keyring cannot lock. Raises :class:`TokenStoreError` at construction when no keyring backend
    works (headless Linux without Secret Service, for example).
    """

    _INDEX = "__index__"

    def __init__(
        self,
        service: str = "stripe-oauth-nb",
        *,
        folder: Path | None = None,
        cipher: StoreCipher | None = None,
    ) -> None:
        from .._settings import default_token_store_path

        self.service = service
        self.folder = folder if folder is not None else default_token_store_path().parent
        #: Seals a received pair kept in the in-flight file (the keyring itself is encrypted).
        self.cipher = cipher
        self._keyring = self._backend()
        self._inflight = InflightFile(
            self.inflight_path, write_lock=self.folder / "keyring.inflight.lock"
        )

    @property
    def location(self) -> str:
        return f"the OS keyring (service {self.service})"

    def _backend(self) -> Any:
        try:
            import keyring
            import keyring.errors
        except ImportError:
            raise TokenStoreError(
                needs_extra(
                    "The keyring store", "keyring", otherwise=", or use the default file store"
                )
            ) from None
        backend = keyring.get_keyring()
        name = f"{type(backend).__module__}.{type(backend).__name__}"
        if name.startswith(("keyring.backends.fail.", "keyring.backends.null.")):
            raise TokenStoreError(
                f"No working OS keyring backend was found ({name}). Unlock or install one "
                "(macOS Keychain, Windows Credential Locker, Secret Service on Linux), or use the "
                "default file store."
            )
        try:
            backend.get_password(self.service, self._INDEX)
        except keyring.errors.KeyringError as exc:
            raise TokenStoreError(
                f"The OS keyring ({name}) does not answer ({type(exc).__name__}). Unlock it, or "
                "use the default file store."
            ) from None
        return backend

    def lock_path(self, account_id: str, livemode: bool) -> Path:
        return self.folder / "keyring.locks" / _lock_name(store_key(account_id, livemode))

    @property
    def inflight_path(self) -> Path:
        return self.folder / "keyring.inflight"

    def records(self) -> list[InflightRecord]:
        return list(self._inflight.read().values())

    @contextlib.contextmanager
    def locked(self, account_id: str, livemode: bool, timeout: float) -> Iterator[RefreshSlot]:
        with lock_file(self.lock_path(account_id, livemode), timeout):
            slot = LocalSlot(
                store_key(account_id, livemode),
                records=self._inflight,
                load=lambda: self.load(account_id, livemode),
                write=lambda tokens, authorized, _reserved: self.save(
                    tokens, authorized=authorized
                ),
                seal=lambda tokens: seal_fields(tokens.to_json(), self.cipher),
                unseal=lambda data: TokenSet.from_json(
                    open_fields(data, self.cipher, str(self.inflight_path))
                ),
                reserve=lambda: None,
                where=self.location,
            )
            try:
                yield slot
            finally:
                slot.release()

    def _index(self) -> list[str]:
        raw = self._keyring.get_password(self.service, self._INDEX)
        if not raw:
            return []
        try:
            keys = json.loads(raw)
        except ValueError:
            return []
        return [str(key) for key in keys] if isinstance(keys, list) else []

    def load(self, account_id: str, livemode: bool) -> TokenSet | None:
        raw = self._keyring.get_password(self.service, store_key(account_id, livemode))
        if not raw:
            return None
        try:
            return TokenSet.from_json(json.loads(raw))
        except (ValueError, KeyError, TypeError):
            raise TokenStoreError(
                f"The keyring entry {store_key(account_id, livemode)} of {self.service} is "
                "damaged. Delete it in your keyring tool and authorize the app again."
            ) from None

    def all(self) -> list[TokenSet]:
        found: list[TokenSet] = []
        for key in self._index():
            account_id, _, mode = key.rpartition(":")
            tokens = self.load(account_id, mode == "live")
            if tokens is not None:
                found.append(tokens)
        return found

    def save(self, tokens: TokenSet, *, authorized: bool = False) -> None:
        key = store_key(*tokens.key)
        # The entry first, then the index: a crash in between leaves an entry that
        # ``load`` finds and ``all`` misses until the next save, never an index without data.
        self._keyring.set_password(self.service, key, json.dumps(tokens.to_json()))
        index = self._index()
        if authorized or key not in index:
            index = [k for k in index if k != key] + [key]
            self._keyring.set_password(self.service, self._INDEX, json.dumps(index))

    def delete(self, account_id: str, livemode: bool) -> None:
        import keyring.errors

        key = store_key(account_id, livemode)
        with contextlib.suppress(keyring.errors.PasswordDeleteError):
            self._keyring.delete_password(self.service, key)
        index = self._index()
        if key in index:
            index.remove(key)
            self._keyring.set_password(self.service, self._INDEX, json.dumps(index))

    def __repr__(self) -> str:
        return f"KeyringTokenStore(service={self.service!r})"


def open_attempt_log(settings: Settings) -> AttemptLog:
    """The shared attempt log of ``settings``: the token store's database when it is
    PostgreSQL, else ``attempts.json`` beside the token file (:func:`default_attempts_path`).

    It lives here, beside :func:`open_store`, because where the attempts go follows the token
    store; the attempt log itself knows nothing of stores."""
    if settings.token_store_dsn is not None:
        from ._postgres import PostgresTokenStore

        cipher = StoreCipher.from_setting(settings.token_store_key)
        store = PostgresTokenStore(settings.token_store_dsn.reveal(), cipher=cipher)
        return AttemptLog(records=store.attempt_records())
    return AttemptLog(default_attempts_path(settings))


def open_store(settings: Settings, location: str | StoreLocation | None = None) -> TokenStore:
    """The store ``settings`` name (or ``location``: a file path or a ``postgresql://`` DSN, read
    here when given as text), with the cipher of ``STRIPE_OAUTH_NB_STORE_KEY`` when one is set."""
    cipher = StoreCipher.from_setting(settings.token_store_key)
    if isinstance(location, str):
        location = StoreLocation.read(location, what="The token store path")
    if location is not None:
        if location.dsn is not None:
            from ._postgres import PostgresTokenStore

            return PostgresTokenStore(location.dsn.reveal(), cipher=cipher)
        assert location.path is not None  # a StoreLocation holds one of the two
        return FileTokenStore(location.path, cipher=cipher)
    if settings.token_store_dsn is not None:
        from ._postgres import PostgresTokenStore

        return PostgresTokenStore(settings.token_store_dsn.reveal(), cipher=cipher)
    return FileTokenStore(settings.token_store_path, cipher=cipher)
