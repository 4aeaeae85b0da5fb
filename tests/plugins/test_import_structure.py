"""The modules of the plugins package import each other one way: no file circle."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = "plugins"
ROOT = Path(__file__).resolve().parents[2]


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted((ROOT / PACKAGE).rglob("*.py"))}


def imported_modules(path: Path, known: set[str]) -> set[str]:
    """Modules of the package that `path` imports anywhere (a function-level import counts)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                found.add(submodule if submodule in known else node.module)
    return {name for name in found if name in known}


def import_graph() -> dict[str, set[str]]:
    """Module -> the package's modules it imports; packages' own `__init__` imports are
    implied by Python, not edges the code chose, so they are left out."""
    modules = package_modules()
    packages = {name for name, path in modules.items() if path.name == "__init__.py"}
    return {
        name: imported_modules(path, set(modules)) - packages - {name}
        for name, path in modules.items()
    }


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle of `graph` as a path (first module repeated at the end), or None."""
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> list[str] | None:
        if module in path:
            return path[path.index(module) :] + [module]
        if module in done:
            return None
        for target in sorted(graph[module]):
            cycle = visit(target, [*path, module])
            if cycle:
                return cycle
        done.add(module)
        return None

    for module in sorted(graph):
        cycle = visit(module, [])
        if cycle:
            return cycle
    return None


def test_the_plugins_package_has_no_import_circle():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import circle: " + " -> ".join(cycle or [])


@pytest.mark.parametrize(
    ("module", "must_not_import"),
    [
        ("plugins.stages", {"plugins.base", "plugins.models", "plugins.registry"}),
        ("plugins.base", {"plugins.models", "plugins.registry", "plugins.validation"}),
        ("plugins.registry", {"plugins.models", "plugins.validation"}),
        ("plugins.validation", {"plugins.models", "plugins.serializers"}),
    ],
)
def test_layers_inside_plugins_point_one_way(module, must_not_import):
    assert import_graph()[module] & must_not_import == set()


def test_the_walker_sees_a_circle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}
    assert find_cycle(graph) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_sdk_imports_only_the_sdk():
    """The SDK (what plugins and the proxy share) stands below the machinery and the built-ins:
    of the plugins package it imports only itself."""
    reaching = sorted(
        f"{source} -> {target}"
        for source, targets in import_graph().items()
        if source.startswith("plugins.sdk")
        for target in targets
        if not target.startswith("plugins.sdk")
    )
    assert reaching == []
