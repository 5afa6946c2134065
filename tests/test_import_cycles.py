"""No import cycle among the project's modules, counting the imports made
inside functions: every import statement of kiosk/, sync/ and federation/
is read with ast (never executed), so an import deferred into a function to
dodge a cycle at load time is still an edge here."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("kiosk", "sync", "federation")


def project_modules() -> dict[str, Path]:
    """Dotted name -> file, for every module of the project's packages."""
    modules = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join(parts)] = path
    return modules


def _imported(node: ast.AST, module: str, is_package: bool, modules: dict[str, Path]) -> list[str]:
    """The project modules an import statement loads (``from a import b``
    loads a.b when it is a module, else a)."""
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        base = node.module or ""
        if node.level:  # relative: from the module's package, up level - 1
            package = module.split(".") if is_package else module.split(".")[:-1]
            package = package[: len(package) - (node.level - 1)]
            base = ".".join([*package, base] if base else package)
        names = [
            f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names
        ]
    found = []
    for name in names:
        while name and name not in modules:  # `import a.b.c` of a module a.b: its nearest module
            name = name.rpartition(".")[0]
        if name:
            found.append(name)
    return found


def import_graph() -> dict[str, set[str]]:
    modules = project_modules()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):  # every statement, those inside functions and classes included
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                for target in _imported(node, name, path.name == "__init__.py", modules):
                    if target != name and not name.startswith(target + "."):  # a module's own package
                        graph[name].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's
    algorithm, iterative): each holds at least one cycle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_cycle_finder_finds_a_cycle_through_a_function_level_import(tmp_path):
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]
    source = "def later():\n    from federation import api\n"
    node = next(n for n in ast.walk(ast.parse(source)) if isinstance(n, ast.ImportFrom))
    assert _imported(node, "federation.checker", False, project_modules()) == ["federation.api"]


def test_relative_imports_resolve_to_the_module_they_name():
    modules = {
        "kiosk": Path(),
        "kiosk.ui": Path(),
        "kiosk.ui.app": Path(),
        "kiosk.core": Path(),
        "kiosk.core.store": Path(),
    }
    node = ast.parse("from ..core import store").body[0]
    assert _imported(node, "kiosk.ui.app", False, modules) == ["kiosk.core.store"]
    node = ast.parse("from . import app").body[0]
    assert _imported(node, "kiosk.ui", True, modules) == ["kiosk.ui.app"]


@pytest.mark.parametrize("package", PACKAGES)
def test_no_import_cycle(package):
    """No cycle through any module of ``package`` (imports inside functions counted)."""
    found = [
        component
        for component in cycles(import_graph())
        if any(name == package or name.startswith(package + ".") for name in component)
    ]
    assert found == [], "import cycles: " + "; ".join(" <-> ".join(component) for component in found)


def test_the_layers_hold():
    """sync imports neither kiosk nor federation; federation never imports kiosk."""
    graph = import_graph()
    wrong = sorted(
        f"{name} -> {target}"
        for name, targets in graph.items()
        for target in targets
        if (name.startswith("sync") and target.split(".")[0] in ("kiosk", "federation"))
        or (name.startswith("federation") and target.split(".")[0] == "kiosk")
    )
    assert wrong == []
