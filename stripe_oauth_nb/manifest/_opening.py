"""Opening a manifest for editing: strict JSON, else leniently (comments, trailing commas),
else the places that break it.

Forms and commands call :func:`open_for_editing` and show what it returns; they never choose the
fallbacks themselves.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .._errors import ManifestError, ManifestSyntaxError
from ._checks import check_file
from ._document import Manifest
from ._findings import Finding

__all__ = ["Opened", "open_for_editing"]


@dataclass(frozen=True)
class Opened:
    """What :func:`open_for_editing` found at ``path``."""

    path: Path
    #: The manifest to edit, or None when the file is not JSON even leniently.
    manifest: Manifest | None
    #: What happened, for people (one sentence that says what to do next).
    note: str
    #: Where the JSON is broken (line and column), when ``manifest`` is None.
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.manifest is not None


def open_for_editing(path: str | Path) -> Opened:
    """Read ``path`` for editing. Raises :class:`ManifestError` when it cannot be read at all."""
    target = Path(path)
    try:
        return Opened(target, Manifest.load(target), f"Opened {target}.")
    except ManifestSyntaxError:
        pass
    try:
        manifest = Manifest.load(target, lenient=True)
    except ManifestError:
        return Opened(
            target,
            None,
            f"{target} is not valid JSON: fix the places listed below in a text editor, then "
            "open it again.",
            check_file(target),
        )
    return Opened(
        target,
        manifest,
        f"Opened {target}. Comments and trailing commas were dropped; Save writes clean JSON.",
    )
