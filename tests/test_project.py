"""The project's own promises: public surface, light import, one HTTP import, docs and CI agree."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import stripe_oauth_nb

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "stripe_oauth_nb"


def test_root_names_are_a_literal_list_in_step_with_the_lazy_map() -> None:
    import ast

    tree = ast.parse((PACKAGE / "__init__.py").read_text())
    literal = next(
        node.value
        for node in tree.body
        if isinstance(node, ast.Assign)
        and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets)
    )
    assert isinstance(literal, ast.List)  # written out, not computed
    names = [ast.literal_eval(element) for element in literal.elts]
    assert names == stripe_oauth_nb.__all__
    assert set(names) == set(stripe_oauth_nb._EXPORTS)
    assert len(names) <= 14  # a small front door; the rest lives in submodules
    for name in names:
        module = importlib.import_module(stripe_oauth_nb._EXPORTS[name], "stripe_oauth_nb")
        assert getattr(stripe_oauth_nb, name) is getattr(module, name), name


def test_every_error_is_public_in_the_errors_module() -> None:
    from stripe_oauth_nb import _errors, errors

    defined = {
        name
        for name, value in vars(_errors).items()
        if isinstance(value, type) and issubclass(value, Exception)
    }
    assert defined == set(errors.__all__)
    assert not defined & set(stripe_oauth_nb.__all__)  # errors are not at the root


def test_unknown_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError):
        _ = stripe_oauth_nb.no_such_name  # type: ignore[attr-defined]


def test_every_error_derives_from_the_root() -> None:
    from stripe_oauth_nb import _errors

    classes = [
        value
        for value in vars(_errors).values()
        if isinstance(value, type) and issubclass(value, Exception)
    ]
    assert len(classes) > 10
    for cls in classes:
        assert issubclass(cls, _errors.StripeOAuthNBError), cls
        assert cls.__name__ in (_errors.__doc__ or ""), f"{cls.__name__} missing from the tree"


HEAVY = ["httpx2", "ipywidgets", "starlette", "uvicorn", "jsonschema", "pandas", "IPython"]


def test_import_is_light() -> None:
    code = f"import sys, stripe_oauth_nb; print([m for m in {HEAVY!r} if m in sys.modules])"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == "[]"


def _sources() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_httpx_is_imported_in_one_module_only() -> None:
    pattern = re.compile(r"^\s*(import|from)\s+httpx2?\b", re.MULTILINE)
    importers = [
        p.relative_to(PACKAGE).as_posix() for p in _sources() if pattern.search(p.read_text())
    ]
    assert importers == ["_http.py"]


def test_core_never_imports_widgets() -> None:
    pattern = re.compile(r"^\s*(import|from)\s+(ipywidgets|IPython)\b", re.MULTILINE)
    offenders = [
        p.relative_to(PACKAGE).as_posix()
        for p in _sources()
        if "widgets" not in p.relative_to(PACKAGE).parts and pattern.search(p.read_text())
    ]
    assert offenders == []


def test_environment_yml_adds_only_python_and_pip() -> None:
    text = (ROOT / "environment.yml").read_text()
    deps = re.findall(r"^\s*-\s+(.+?)\s*$", text, re.MULTILINE)
    # Binder and conda users get what the notebooks need, not the test tools.
    assert deps == ["conda-forge", "python>=3.11", "pip", "pip:", "-e .[notebooks]"]
    assert _extra_closure("notebooks") == _readme_extras()
    assert not {"pytest", "playwright", "mypy", "ruff"} & _extra_requirements("notebooks")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["requires-python"] == ">=3.11"


def _readme_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^(python3 .+)$", section, re.MULTILINE)


def test_readme_quick_start_has_two_commands_and_ci_runs_the_test_one() -> None:
    commands = _readme_commands()
    assert len(commands) == 2
    opens, tests = commands
    assert "jupyter lab notebooks/00_walkthrough.ipynb" in opens
    assert "pytest" in tests
    ci = (ROOT / ".ci" / "run").read_text()
    assert tests in ci.splitlines()


def test_the_readme_fast_loop_selects_registered_markers() -> None:
    """The development section's quick command names markers pytest knows (strict markers)."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Development", 1)[1].split("\n## ", 1)[0]
    (command,) = re.findall(r"^(\.venv/bin/python -m pytest .+)$", section, re.MULTILINE)
    selected = set(re.findall(r"\b([a-z_]+)\b", command.split("-m", 2)[2]))
    with (ROOT / "pyproject.toml").open("rb") as f:
        markers = tomllib.load(f)["tool"]["pytest"]["ini_options"]["markers"]
    registered = {line.split(":", 1)[0] for line in markers}
    assert selected - {"not", "and", "or"} <= registered
    assert "slow" in selected


def test_the_schedulers_groups_name_files_that_exist() -> None:
    """tests/conftest.py's scheduling groups and longest-first list name real test files: a
    renamed file would silently fall back to collection order."""
    from _schedule import LONGEST_FIRST, SHARED_GROUPS

    groups = set(SHARED_GROUPS.values())
    for prefix in SHARED_GROUPS:
        assert (ROOT / prefix).exists(), prefix
    for name in LONGEST_FIRST:
        assert name in groups or (ROOT / name).is_file(), name


def test_widget_names_resolve_lazily() -> None:
    import stripe_oauth_nb.widgets as views

    assert views.__all__ == sorted(views.__all__)
    for name in views.__all__:
        assert isinstance(getattr(views, name), type), name


def _extras_of(requirement: str) -> list[str]:
    match = re.match(r"stripe-oauth-nb\[([^\]]+)\]", requirement)
    return [e.strip() for e in match.group(1).split(",")] if match else []


def _extra_closure(extra: str) -> set[str]:
    """``extra`` and every extra of this project it pulls in (``stripe-oauth-nb[...]``)."""
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    seen: set[str] = set()
    todo = [extra]
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            for requirement in extras[name]:
                todo.extend(_extras_of(requirement))
    return seen


def _extra_requirements(extra: str) -> set[str]:
    """The distributions ``extra`` asks for, through the project's own extras."""
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    return {
        _dist_name(r)
        for name in _extra_closure(extra)
        for r in extras[name]
        if not r.startswith("stripe-oauth-nb")
    }


def _readme_extras() -> set[str]:
    """The extras (and those they pull in) of the README's first command."""
    opens = _readme_commands()[0]
    match = re.search(r'-e "\.\[([^\]]+)\]"', opens)
    assert match, opens
    return set().union(*(_extra_closure(e.strip()) for e in match.group(1).split(",")))


def _dist_name(requirement: str) -> str:
    return re.split(r"[\s\[<>=!~;(]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def _closure(names: set[str]) -> set[str]:
    """Distributions installed for ``names``, following their unconditional requirements."""
    from importlib import metadata

    seen: set[str] = set()
    todo = list(names)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue
        todo.extend(_dist_name(r) for r in requires if "extra ==" not in r)
    return seen


def test_notebooks_need_only_what_the_readme_installs() -> None:
    """The README's first command installs the core and its extras: nothing more."""
    import ast
    from importlib import metadata

    import nbformat

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = {_dist_name(r) for r in project["dependencies"]}
    for extra in _readme_extras():
        wanted |= _extra_requirements(extra)
    allowed = _closure(wanted) | {"stripe-oauth-nb"}
    owners = metadata.packages_distributions()
    missing: list[str] = []
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type != "code" or cell.source.startswith("%%"):
                continue  # a cell magic's body is not Python (%%sql: SQL)
            source = "\n".join(
                line
                for line in cell.source.splitlines()
                if not line.lstrip().startswith(("%", "!"))
            )
            for node in ast.walk(ast.parse(source)):
                modules = (
                    [a.name for a in node.names]
                    if isinstance(node, ast.Import)
                    else [node.module or ""]
                    if isinstance(node, ast.ImportFrom) and not node.level
                    else []
                )
                for module in modules:
                    top = module.split(".")[0]
                    if top in sys.stdlib_module_names or top == "stripe_oauth_nb":
                        continue
                    dists = {_dist_name(d) for d in owners.get(top, [top])}
                    if not dists & allowed:
                        missing.append(f"{path.name}: {module}")
    assert missing == []


def test_every_install_the_extra_message_names_an_extra_pyproject_defines() -> None:
    from stripe_oauth_nb._errors import EXTRA_FOR, needs_extra

    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    assert set(EXTRA_FOR.values()) <= set(extras)
    for package, extra in EXTRA_FOR.items():
        assert any(req.startswith(package) for req in extras[extra]), (package, extra)
    message = needs_extra("The keyring store", "keyring", otherwise=", or use the file store")
    assert message == (
        "The keyring store needs keyring, which is not installed: "
        "pip install 'stripe-oauth-nb[keyring]', or use the file store."
    )
    # the one message, and nowhere else a hand-written install line
    written = [
        path.relative_to(ROOT).as_posix()
        for path in PACKAGE.rglob("*.py")
        if "pip install 'stripe-oauth-nb[" in path.read_text(encoding="utf-8")
    ]
    assert written == ["stripe_oauth_nb/_errors.py"]


def test_one_version() -> None:
    from stripe_oauth_nb._version import __version__

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert stripe_oauth_nb.__version__ == __version__ == project["version"]


PUBLIC_MODULES = [
    "stripe_oauth_nb",
    "stripe_oauth_nb.errors",
    "stripe_oauth_nb.manifest",
    "stripe_oauth_nb.oauth",
    "stripe_oauth_nb.tokens",
    "stripe_oauth_nb.api",
    "stripe_oauth_nb.widgets",
    "stripe_oauth_nb.sync",
    "stripe_oauth_nb.serve",
    "stripe_oauth_nb.sandbox",
]


@pytest.mark.parametrize("name", PUBLIC_MODULES)
def test_dir_of_a_public_module_lists_its_public_names_only(name: str) -> None:
    module = importlib.import_module(name)
    extra = {"__version__"} if name == "stripe_oauth_nb" else set()
    assert set(dir(module)) == set(module.__all__) | extra
    assert all(hasattr(module, public) for public in module.__all__)


def test_errors_show_their_public_module() -> None:
    from stripe_oauth_nb import errors

    for public in errors.__all__:
        assert getattr(errors, public).__module__ == "stripe_oauth_nb.errors", public
    assert repr(errors.ConfigError).endswith("'stripe_oauth_nb.errors.ConfigError'>")
