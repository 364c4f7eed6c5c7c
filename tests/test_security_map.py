"""docs/SECURITY.md stays true to the checklist and to the repository.

The security checklist lives outside the repository (``../shared/reference``), which CI may not
have, so its item count is a constant here: the doc must have one ``### N. ...`` section for
each of 1..N, in order. Every ``tests/<file>.py::<function>`` the doc cites must name a test
file that defines that function (top level or as a method of a class, found with ``ast``), and
every package, test, notebook or doc path it cites must exist.
"""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

import pytest

#: Reads docs and test names only: the same on every Python.
pytestmark = pytest.mark.static

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "SECURITY.md"

#: Items in the security checklist (security-checklist.md, "## Callback server" to "## API calls").
CHECKLIST_ITEMS = 25

_ITEM_HEADING = re.compile(r"^### (\d+)\. \S", re.MULTILINE)
_TEST_REF = re.compile(r"`(tests/[\w/]+\.py)::(\w+)`")
_PATH_REF = re.compile(
    r"`((?:stripe_oauth_nb|tests|notebooks|docs)/[\w./-]*[\w/]|README\.md)`",
)


def _doc() -> str:
    return DOC.read_text(encoding="utf-8")


def _sections(text: str) -> dict[int, str]:
    """Each item's number and its text, up to the next heading of any level 2 or 3."""
    found: dict[int, str] = {}
    for match in _ITEM_HEADING.finditer(text):
        rest = text[match.end() :]
        end = re.search(r"^##", rest, re.MULTILINE)
        found[int(match.group(1))] = text[
            match.start() : match.end() + (end.start() if end else len(rest))
        ]
    return found


@cache
def _functions(path: Path) -> frozenset[str]:
    """Every function defined in ``path``: top level, in classes, nested."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return frozenset(
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    )


def test_every_checklist_item_has_one_section_in_order() -> None:
    numbers = [int(n) for n in _ITEM_HEADING.findall(_doc())]
    assert numbers == list(range(1, CHECKLIST_ITEMS + 1)), numbers


def test_every_section_names_a_module_and_a_test() -> None:
    for number, section in _sections(_doc()).items():
        assert "**Rule:**" in section, f"item {number}: no rule stated"
        assert "**Status:**" in section, f"item {number}: no status"
        assert re.search(r"`stripe_oauth_nb/\S+\.py`", section), f"item {number}: no module"
        assert _TEST_REF.search(section), f"item {number}: no test"


def test_every_cited_test_exists() -> None:
    refs = _TEST_REF.findall(_doc())
    assert refs, "no test reference found: has the citation format changed?"
    missing = [
        f"{path}::{name}"
        for path, name in refs
        if not (ROOT / path).is_file() or name not in _functions(ROOT / path)
    ]
    assert missing == []


def test_cited_tests_are_test_functions_without_ids() -> None:
    wrong = [name for _, name in _TEST_REF.findall(_doc()) if not name.startswith("test_")]
    assert wrong == []
    with_ids = re.findall(r"`tests/[^`]*::[^`]*\[[^`]*`", _doc())
    assert with_ids == [], "cite parametrized tests without their [id]"


def test_every_cited_path_exists() -> None:
    paths = set(_PATH_REF.findall(_doc()))
    assert any(p.startswith("stripe_oauth_nb/") for p in paths), "no module path found"
    missing = sorted(p for p in paths if not (ROOT / p).exists())
    assert missing == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("`tests/test_x.py::test_y`", [("tests/test_x.py", "test_y")]),
        ("`tests/browser/test_b.py::test_c` and `tests/a.py::test_d`", 2),
        ("`tests/test_x.py::test_y[id]`", []),  # the [id] part is left off in the doc
    ],
)
def test_the_reference_pattern(text: str, expected: list[tuple[str, str]] | int) -> None:
    found = _TEST_REF.findall(text)
    if isinstance(expected, int):
        assert len(found) == expected
    else:
        assert found == expected
