"""Where token sets live, keyed by (account id, livemode).

Three stores share one small protocol (:class:`TokenStore`):

- :class:`FileTokenStore` (default): one JSON file under the user's config folder, 0600 in a 0700
  folder, written durably (``_fileio.atomic_write_text``); a file or folder that others can read
  is refused with a fix-it message.
- :class:`KeyringTokenStore`: the OS keyring, where a backend works (a clear error otherwise).
- :class:`MemoryTokenStore`: for tests and throw-away sessions.

Stores also say where the refresh lock and the in-flight record live (``lock_path``,
``inflight_path``; ``None`` for in-memory state), so :class:`~._manager.TokenManager` can
single-flight refreshes across processes.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from .._errors import TokenStoreError
from .._fileio import atomic_write_text, check_private, ensure_private_dir
from .._tokenset import TokenSet

__all__ = [
    "FileTokenStore",
    "KeyringTokenStore",
    "MemoryTokenStore",
    "TokenStore",
    "store_key",
]

_FORMAT_VERSION = 1
#: How long ``save`` waits for another writer of the same file (seconds).
_WRITE_LOCK_TIMEOUT = 30.0


def store_key(account_id: str, livemode: bool) -> str:
    """The string form of a store key: ``acct_…:test`` or ``acct_…:live``."""
    return f"{account_id}:{'live' if livemode else 'test'}"


@runtime_checkable
class TokenStore(Protocol):
    """What the token manager needs from a store."""

    @property
    def lock_path(self) -> Path | None:
        """The cross-process refresh lock file; ``None``: the store lives in this process only."""

    @property
    def inflight_path(self) -> Path | None:
        """The in-flight refresh record file; ``None``: kept in memory."""

    def load(self, account_id: str, livemode: bool) -> TokenSet | None:
        """The stored set for (account, mode), or ``None``."""

    def all(self) -> list[TokenSet]:
        """Every stored set, oldest authorization first."""

    def save(self, tokens: TokenSet, *, authorized: bool = False) -> None:
        """Store ``tokens`` under its key, durably. ``authorized``: a new authorization, which
        becomes the most recent one (what ``TokenManager.get()`` returns with no arguments)."""

    def delete(self, account_id: str, livemode: bool) -> None:
        """Forget the set for (account, mode), if any."""


def _ordered(entries: dict[str, TokenSet], tokens: TokenSet, authorized: bool) -> None:
    key = store_key(*tokens.key)
    if authorized:
        entries.pop(key, None)
    entries[key] = tokens


class MemoryTokenStore:
    """Token sets in a dict: nothing survives the process. For tests and throw-away sessions."""

    lock_path: Path | None = None
    inflight_path: Path | None = None

    def __init__(self, *tokens: TokenSet) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, TokenSet] = {}
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
            _ordered(self._entries, tokens, authorized)

    def delete(self, account_id: str, livemode: bool) -> None:
        with self._lock:
            self._entries.pop(store_key(account_id, livemode), None)

    def __repr__(self) -> str:
        return f"MemoryTokenStore({sorted(self._entries)!r})"


class FileTokenStore:
    """A private JSON file: ``{"version": 1, "tokens": {"acct_…:test": {…}, …}}``.

    Created 0600 in a 0700 folder; every write goes through a temp file, fsync, replace and an
    fsync of the folder, under a short write lock (``<file>.write.lock``) so that writers in
    other processes never lose each other's accounts. Reading refuses a file or folder that
    group or others can access (:class:`InsecureStoreError`, with the ``chmod`` that fixes it).
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path).expanduser()

    @property
    def lock_path(self) -> Path:
        return self.path.with_name(self.path.name + ".lock")

    @property
    def inflight_path(self) -> Path:
        return self.path.with_name(self.path.name + ".inflight")

    @property
    def _write_lock_path(self) -> Path:
        return self.path.with_name(self.path.name + ".write.lock")

    # -- reading -------------------------------------------------------------------------
    def _check(self) -> None:
        check_private(self.path.parent)
        check_private(self.path)

    def _read(self) -> dict[str, TokenSet]:
        self._check()
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise TokenStoreError(
                f"The token store {self.path} cannot be read ({exc.strerror}). Check the file's "
                "owner and permissions (it should be yours, mode 600)."
            ) from None
        try:
            data = json.loads(text)
            raw = data["tokens"]
            if not isinstance(raw, dict):
                raise TypeError("tokens is not an object")
            return {key: TokenSet.from_json(value) for key, value in raw.items()}
        except (ValueError, KeyError, TypeError) as exc:
            raise TokenStoreError(
                f"The token store {self.path} is damaged ({type(exc).__name__}), so its tokens "
                "cannot be read. Move it aside and authorize the app again."
            ) from None

    def load(self, account_id: str, livemode: bool) -> TokenSet | None:
        return self._read().get(store_key(account_id, livemode))

    def all(self) -> list[TokenSet]:
        return list(self._read().values())

    # -- writing -------------------------------------------------------------------------
    @contextlib.contextmanager
    def _write_locked(self) -> Iterator[None]:
        from filelock import FileLock, Timeout

        try:
            ensure_private_dir(self.path.parent)
        except OSError as exc:
            raise TokenStoreError(
                f"The folder {self.path.parent} cannot be created ({exc.strerror}). Choose "
                "another place with STRIPE_OAUTH_NB_TOKEN_STORE."
            ) from None
        lock = FileLock(str(self._write_lock_path), timeout=_WRITE_LOCK_TIMEOUT, mode=0o600)
        try:
            lock.acquire()
        except Timeout:
            raise TokenStoreError(
                f"Another process kept {self._write_lock_path} locked for "
                f"{_WRITE_LOCK_TIMEOUT:.0f} s. If no other stripe-oauth-nb process is running, "
                "delete that file and try again."
            ) from None
        try:
            yield
        finally:
            lock.release()

    def _remove_leftovers(self) -> None:
        """Temp files of writers that died before their replace (they hold secrets)."""
        for leftover in self.path.parent.glob(f".{self.path.name}.*.tmp"):
            with contextlib.suppress(OSError):
                leftover.unlink()

    def _write(self, entries: dict[str, TokenSet]) -> None:
        payload: dict[str, Any] = {
            "version": _FORMAT_VERSION,
            "tokens": {key: tokens.to_json() for key, tokens in entries.items()},
        }
        try:
            atomic_write_text(self.path, json.dumps(payload, indent=2) + "\n")
        except OSError as exc:
            raise TokenStoreError(
                f"The token store {self.path} could not be written ({exc.strerror}). Free some "
                "space or fix the folder's permissions; nothing was lost yet."
            ) from None

    def save(self, tokens: TokenSet, *, authorized: bool = False) -> None:
        with self._write_locked():
            entries = self._read()
            self._remove_leftovers()
            _ordered(entries, tokens, authorized)
            self._write(entries)

    def delete(self, account_id: str, livemode: bool) -> None:
        with self._write_locked():
            entries = self._read()
            if entries.pop(store_key(account_id, livemode), None) is not None:
                self._write(entries)

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

    def __init__(self, service: str = "stripe-oauth-nb", *, folder: Path | None = None) -> None:
        from .._settings import default_token_store_path

        self.service = service
        self.folder = folder if folder is not None else default_token_store_path().parent
        self._keyring = self._backend()

    def _backend(self) -> Any:
        try:
            import keyring
            import keyring.errors
        except ImportError:
            raise TokenStoreError(
                "The keyring store needs the keyring package: pip install 'stripe-oauth-nb"
                "[keyring]', or use the default file store."
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

    @property
    def lock_path(self) -> Path:
        return self.folder / "keyring.lock"

    @property
    def inflight_path(self) -> Path:
        return self.folder / "keyring.inflight"

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
