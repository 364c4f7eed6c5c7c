"""An app as it stands after "upload": its id, name, one OAuth client id per mode, the redirect
URIs it allows and the permissions it asks for (with their purposes).

The one record of a registered app: the sandbox keeps its registrations as these, and the
client side (``manifest.register_with_sandbox``) reads the sandbox's answer into one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ._errors import SandboxError
from ._modes import MODES, Mode

__all__ = ["RegisteredApp"]


@dataclass(frozen=True, eq=False)
class RegisteredApp:
    """A registered app: one client id per mode."""

    id: str
    name: str
    client_ids: Mapping[Mode, str]
    redirect_uris: tuple[str, ...]
    permissions: tuple[str, ...]
    purposes: Mapping[str, str] = field(default_factory=dict, repr=False)

    def client_id(self, mode: Mode = "test") -> str:
        return self.client_ids[mode]

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "client_ids": dict(self.client_ids),
            "redirect_uris": list(self.redirect_uris),
            "permissions": list(self.permissions),
            "purposes": dict(self.purposes),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RegisteredApp:
        """Read a registration as the sandbox answers it (``POST /_sandbox/apps``)."""
        try:
            ids = data["client_ids"]
            return cls(
                id=str(data.get("id", "")),
                name=str(data["name"]),
                client_ids={mode: str(ids[mode]) for mode in MODES},
                redirect_uris=tuple(str(u) for u in data.get("redirect_uris", ())),
                permissions=tuple(str(p) for p in data.get("permissions", ())),
                purposes={str(k): str(v) for k, v in dict(data.get("purposes") or {}).items()},
            )
        except (KeyError, AttributeError, TypeError, ValueError) as exc:
            raise SandboxError(
                f"The sandbox answered without the app's client ids ({type(exc).__name__}); is "
                "the URL a stripe-oauth-nb sandbox?"
            ) from None
