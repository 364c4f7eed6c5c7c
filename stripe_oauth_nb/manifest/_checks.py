"""Run every check on a manifest and return all findings, errors first.

Order of work: the JSON text (syntax, comments, trailing commas, duplicate keys), Stripe's schema,
then the rules (OAuth readiness, review readiness, permissions, likely typos). Checking never
raises on a bad manifest: every problem is a :class:`Finding`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from ._findings import Finding
from ._jsontext import parse_text, read_text
from ._rules import run_rules
from ._schema import schema_findings

__all__ = ["check", "check_file", "check_text"]


def _sorted(findings: list[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda f: 0 if f.is_error else 1)


@runtime_checkable
class Document(Protocol):
    """What :func:`check` reads of a document (a :class:`~._document.Manifest` is one)."""

    @property
    def data(self) -> Any: ...

    @property
    def path(self) -> Path | None: ...


def check(
    manifest: Document | Mapping[str, Any],
    *,
    base_dir: Path | None = None,
    oauth: bool = True,
) -> list[Finding]:
    """Every problem in a manifest document.

    ``base_dir`` is the folder the relative ``icon`` path starts from; it defaults to the folder
    of ``manifest.path``. Without either, the icon file is not looked at. ``oauth=False`` leaves
    out the OAuth readiness rules (for apps using other access types).
    """
    if isinstance(manifest, Document):
        data: Any = manifest.data
        if base_dir is None and manifest.path is not None:
            base_dir = manifest.path.parent
    else:
        data = manifest
    findings = schema_findings(data)
    if isinstance(data, dict):
        findings += run_rules(data, base_dir, oauth=oauth)
    return _sorted(findings)


def check_text(text: str, *, base_dir: Path | None = None, oauth: bool = True) -> list[Finding]:
    """Check manifest text: syntax problems (with line and column) plus everything :func:`check`
    finds in what could be read."""
    parsed = parse_text(text)
    findings = list(parsed.findings)
    if parsed.data is not None:
        findings += check(parsed.data, base_dir=base_dir, oauth=oauth)
    return _sorted(findings)


def check_file(path: str | Path, *, oauth: bool = True) -> list[Finding]:
    """Check a manifest file; raises :class:`ManifestError` only if the file cannot be read."""
    path = Path(path)
    text = read_text(path)
    return check_text(text, base_dir=path.parent, oauth=oauth)
