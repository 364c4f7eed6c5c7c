"""What a sync did: per table and account, rows inserted, updated and deleted; requests; time.

:class:`SyncReport` is plain data (``to_dict``/``to_json`` for scripts, ``summary()`` for
people). It never holds a token or a password: the destination is described with its password
masked.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

__all__ = ["AccountResult", "Progress", "ProgressCallback", "SyncReport", "TableResult"]

Status = Literal["loaded", "skipped", "failed"]
Stage = Literal["reading", "loading", "loaded", "skipped", "failed"]


@dataclass
class TableResult:
    """One table of one account and mode."""

    table: str
    account_id: str
    livemode: bool
    status: Status
    full: bool = False
    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    rows: int = 0
    requests: int = 0
    seconds: float = 0.0
    permission: str | None = None
    error: str | None = None
    #: Objects left out of this load because a nested list (an invoice's lines past the first
    #: 10) could not be read whole; the next run reads them again. And why.
    incomplete: list[str] = field(default_factory=list)
    incomplete_error: str | None = None

    @property
    def mode(self) -> str:
        return "live" if self.livemode else "test"


@dataclass
class AccountResult:
    """One account and mode: requests made (every attempt, retries included), 429s met."""

    account_id: str
    livemode: bool
    requests: int = 0
    rate_limited: int = 0
    event_requests: int = 0
    note: str | None = None
    error: str | None = None
    #: Left to another sync process: it held the account's lock, or loaded it during this run.
    elsewhere: bool = False
    #: Not synced: Stripe refused its tokens (the app was uninstalled, or the token revoked).
    deauthorized: bool = False


@dataclass
class SyncReport:
    """The outcome of :func:`~stripe_oauth_nb.sync.sync`."""

    destination: str
    dataset: str
    tables: list[TableResult] = field(default_factory=list)
    accounts: list[AccountResult] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def requests(self) -> int:
        return sum(a.requests for a in self.accounts)

    @property
    def rate_limited(self) -> int:
        return sum(a.rate_limited for a in self.accounts)

    @property
    def ok(self) -> bool:
        """True when every table loaded whole or was skipped for a permission, and no account
        failed. An account left to another sync process (``elsewhere``) is not a failure:
        several processes share the accounts by design, and a scheduled job that ran beside
        another must not alert; :meth:`summary` counts them."""
        return all(t.status != "failed" and not t.incomplete for t in self.tables) and not any(
            a.error for a in self.accounts
        )

    def totals(self) -> dict[str, dict[str, int]]:
        """Per table name (in :data:`RESOURCES` order), over accounts and modes: inserted,
        updated, deleted, rows."""
        from ._resources import TABLES

        order = {name: i for i, name in enumerate(TABLES)}
        out: dict[str, dict[str, int]] = {}
        for t in sorted(self.tables, key=lambda t: order.get(t.table, len(order))):
            row = out.setdefault(t.table, {"inserted": 0, "updated": 0, "deleted": 0, "rows": 0})
            row["inserted"] += t.inserted
            row["updated"] += t.updated
            row["deleted"] += t.deleted
            row["rows"] += t.rows
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "destination": self.destination,
            "dataset": self.dataset,
            "ok": self.ok,
            "seconds": round(self.seconds, 3),
            "requests": self.requests,
            "rate_limited": self.rate_limited,
            "accounts": [asdict(a) | {"mode": _mode(a.livemode)} for a in self.accounts],
            "tables": [asdict(t) | {"mode": t.mode} for t in self.tables],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def summary(self) -> str:
        """A few lines for people: one per table and account, then the totals."""
        lines = [f"Synced into {self.destination} (dataset {self.dataset!r}):"]
        for t in self.tables:
            where = f"{t.table:<21} {t.account_id} {t.mode:<4}"
            if t.status == "loaded":
                kind = "full" if t.full else "incremental"
                lines.append(
                    f"  {where} {kind:<11} +{t.inserted:,} inserted, {t.updated:,} updated, "
                    f"-{t.deleted:,} deleted; {t.rows:,} rows"
                )
            elif t.status == "skipped":
                lines.append(
                    f"  {where} skipped: the app lacks the '{t.permission}' permission (add it "
                    "to the manifest and install again)"
                )
            else:
                lines.append(f"  {where} FAILED: {t.error}")
            if t.incomplete:
                lines.append(
                    f"  {where} {len(t.incomplete):,} left out: their nested lists could not be "
                    f"read whole ({t.incomplete_error}); their rows stay as they were, and the "
                    "next sync reads them again"
                )
        for a in self.accounts:
            if a.note:
                lines.append(f"  {a.account_id} {_mode(a.livemode)}: {a.note}")
            if a.error:
                lines.append(f"  {a.account_id} {_mode(a.livemode)} FAILED: {a.error}")
        elsewhere = sum(a.elsewhere for a in self.accounts)
        if elsewhere:  # not a failure: another process has them; still worth seeing at a glance
            lines.append(
                f"{elsewhere:,} of {len(self.accounts):,} account(s) left to other sync "
                "processes: this run did not load them."
            )
        lines.append(
            f"{self.requests:,} requests ({self.rate_limited:,} answered 429) in "
            f"{self.seconds:.1f} s."
        )
        return "\n".join(lines)


def _mode(livemode: bool) -> str:
    return "live" if livemode else "test"


@dataclass(frozen=True)
class Progress:
    """One step of a sync, for progress bars: ``rows`` read so far of (account, table)."""

    account_id: str
    livemode: bool
    table: str
    stage: Stage
    rows: int = 0


ProgressCallback = Callable[[Progress], None]
