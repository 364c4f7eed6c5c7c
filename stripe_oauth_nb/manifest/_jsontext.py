"""Reading manifest text: strict JSON, with every slip located by line and column.

People copy manifests from web pages, which adds ``//`` comments and trailing commas. Both are
reported (each with its line and column), then blanked out so that the rest of the document can
still be parsed and checked: one pass reports every problem, not only the first.

A manifest is a few kilobytes of shallow JSON with no numbers that matter, so text that could
only hurt is refused as a finding before it is parsed: more than :data:`MAX_TEXT` characters,
nesting deeper than :data:`MAX_DEPTH`, integers of more than :data:`MAX_DIGITS` digits (Python
refuses 4,300), and ``NaN``/``Infinity``, which are not JSON. :func:`read_text` reads a manifest
file without blocking on a pipe and without reading more than that.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from typing import Any, Final

from .._errors import ManifestError
from .._textfile import read_small_text
from ._findings import Finding, pointer

__all__ = ["MAX_DEPTH", "MAX_DIGITS", "MAX_TEXT", "ParsedText", "parse_text", "read_text"]

#: Largest manifest read or parsed (characters; UTF-8 bytes for files). Real ones are ~2 KB.
MAX_TEXT: Final = 1024 * 1024
#: Deepest nesting of objects and lists accepted (Stripe's manifest goes 4 levels deep).
MAX_DEPTH: Final = 64
#: Longest integer accepted (digits).
MAX_DIGITS: Final = 30


@dataclass
class ParsedText:
    """The outcome of parsing: the data (None when unreadable) and the problems found."""

    data: Any
    findings: list[Finding] = field(default_factory=list)


def read_text(path: str | os.PathLike[str]) -> str:
    """The text of the manifest file at ``path``; :class:`ManifestError` when it cannot be one.

    Regular files only (a FIFO or device is refused at once), at most :data:`MAX_TEXT` bytes,
    UTF-8 (a byte-order mark is dropped).
    """
    try:
        return read_small_text(path, limit=MAX_TEXT)
    except FileNotFoundError:
        raise ManifestError(
            f"{path} does not exist. Check the path, or create a manifest with "
            "Manifest.new(...) or `stripe-oauth-nb manifest new PATH`."
        ) from None
    except ValueError as exc:
        raise ManifestError(
            f"{path} {exc}. A manifest is a small UTF-8 JSON file: pass stripe-app.json itself."
        ) from None
    except OSError as exc:
        raise ManifestError(
            f"{path} cannot be read ({exc.strerror or exc}). Check the path and its permissions."
        ) from None


def _line_col(text: str, index: int) -> tuple[int, int]:
    line = text.count("\n", 0, index) + 1
    column = index - (text.rfind("\n", 0, index) + 1) + 1
    return line, column


def _blank(chars: list[str], start: int, end: int) -> None:
    for i in range(start, end):
        if chars[i] not in "\r\n":
            chars[i] = " "


def _scan(text: str) -> tuple[str, list[Finding], int | None]:
    """Blank out comments and trailing commas (outside strings); report each one.

    The third item is the index of the first bracket nested deeper than :data:`MAX_DEPTH`.
    """
    chars = list(text)
    findings: list[Finding] = []
    i, n = 0, len(text)
    in_string = False
    last_comma: int | None = None  # a comma not yet followed by a value
    depth = 0
    too_deep: int | None = None
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
        elif c in "{[":
            depth += 1
            if depth > MAX_DEPTH and too_deep is None:
                too_deep = i
            last_comma = None
        elif c in "}]":
            depth -= 1
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
    return "".join(chars), findings, too_deep


def _paths_by_identity(data: Any, parts: tuple[str | int, ...] = ()) -> dict[int, str]:
    found = {id(data): pointer(parts)}
    if isinstance(data, dict):
        for key, value in data.items():
            found.update(_paths_by_identity(value, (*parts, key)))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            found.update(_paths_by_identity(value, (*parts, index)))
    return found


class _NotJSON(ValueError):
    """A value json.loads would accept but a manifest must not hold."""


def _integer(text: str) -> int:
    if len(text.lstrip("-")) > MAX_DIGITS:
        raise _NotJSON(
            f"an integer of {len(text.lstrip('-')):,} digits (a manifest holds none longer "
            f"than {MAX_DIGITS})"
        )
    return int(text)


def _number(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _NotJSON(f"the number {text[:40]} is too large to be a finite number")
    return value


def _constant(name: str) -> Any:
    raise _NotJSON(f"{name} is not JSON (JavaScript allows it, JSON does not)")


def _too_large(text: str) -> ParsedText:
    return ParsedText(
        None,
        [
            Finding(
                "/",
                f"The manifest is {len(text):,} characters long; a manifest is a few kilobytes "
                f"and at most {MAX_TEXT:,} characters are read.",
                "error",
                "Pass the app's stripe-app.json itself (not a data file or a bundle).",
                code="json.too-large",
            )
        ],
    )


def parse_text(text: str) -> ParsedText:
    """Parse manifest text, reporting comments, trailing commas, duplicate keys and bad JSON."""
    if text.startswith("\ufeff"):
        text = text[1:]
    if len(text) > MAX_TEXT:
        return _too_large(text)
    cleaned, findings, too_deep = _scan(text)
    if too_deep is not None:
        line, column = _line_col(text, too_deep)
        findings.append(
            Finding(
                "/",
                f"Objects and lists are nested more than {MAX_DEPTH} deep (line {line}, "
                f"column {column}); a manifest goes four levels deep.",
                "error",
                "Close the brackets opened above; pass the app's stripe-app.json itself.",
                code="json.too-deep",
                line=line,
                column=column,
            )
        )
        return ParsedText(None, findings)
    duplicates: list[tuple[dict[str, Any], str]] = []

    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        obj: dict[str, Any] = {}
        for key, value in pairs:
            if key in obj:
                duplicates.append((obj, key))
            obj[key] = value
        return obj

    try:
        data = json.loads(
            cleaned,
            object_pairs_hook=hook,
            parse_int=_integer,
            parse_float=_number,
            parse_constant=_constant,
        )
    except _NotJSON as exc:
        findings.append(
            Finding(
                "/",
                f"Not valid manifest JSON: {exc}.",
                "error",
                "Use strings, true/false/null, short numbers, [lists] and {objects} only.",
                code="json.syntax",
            )
        )
        return ParsedText(None, findings)
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
