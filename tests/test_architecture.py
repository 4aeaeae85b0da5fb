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


def imported_modules(path: Path, modules: dict[str, Path], own: str | None = None) -> set[str]:
    """Project modules that `path` (module `own`, by default named from its path) imports
    anywhere in the file (module level or inside a def)."""
    found: set[str] = set()
    own = own or module_name(path)
    package = own if path.name == "__init__.py" else own.rpartition(".")[0]
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
    found.discard(own)
    return found


def import_graph() -> dict[str, set[str]]:
    modules = project_modules()
    return {name: imported_modules(path, modules) for name, path in modules.items()}


def layer_of(module: str) -> int:
    return LAYERS.index(module.split(".")[0])


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    return sorted(
        f"{source} -> {target}"
        for source, targets in graph.items()
        for target in targets
        if layer_of(target) < layer_of(source)
        and not (source == COMPOSITION_ROOT and target.endswith(".views"))
    )


def test_apps_import_only_downwards():
    assert upward_imports(import_graph()) == [], "imports that reach up a layer (DESIGN.md)"


def test_an_upward_import_written_last_is_found(tmp_path):
    """The check itself: a module's last import (and one inside a def) counts like the others."""
    source = tmp_path / "outgoing.py"
    source.write_text(
        "from plugins.base import Plugin\nimport gateway_project.conf\n\n\n"
        "def late():\n    from proxy.orchestrator import handle_proxy_request\n"
        "from keys.selectors import api_key_verify\n"
    )
    modules = {name: Path() for name in ("plugins.base", "gateway_project.conf")}
    modules |= {"proxy.orchestrator": Path(), "keys.selectors": Path(), "gateways.x": source}
    found = imported_modules(source, modules, "gateways.x")
    assert found == {"plugins.base", "gateway_project.conf", "proxy.orchestrator", "keys.selectors"}
    assert upward_imports({"gateways.x": found}) == [
        "gateways.x -> keys.selectors",
        "gateways.x -> proxy.orchestrator",
    ]


def test_a_module_does_not_count_its_own_name(tmp_path):
    source = tmp_path / "mod.py"
    source.write_text("import gateways.mod\nfrom plugins.base import Plugin\n")
    modules = {"gateways.mod": source, "plugins.base": Path()}
    assert imported_modules(source, modules, "gateways.mod") == {"plugins.base"}


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


def test_only_plugins_import_the_builtin_plugins():
    """The proxy and the apps above plugins use the SDK and the pipeline, never a built-in
    plugin module (the registry loads those)."""
    reaching = sorted(
        f"{source} -> {target}"
        for source, targets in import_graph().items()
        if source.split(".")[0] in ("proxy", "observability", "keys", "gateways")
        for target in targets
        if target == "plugins.builtin" or target.startswith("plugins.builtin.")
    )
    assert reaching == []
