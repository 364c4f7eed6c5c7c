"""``tokens migrate``: copy every token set from one store to another, without refreshing.

Each set is copied under its refresh lock in *both* stores, so no refresh on either side runs
while it moves; a pair an interrupted refresh left in the source's in-flight record is recovered
into the source first (nothing is lost), and the source's in-flight record (or deauthorized mark)
travels with the set, so "token rotated, response lost" is still recognised at the target. Sets
keep their order (the most recent authorization stays the most recent). Tokens are opened with
the source's key and sealed with the target's. The source is not changed.

A target that already holds a different set for an account is refused as a whole, before
anything is copied, unless ``replace``.
"""

from __future__ import annotations

from dataclasses import dataclass

from .._errors import TokenStoreError
from ._store import TokenStore, store_key

__all__ = ["MigrationReport", "migrate"]

#: How long each set waits for a refresh running on either side (seconds).
_LOCK_WAIT = 60.0


@dataclass(frozen=True)
class MigrationReport:
    source: str
    target: str
    copied: int
    unchanged: int
    records: int

    def summary(self) -> str:
        return (
            f"Copied {self.copied} token set(s) from {self.source} to {self.target} "
            f"({self.unchanged} already there, {self.records} in-flight record(s) or marks "
            "kept); nothing was refreshed, and the source is unchanged."
        )


def migrate(source: TokenStore, target: TokenStore, *, replace: bool = False) -> MigrationReport:
    """Copy every set of ``source`` into ``target`` (see the module docstring)."""
    if source.location == target.location:
        raise TokenStoreError(
            f"--from and --to are the same store ({source.location}): nothing to do. To seal it "
            "with a new key, use `stripe-oauth-nb tokens rekey`."
        )
    sets = source.all()
    conflicts = []
    for tokens in sets:
        there = target.load(*tokens.key)
        if there is not None and there != tokens:
            conflicts.append(store_key(*tokens.key))
    if conflicts and not replace:
        shown = ", ".join(conflicts[:5]) + (" ..." if len(conflicts) > 5 else "")
        raise TokenStoreError(
            f"{target.location} already holds other tokens for {len(conflicts)} set(s) ({shown}). "
            "Nothing was copied. Pass --replace to overwrite them with the source's."
        )
    copied = unchanged = records = 0
    for tokens in sets:
        with (
            source.locked(*tokens.key, _LOCK_WAIT) as src,
            target.locked(*tokens.key, _LOCK_WAIT) as dst,
        ):
            current = src.load()  # recovers a pair an interrupted refresh left behind
            if current is None:
                continue  # deleted meanwhile
            if target.load(*current.key) == current:
                unchanged += 1
            else:
                dst.save(current, authorized=True)
                copied += 1
            record = src.record()
            if record is not None and record.matches(current.refresh_token):
                dst.adopt(record)
                records += 1
            else:
                dst.clear()
    return MigrationReport(source.location, target.location, copied, unchanged, records)
