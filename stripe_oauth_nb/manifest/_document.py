"""The manifest document: load, create, edit and save ``stripe-app.json``.

A :class:`Manifest` wraps the parsed JSON object (a plain ``dict``, whose insertion order is the
file's key order). Edits change only what they name, so a load/save round trip keeps key order
and every untouched value. Output is stable: two-space indentation, UTF-8, a trailing newline.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._errors import ManifestError, ManifestSyntaxError
from .._fileio import atomic_write_text
from ._jsontext import parse_text, read_text

if TYPE_CHECKING:
    from ._findings import Finding

__all__ = ["DEFAULT_CSP_PURPOSE", "KEY_ORDER", "Manifest"]

#: The order ``stripe apps create`` writes, then the optional fields; new keys go in this order.
KEY_ORDER = (
    "$schema",
    "id",
    "version",
    "name",
    "icon",
    "permissions",
    "stripe_api_access_type",
    "distribution_type",
    "sandbox_install_compatible",
    "allowed_redirect_uris",
    "post_install_action",
    "ui_extension",
    "constants",
)

DEFAULT_CSP_PURPOSE = "This app does not load content from other sites."


class Manifest:
    """A ``stripe-app.json`` document.

    ``data`` is the live JSON object; the methods below edit it in place. ``path`` is where the
    document was loaded from or last saved to (it anchors the relative ``icon`` path).
    """

    def __init__(self, data: Mapping[str, Any] | None = None, *, path: Path | None = None):
        if data is not None and not isinstance(data, Mapping):
            raise ManifestError(
                f"A manifest is a JSON object ({{ … }}), not a {type(data).__name__}: wrap the "
                "fields in braces."
            )
        self.data: dict[str, Any] = dict(data) if data is not None else {}
        self.path = Path(path) if path is not None else None

    # --- reading and writing ---------------------------------------------------------------

    @classmethod
    def loads(cls, text: str, *, lenient: bool = False, path: Path | None = None) -> Manifest:
        """Parse manifest text.

        Strict by default: comments, trailing commas, duplicate keys and bad JSON raise
        :class:`ManifestSyntaxError` with the line and column of the first one. With
        ``lenient=True`` comments and trailing commas are dropped (saving then writes clean
        JSON); text that is still not JSON raises.
        """
        parsed = parse_text(text)
        blocking = [
            f
            for f in parsed.findings
            if not (lenient and f.code in ("json.comment", "json.trailing-comma"))
        ]
        if blocking or parsed.data is None:
            first = blocking[0]
            where = f" (line {first.line}, column {first.column})" if first.line else ""
            more = f" {len(blocking) - 1} more problem(s) follow." if len(blocking) > 1 else ""
            name = f"{path}: " if path else ""
            raise ManifestSyntaxError(
                f"{name}{first.message}{where} {first.fix}{more}",
                line=first.line or 1,
                column=first.column or 1,
            )
        return cls(parsed.data, path=path)

    @classmethod
    def load(cls, path: str | Path, *, lenient: bool = False) -> Manifest:
        """Read ``path`` (see :meth:`loads` for ``lenient``)."""
        path = Path(path)
        return cls.loads(read_text(path), lenient=lenient, path=path)

    @classmethod
    def new(
        cls,
        *,
        name: str,
        id: str,
        redirect_uris: Iterable[str] = (),
        permissions: Mapping[str, str] | None = None,
        version: str = "0.0.1",
        icon: str = "./icon.png",
        csp_purpose: str = DEFAULT_CSP_PURPOSE,
    ) -> Manifest:
        """An OAuth-ready manifest: public distribution, oauth access, no dashboard views."""
        data: dict[str, Any] = {
            "id": id,
            "version": version,
            "name": name,
            "icon": icon,
            "permissions": [
                {"permission": p, "purpose": purpose} for p, purpose in (permissions or {}).items()
            ],
            "stripe_api_access_type": "oauth",
            "distribution_type": "public",
            "allowed_redirect_uris": list(redirect_uris),
            "ui_extension": {
                "views": [],
                "content_security_policy": {"purpose": csp_purpose},
            },
        }
        return cls(data)

    def to_json(self) -> str:
        """The document as stable JSON text: two-space indent, key order kept, final newline."""
        return json.dumps(self.data, indent=2, ensure_ascii=False) + "\n"

    def to_dict(self) -> dict[str, Any]:
        """A deep copy of the document."""
        return copy.deepcopy(self.data)

    def save(self, path: str | Path | None = None) -> Path:
        """Write the document atomically (a crash leaves the old file or the new one, whole)."""
        target = Path(path) if path is not None else self.path
        if target is None:
            raise ManifestError(
                "This manifest has no file yet: pass a path, e.g. manifest.save('stripe-app.json')."
            )
        try:
            atomic_write_text(target, self.to_json(), private=False)
        except OSError as exc:
            raise ManifestError(
                f"Cannot write {target} ({exc.strerror or exc}). Check the folder exists and "
                "is writable."
            ) from exc
        self.path = target
        return target

    def check(self, *, base_dir: Path | None = None, oauth: bool = True) -> list[Finding]:
        """Every problem found in this document (see :func:`stripe_oauth_nb.manifest.check`)."""
        from ._checks import check

        return check(self, base_dir=base_dir, oauth=oauth)

    # --- generic field edits -----------------------------------------------------------------

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    def set(self, key: str, value: Any) -> None:
        """Set a top-level field; a new key goes where ``stripe apps create`` would put it."""
        if key in self.data:
            self.data[key] = value
            return
        rank = {k: i for i, k in enumerate(KEY_ORDER)}
        if key not in rank:
            self.data[key] = value
            return
        items = list(self.data.items())
        position = len(items)
        for index, (existing, _) in enumerate(items):
            if rank.get(existing, -1) > rank[key]:
                position = index
                break
        items.insert(position, (key, value))
        self.data = dict(items)

    def remove(self, key: str) -> None:
        """Remove a top-level field (no error if it is absent)."""
        self.data.pop(key, None)

    def rename_key(self, old: str, new: str) -> None:
        """Rename a top-level key in place (its position and value stay): fixes a misspelling."""
        if old not in self.data:
            raise ManifestError(f"There is no `{old}` to rename; the keys are {list(self.data)}.")
        if new in self.data and new != old:
            raise ManifestError(
                f"`{new}` already exists: remove one of them first (manifest.remove({old!r}))."
            )
        self.data = {(new if k == old else k): v for k, v in self.data.items()}

    # --- redirect URIs -----------------------------------------------------------------------

    @property
    def redirect_uris(self) -> list[str]:
        uris = self.data.get("allowed_redirect_uris")
        return [u for u in uris if isinstance(u, str)] if isinstance(uris, list) else []

    def _uri_list(self) -> list[Any]:
        uris = self.data.get("allowed_redirect_uris")
        if uris is None:
            uris = []
            self.set("allowed_redirect_uris", uris)
        if not isinstance(uris, list):
            raise ManifestError(
                "`allowed_redirect_uris` is not a list: set it to a list first, e.g. "
                "manifest.set('allowed_redirect_uris', ['https://example.com/callback'])."
            )
        return uris

    def add_redirect_uri(self, uri: str, *, first: bool = False) -> None:
        """Add a redirect URI (at the end, or first to make it the default); no duplicates."""
        uris = self._uri_list()
        if uri in uris:
            if first:
                uris.remove(uri)
                uris.insert(0, uri)
            return
        if first:
            uris.insert(0, uri)
        else:
            uris.append(uri)

    def remove_redirect_uri(self, uri: str) -> None:
        """Remove every copy of ``uri``."""
        uris = self._uri_list()
        if uri not in uris:
            raise ManifestError(f"{uri!r} is not in allowed_redirect_uris ({self.redirect_uris}).")
        uris[:] = [u for u in uris if u != uri]

    # --- permissions -------------------------------------------------------------------------

    @property
    def permissions(self) -> dict[str, str]:
        """``{permission: purpose}`` in document order (entries that are not objects skipped)."""
        found: dict[str, str] = {}
        entries = self.data.get("permissions")
        for entry in entries if isinstance(entries, list) else []:
            if isinstance(entry, dict) and isinstance(entry.get("permission"), str):
                purpose = entry.get("purpose")
                found[entry["permission"]] = purpose if isinstance(purpose, str) else ""
        return found

    def _permission_list(self) -> list[Any]:
        entries = self.data.get("permissions")
        if entries is None:
            entries = []
            self.set("permissions", entries)
        if not isinstance(entries, list):
            raise ManifestError(
                "`permissions` is not a list: set it to [] first (manifest.set('permissions', []))."
            )
        return entries

    def add_permission(self, name: str, purpose: str) -> None:
        """Add a permission with its purpose, or update the purpose if it is already there."""
        entries = self._permission_list()
        for entry in entries:
            if isinstance(entry, dict) and entry.get("permission") == name:
                entry["purpose"] = purpose
                return
        entries.append({"permission": name, "purpose": purpose})

    def remove_permission(self, name: str) -> None:
        """Remove every entry for ``name``."""
        entries = self._permission_list()
        kept = [e for e in entries if not (isinstance(e, dict) and e.get("permission") == name)]
        if len(kept) == len(entries):
            raise ManifestError(
                f"{name!r} is not among the permissions ({', '.join(self.permissions) or 'none'})."
            )
        entries[:] = kept

    # --- dunder ------------------------------------------------------------------------------

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Manifest):
            return NotImplemented
        return list(self.data.items()) == list(other.data.items())

    __hash__ = None  # type: ignore[assignment]  # mutable: not hashable

    def __repr__(self) -> str:
        where = f", path={str(self.path)!r}" if self.path else ""
        return f"Manifest(id={self.data.get('id')!r}, name={self.data.get('name')!r}{where})"
