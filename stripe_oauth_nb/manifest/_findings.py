"""A finding: one problem in a manifest, where it is, how bad it is and how to fix it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

__all__ = ["Finding", "Severity", "format_findings", "has_errors", "pointer"]

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Finding:
    """One problem found in a manifest.

    ``path`` points into the document like a JSON pointer (``/permissions/2/purpose``; ``/`` is the
    whole document). ``severity`` is ``"error"`` (Stripe will refuse it, or the OAuth flow cannot
    work) or ``"warning"`` (it works, but review or live mode will trip on it). ``fix`` says what to
    change. ``code`` is a stable identifier for the kind of problem (for filtering in CI);
    ``line``/``column`` are set for problems in the JSON text itself.
    """

    path: str
    message: str
    severity: Severity
    fix: str
    code: str = ""
    line: int | None = None
    column: int | None = None

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        where = self.path
        if self.line is not None:
            where = f"line {self.line}, column {self.column}"
        return f"{self.severity}: {where}: {self.message} Fix: {self.fix}"


def pointer(parts: Iterable[str | int]) -> str:
    """A JSON pointer for a path inside the document (``/`` for the document itself)."""
    escaped = [str(p).replace("~", "~0").replace("/", "~1") for p in parts]
    return "/" + "/".join(escaped)


def has_errors(findings: Iterable[Finding]) -> bool:
    """True when at least one finding is an error (warnings alone do not count)."""
    return any(f.is_error for f in findings)


def format_findings(findings: Sequence[Finding]) -> str:
    """A plain-text table of findings, one block per finding, for terminals and notebooks."""
    if not findings:
        return "No problems found."
    errors = sum(f.is_error for f in findings)
    warnings = len(findings) - errors
    lines = [f"{errors} error(s), {warnings} warning(s)"]
    for number, finding in enumerate(findings, 1):
        where = finding.path
        if finding.line is not None:
            where = f"{where} (line {finding.line}, column {finding.column})"
        lines.append(f"{number:>2}. {finding.severity.upper():<7} {where}")
        lines.append(f"    {finding.message}")
        lines.append(f"    fix: {finding.fix}")
    return "\n".join(lines)
