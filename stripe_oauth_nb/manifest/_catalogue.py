"""The permission catalogue: every permission name Stripe publishes, as data.

``permissions.json`` (beside this module) merges the names in Stripe's JSON schema with the names
on Stripe's permissions page (docs.stripe.com/stripe-apps/reference/permissions). The two lists
disagree both ways, and the schema has typos, so the catalogue keeps where each name comes from.
Update the JSON file when Stripe adds permissions; no code changes are needed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Literal

from ._suggest import closest

__all__ = ["Permission", "PermissionCatalogue", "PermissionGroup", "load_catalogue"]

Access = Literal["read", "write"]


@dataclass(frozen=True)
class Permission:
    """One permission name, the object it covers and where Stripe lists it."""

    name: str
    object: str
    access: Access
    sources: tuple[str, ...]
    spelling_of: str | None = None
    needs_approval: bool = False

    @property
    def in_schema(self) -> bool:
        return "schema" in self.sources

    @property
    def in_docs(self) -> bool:
        return "docs" in self.sources


@dataclass(frozen=True)
class PermissionGroup:
    """The permissions for one Stripe object (read and write side by side)."""

    object: str
    description: str
    permissions: tuple[Permission, ...]

    def preferred(self) -> tuple[Permission, ...]:
        """The group's permissions without the schema's misspellings."""
        return tuple(p for p in self.permissions if p.spelling_of is None)


class PermissionCatalogue:
    """Look up, group and suggest permission names."""

    def __init__(self, groups: tuple[PermissionGroup, ...]) -> None:
        self.groups = groups
        self._by_name = {p.name: p for g in groups for p in g.permissions}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PermissionCatalogue:
        groups = []
        for group in data["groups"]:
            perms = tuple(
                Permission(
                    name=p["name"],
                    object=group["object"],
                    access=p["access"],
                    sources=tuple(p["sources"]),
                    spelling_of=p.get("spelling_of"),
                    needs_approval=bool(p.get("needs_approval", False)),
                )
                for p in group["permissions"]
            )
            groups.append(PermissionGroup(group["object"], group["description"], perms))
        return cls(tuple(groups))

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._by_name)

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __len__(self) -> int:
        return len(self._by_name)

    def get(self, name: str) -> Permission | None:
        return self._by_name.get(name)

    def suggest(self, name: str) -> str | None:
        """The closest preferred name to an unknown one, for "did you mean"."""
        preferred = [p.name for g in self.groups for p in g.preferred()]
        return closest(name, preferred, cutoff=0.7)


@cache
def load_catalogue() -> PermissionCatalogue:
    """The catalogue shipped with the package (read once)."""
    text = resources.files(__package__).joinpath("permissions.json").read_text(encoding="utf-8")
    return PermissionCatalogue.from_json(json.loads(text))
