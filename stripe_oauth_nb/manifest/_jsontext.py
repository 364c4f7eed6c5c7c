"""Reading manifest text: strict JSON, with every slip located by line and column.

People copy manifests from web pages, which adds ``//`` comments and trailing commas. Both are
reported (each with its line and column), then blanked out so that the rest of the document can
still be parsed and checked: one pass reports every problem, not only the first.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ._findings import Finding, pointer

__all__ = ["ParsedText", "parse_text"]


@dataclass
class ParsedText:
    """The outcome of parsing: the data (None when unreadable) and the problems found."""

    data: Any
    findings: list[Finding] = field(default_factory=list)


def _line_col(text: str, index: int) -> tuple[int, int]:
    line = text.count("\n", 0, index) + 1
    column = index - (text.rfind("\n", 0, index) + 1) + 1
    return line, column


def _blank(chars: list[str], start: int, end: int) -> None:
    for i in range(start, end):
        if chars[i] not in "\r\n":
            chars[i] = " "


def _scan(text: str) -> tuple[str, list[Finding]]:
    """Blank out comments and trailing commas (outside strings); report each one."""
    chars = list(text)
    findings: list[Finding] = []
    i, n = 0, len(text)
    in_string = False
    last_comma: int | None = None  # a comma not yet followed by a value
    while i < n:
        c = text[i]
        if in_string:
            if c == "\\":
                i += 2
                continue
            if c == '"':
                in_string = False
            i += 1
            continue
        if c == '"':
            in_string = True
            last_comma = None
        elif text.startswith("//", i):
            end = text.find("\n", i)
            end = n if end == -1 else end
            line, col = _line_col(text, i)
            snippet = text[i:end].strip()
            findings.append(
                Finding(
                    "/",
                    f"JSON has no comments, but line {line} has one: {snippet[:60]!r}.",
                    "error",
                    "Delete the comment (Stripe's upload reads strict JSON); put real values "
                    "in its place if it was a placeholder.",
                    code="json.comment",
                    line=line,
                    column=col,
                )
            )
            _blank(chars, i, end)
            i = end
            continue
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            end = n if end == -1 else end + 2
            line, col = _line_col(text, i)
            findings.append(
                Finding(
                    "/",
                    f"JSON has no comments, but there is a /* … */ comment at line {line}.",
                    "error",
                    "Delete the comment (Stripe's upload reads strict JSON).",
                    code="json.comment",
                    line=line,
                    column=col,
                )
            )
            _blank(chars, i, end)
            i = end
            continue
        elif c == ",":
            last_comma = i
        elif c in "}]":
            if last_comma is not None:
                line, col = _line_col(text, last_comma)
                findings.append(
                    Finding(
                        "/",
                        f"Trailing comma before {c!r} at line {line}: JSON allows no comma "
                        "after the last item.",
                        "error",
                        "Delete that comma.",
                        code="json.trailing-comma",
                        line=line,
                        column=col,
                    )
                )
                chars[last_comma] = " "
            last_comma = None
        elif not c.isspace():
            last_comma = None
        i += 1
    return "".join(chars), findings


def _paths_by_identity(data: Any, parts: tuple[str | int, ...] = ()) -> dict[int, str]:
    found = {id(data): pointer(parts)}
    if isinstance(data, dict):
        for key, value in data.items():
            found.update(_paths_by_identity(value, (*parts, key)))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            found.update(_paths_by_identity(value, (*parts, index)))
    return found


def parse_text(text: str) -> ParsedText:
    """Parse manifest text, reporting comments, trailing commas, duplicate keys and bad JSON."""
    if text.startswith("\ufeff"):
        text = text[1:]
    cleaned, findings = _scan(text)
    duplicates: list[tuple[dict[str, Any], str]] = []

    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        obj: dict[str, Any] = {}
        for key, value in pairs:
            if key in obj:
                duplicates.append((obj, key))
            obj[key] = value
        return obj

    try:
        data = json.loads(cleaned, object_pairs_hook=hook)
    except json.JSONDecodeError as exc:
        findings.append(
            Finding(
                "/",
                f"Not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}.",
                "error",
                _syntax_fix(exc),
                code="json.syntax",
                line=exc.lineno,
                column=exc.colno,
            )
        )
        return ParsedText(None, findings)
    if duplicates:
        paths = _paths_by_identity(data)
        for obj, key in duplicates:
            base = paths.get(id(obj), "/").rstrip("/")
            findings.append(
                Finding(
                    f"{base}/{key}",
                    f"`{key}` appears more than once in the same object; only the last one counts.",
                    "error",
                    f"Keep one `{key}` and delete the others.",
                    code="json.duplicate-key",
                )
            )
    return ParsedText(data, findings)


def _syntax_fix(exc: json.JSONDecodeError) -> str:
    msg = exc.msg
    if msg.startswith("Expecting property name"):
        return "Put every key in double quotes, and remove any comma right before a `}`."
    if msg == "Expecting ',' delimiter":
        return (
            "Add the missing comma between two items, or close the `[` or `{` opened above "
            "(copied snippets often lose their closing brackets)."
        )
    if msg == "Extra data":
        return (
            "The document must be one JSON object: wrap all the fields in a single `{ … }` and "
            "remove anything after its closing brace."
        )
    if msg.startswith("Invalid control character") or msg.startswith("Unterminated string"):
        return 'Close the string with a straight double quote (") on the same line.'
    if msg == "Expecting value":
        return (
            "A value is missing or not JSON: use double-quoted strings, true/false/null, "
            "numbers, [lists] or {objects}; replace curly quotes with straight ones."
        )
    return "Fix the JSON at that position (an editor with JSON highlighting shows it)."
