"""The package's modules import each other in one direction only: no cycles, and no arrow from
a lower floor to a higher one (docs/ARCHITECTURE.md draws the floors).

Every import of a package module counts: at module level, inside functions, under
``TYPE_CHECKING`` (a cycle that only type checkers see still ties two modules into one), and a
module named in a literal to ``importlib.import_module``.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "stripe_oauth_nb"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve(module: str, node: ast.ImportFrom, is_package: bool) -> list[str]:
    if node.level == 0:
        base = node.module or ""
    else:
        parts = module.split(".")
        keep = len(parts) - node.level + (1 if is_package else 0)
        base = ".".join(parts[:keep] + ([node.module] if node.module else []))
    targets = [base]
    targets += [f"{base}.{alias.name}" for alias in node.names]
    return targets


def _is_import_module_call(node: ast.AST) -> bool:
    """``importlib.import_module("stripe_oauth_nb.x")`` with a literal, absolute name."""
    if not isinstance(node, ast.Call) or not node.args:
        return False
    func = node.func
    called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    first = node.args[0]
    return (
        called == "import_module"
        and isinstance(first, ast.Constant)
        and isinstance(first.value, str)
        and first.value.startswith("stripe_oauth_nb")
    )


def _graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                candidates = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                candidates = _resolve(name, node, is_package)
                # ``from . import _errors`` imports the module, not the package's __init__
                candidates = [c for c in candidates[1:] if c in modules] or candidates[:1]
            elif _is_import_module_call(node):
                assert isinstance(node, ast.Call)
                literal = node.args[0]
                assert isinstance(literal, ast.Constant)
                candidates = [str(literal.value)]
            else:
                continue
            graph[name] |= {c for c in candidates if c in modules and c != name}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def visit(node: str) -> None:
        nonlocal counter
        index[node] = low[node] = counter
        counter += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _package_edges_removed(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """A package's ``__init__`` re-exports its modules; a module importing a sibling through
    the package name is an import of that sibling, not of every sibling."""
    return {
        name: {t for t in targets if not (name.startswith(t + ".") and t in graph)}
        for name, targets in graph.items()
    }


def test_the_module_graph_has_no_cycles() -> None:
    graph = _package_edges_removed(_graph())
    assert len(graph) > 40
    assert _cycles(graph) == []


def test_the_detector_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


# -- floors ------------------------------------------------------------------------------------
#: Each floor may import its own and the floors below it; the number is the height. A module
#: belongs to the floor of the longest prefix listed (``stripe_oauth_nb.`` left out).
FLOORS: dict[str, int] = {
    # foundation
    "_errors": 0,
    "errors": 0,
    "_version": 0,
    "_masking": 0,
    "_settings": 0,
    "_modes": 0,
    "_account_id": 0,
    "_startup": 0,
    "_http": 0,
    "_fileio": 0,
    "_urls": 0,
    "_ports": 0,
    "_textfile": 0,
    "_serving": 0,
    "_html": 0,
    "_tokenset": 0,
    "_app_record": 0,
    "_ratelimit": 0,
    # beside the house: the sandbox uses the foundation only
    "sandbox": 1,
    # steps, in the order of the flow
    "manifest": 1,
    "oauth": 2,
    "tokens": 3,
    "api": 4,
    "sync": 5,
    # flow
    "_target": 6,
    "_flow": 6,
    "_connect": 6,
    # faces, and the front door
    "widgets": 7,
    "_cli": 7,
    "serve": 7,
    "__main__": 7,
    "": 7,
}

#: What the sandbox may not borrow from the foundation: the client's own rules (URL rules,
#: token lifetimes). It states Stripe's rules itself (``sandbox/_rules.py``).
SANDBOX_NEVER = ("stripe_oauth_nb._urls", "stripe_oauth_nb._tokenset")


def floor(module: str) -> int:
    name = module.removeprefix("stripe_oauth_nb").removeprefix(".")
    parts = name.split(".") if name else []
    for cut in range(len(parts), 0 if parts else -1, -1):  # "" is the root package only
        prefix = ".".join(parts[:cut])
        if prefix in FLOORS:
            return FLOORS[prefix]
    raise AssertionError(f"{module} has no floor: add it to FLOORS (and to ARCHITECTURE.md)")


def back_arrows(graph: dict[str, set[str]]) -> list[str]:
    return sorted(
        f"{source} (floor {floor(source)}) -> {target} (floor {floor(target)})"
        for source, targets in graph.items()
        for target in targets
        if floor(target) > floor(source)
    )


def test_every_module_has_a_floor() -> None:
    for module in _graph():
        assert 0 <= floor(module) <= 7


def test_no_import_runs_from_a_lower_floor_to_a_higher_one() -> None:
    assert back_arrows(_graph()) == []


def test_the_sandbox_borrows_no_client_rule() -> None:
    graph = _graph()
    borrowed = sorted(
        f"{source} -> {target}"
        for source, targets in graph.items()
        if source.startswith("stripe_oauth_nb.sandbox")
        for target in targets
        if target.startswith(SANDBOX_NEVER)
    )
    assert borrowed == []


def test_the_floor_check_finds_a_back_arrow() -> None:
    graph = {"stripe_oauth_nb.oauth._attempts": {"stripe_oauth_nb.tokens._postgres"}}
    assert back_arrows(graph) == [
        "stripe_oauth_nb.oauth._attempts (floor 2) -> stripe_oauth_nb.tokens._postgres (floor 3)"
    ]
