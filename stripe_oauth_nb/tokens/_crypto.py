"""Encryption at rest of stored tokens: AES-256-GCM from ``cryptography``, nothing home-made.

With ``STRIPE_OAUTH_NB_STORE_KEY`` set, every store that writes tokens (the file and
PostgreSQL stores, their in-flight records and local spool) stores the access and refresh token
of each set as ``enc:v1:<key id>:<base64 nonce+ciphertext+tag>``. The associated data binds each
value to its account, mode and field, so a sealed value cannot be moved to another row or field
without the tag failing. Account ids, modes and times stay readable (listing and "which sets are
due" need no key).

The setting holds one key or a comma-separated list ``NEW,OLD,...``: the first seals, all of
them open. That is key rotation: put the new key first, run ``stripe-oauth-nb tokens rekey``
(re-seals every set in place), then drop the old key. ``STRIPE_OAUTH_NB_STORE_KEY=keyring``
reads the list from the OS keyring instead (service ``stripe-oauth-nb``, user ``store-key``).
A key is 32 random bytes, URL-safe base64 (``stripe-oauth-nb tokens new-key`` makes one).

A wrong key never changes anything: opening fails with :class:`StoreKeyError` before any write.
The key id is the first 8 hex digits of a SHA-256 over a fixed label and the key: it tells keys
apart in messages and reveals nothing about the key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from collections.abc import Sequence
from typing import Any

from .._errors import (
    StoreKeyError,
    needs_extra,
)
from .._masking import Secret

__all__ = [
    "KEYRING_SERVICE",
    "KEYRING_USER",
    "PREFIX",
    "StoreCipher",
    "is_sealed",
    "new_key",
]

PREFIX = "enc:v1:"
KEYRING_SERVICE = "stripe-oauth-nb"
KEYRING_USER = "store-key"
_SETTING = "STRIPE_OAUTH_NB_STORE_KEY"
_FIELDS = ("access_token", "refresh_token")


def new_key() -> str:
    """A fresh key for ``STRIPE_OAUTH_NB_STORE_KEY`` (32 random bytes, URL-safe base64)."""
    return base64.urlsafe_b64encode(os.urandom(32)).decode("ascii")


def key_id(key: bytes) -> str:
    return hashlib.sha256(b"stripe-oauth-nb store key id\x00" + key).hexdigest()[:8]


def is_sealed(value: object) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX)


def _decode_key(text: str, where: str) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(text.strip().encode("ascii") + b"==")
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raw = b""
    if len(raw) != 32:
        raise StoreKeyError(
            f"{where} holds something that is not a store key (a key is 32 random bytes in "
            "URL-safe base64, 44 characters). Make one with `stripe-oauth-nb tokens new-key`."
        )
    return raw


def _keyring_keys() -> str:
    try:
        import keyring
        import keyring.errors
    except ImportError:
        raise StoreKeyError(needs_extra(f"{_SETTING}=keyring", "keyring")) from None
    try:
        value = keyring.get_password(KEYRING_SERVICE, KEYRING_USER)
    except keyring.errors.KeyringError as exc:
        raise StoreKeyError(
            f"{_SETTING}=keyring, but the OS keyring does not answer ({type(exc).__name__}). "
            "Unlock it, or put the key in the setting itself."
        ) from None
    if not value:
        raise StoreKeyError(
            f"{_SETTING}=keyring, but the keyring holds no {KEYRING_USER!r} for "
            f"{KEYRING_SERVICE!r}. Store one with `stripe-oauth-nb tokens new-key --keyring`."
        )
    return value


class StoreCipher:
    """Seals and opens token values with a list of keys (the first one seals)."""

    def __init__(self, keys: Sequence[bytes], *, from_keyring: bool = False) -> None:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        if not keys:
            raise StoreKeyError(f"{_SETTING} is set but holds no key.")
        self._keys = {key_id(key): AESGCM(key) for key in keys}
        self.primary = key_id(keys[0])
        self.from_keyring = from_keyring

    @classmethod
    def from_setting(cls, setting: Secret | str | None) -> StoreCipher | None:
        """The cipher of a ``STRIPE_OAUTH_NB_STORE_KEY`` value; ``None`` when unset."""
        if setting is None:
            return None
        text = setting.reveal() if isinstance(setting, Secret) else setting
        if not text.strip():
            return None
        from_keyring = text.strip().lower() == "keyring"
        where = f"The keyring entry {KEYRING_USER!r}" if from_keyring else _SETTING
        if from_keyring:
            text = _keyring_keys()
        parts = [part for part in text.split(",") if part.strip()]
        return cls([_decode_key(part, where) for part in parts], from_keyring=from_keyring)

    @property
    def key_ids(self) -> list[str]:
        return list(self._keys)

    def __repr__(self) -> str:
        return f"StoreCipher(key ids {', '.join(self._keys)})"

    # -- values --------------------------------------------------------------------------
    def seal(self, plain: str, context: str) -> str:
        nonce = os.urandom(12)
        sealed = self._keys[self.primary].encrypt(nonce, plain.encode(), context.encode())
        blob = base64.urlsafe_b64encode(nonce + sealed).decode("ascii")
        return f"{PREFIX}{self.primary}:{blob}"

    def open(self, value: str, context: str, where: str) -> str:
        from cryptography.exceptions import InvalidTag

        kid, _, blob = value[len(PREFIX) :].partition(":")
        aead = self._keys.get(kid)
        if aead is None:
            raise StoreKeyError(
                f"The tokens in {where} were encrypted with the key {kid}, which is not among "
                f"your keys ({', '.join(self._keys)}). Set {_SETTING} to the key they were "
                "sealed with (or list it after the new one, NEW,OLD, while rotating). Nothing "
                "was changed."
            )
        try:
            raw = base64.urlsafe_b64decode(blob.encode("ascii"))
            plain = aead.decrypt(raw[:12], raw[12:], context.encode())
            return plain.decode("utf-8")
        except (InvalidTag, ValueError, binascii.Error, UnicodeError):
            raise StoreKeyError(
                f"A sealed token in {where} does not open with key {kid}: it was damaged or "
                "moved from another account. Nothing was changed; authorize that account again."
            ) from None

    def needs_reseal(self, value: object) -> bool:
        """Whether ``value`` is stored in clear or under an older key."""
        return not (is_sealed(value) and str(value)[len(PREFIX) :].startswith(self.primary + ":"))


def _context(data: dict[str, Any], name: str) -> str:
    mode = "live" if data.get("livemode") is True else "test"
    return f"stripe-oauth-nb:{data.get('account_id')}:{mode}:{name}"


def seal_fields(data: dict[str, Any], cipher: StoreCipher | None) -> dict[str, Any]:
    """A token set's stored form with its tokens sealed (unchanged without a cipher)."""
    if cipher is None:
        return data
    sealed = dict(data)
    for name in _FIELDS:
        sealed[name] = cipher.seal(str(data[name]), _context(data, name))
    return sealed


def open_fields(data: dict[str, Any], cipher: StoreCipher | None, where: str) -> dict[str, Any]:
    """The stored form with sealed tokens opened. Clear values pass (a store from before a key
    was set; the next write seals them). Sealed values without a key: :class:`StoreKeyError`."""
    if not isinstance(data, dict):
        return data
    opened = dict(data)
    for name in _FIELDS:
        value = data.get(name)
        if not is_sealed(value):
            continue
        if cipher is None:
            kid = str(value)[len(PREFIX) :].partition(":")[0]
            raise StoreKeyError(
                f"The tokens in {where} are encrypted (key {kid}) and no key is set. Set "
                f"{_SETTING} to that key (or `keyring` if it is kept there). Nothing was changed."
            )
        opened[name] = cipher.open(str(value), _context(data, name), where)
    return opened


def needs_reseal(data: dict[str, Any], cipher: StoreCipher | None) -> bool:
    """Whether a stored form would change if sealed again with the primary key."""
    if cipher is None:
        return any(is_sealed(data.get(name)) for name in _FIELDS)
    return any(cipher.needs_reseal(data.get(name)) for name in _FIELDS)


def rewrite_keyring_keys(*, prepend: str | None = None, keep_first_only: bool = False) -> None:
    """Change the key list kept in the OS keyring: put ``prepend`` first, or keep only the
    first key (after ``tokens rekey``)."""
    try:
        import keyring
        import keyring.errors
    except ImportError:
        raise StoreKeyError(
            needs_extra("Keeping the store key in the keyring", "keyring")
        ) from None
    try:
        current = keyring.get_password(KEYRING_SERVICE, KEYRING_USER) or ""
        keys = [part.strip() for part in current.split(",") if part.strip()]
        if prepend is not None:
            _decode_key(prepend, "The new key")
            keys = [prepend, *keys]
        if keep_first_only:
            keys = keys[:1]
        keyring.set_password(KEYRING_SERVICE, KEYRING_USER, ",".join(keys))
    except keyring.errors.KeyringError as exc:
        raise StoreKeyError(
            f"The OS keyring does not answer ({type(exc).__name__}): unlock it, or keep the key "
            f"in {_SETTING} instead."
        ) from None
