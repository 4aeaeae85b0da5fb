"""The import structure: apps import only downwards (DESIGN.md) and no module circles exist."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Top to bottom: an app may import from the apps after it, never from one before it.
LAYERS = ("proxy", "observability", "keys", "gateways", "plugins", "gateway_project")
# The root URLconf composes the apps' admin views: the one module allowed to reach up, and only
# to views (settings name apps as strings, and reach none of them by import).
COMPOSITION_ROOT = "gateway_project.urls"


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_modules() -> dict[str, Path]:
    return {
        module_name(path): path
        for layer in LAYERS
        for path in (ROOT / layer).rglob("*.py")
        if "migrations" not in path.parts
    }


def imported_modules(path: Path, modules: dict[str, Path]) -> set[str]:
    """Project modules that `path` imports anywhere in the file (module level or inside a def)."""
    found: set[str] = set()
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names = [f"{base}.{alias.name}" for alias in node.names] + [base]
        else:
            continue
        for name in names:
            while name and name not in modules:
                name = name.rpartition(".")[0]
            if name:
                found.add(name)
    found.discard(name)
    return found


def import_graph() -> dict[str, set[str]]:
    modules = project_modules()
    return {name: imported_modules(path, modules) for name, path in modules.items()}


def layer_of(module: str) -> int:
    return LAYERS.index(module.split(".")[0])


def test_apps_import_only_downwards():
    upward = sorted(
        f"{source} -> {target}"
        for source, targets in import_graph().items()
        for target in targets
        if layer_of(target) < layer_of(source)
        and not (source == COMPOSITION_ROOT and target.endswith(".views"))
    )
    assert upward == [], "imports that reach up a layer (see DESIGN.md, Layout)"


def test_no_module_imports_itself_in_a_circle():
    graph = import_graph()
    circles: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                circles.append(path[path.index(nxt) :] + [nxt])
            elif nxt not in state:
                visit(nxt)
        path.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    assert circles == []
