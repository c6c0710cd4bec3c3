"""The package's shape: no import cycles between ttsfw's modules, and no module grown past
one screenful of concepts (300 lines; model definitions excepted)."""

from __future__ import annotations

import ast
from pathlib import Path

from conftest import REPO

PACKAGE = REPO / "ttsfw"
#: model definitions (a network per file) may be longer: components/<name>/model.py, layers.py
MODEL_FILES = ("model.py", "layers.py")
MAX_LINES = 300


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def module_level_imports(path: Path, modules: set[str]) -> set[str]:
    """ttsfw modules that `path` imports when it is imported: top-level statements only (a
    function's import runs when it is called; ``if TYPE_CHECKING:`` never runs)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            submodules = {f"{target}.{alias.name}" for alias in node.names} & modules
            found |= submodules or {target}
    return {m for m in found if m in modules and m != name}


def import_graph() -> dict[str, set[str]]:
    paths = list(PACKAGE.rglob("*.py"))
    modules = {module_name(p) for p in paths}
    return {module_name(p): module_level_imports(p, modules) for p in paths}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle (as a path that returns to its start), or None."""
    state: dict[str, str] = {}

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt, [*path, nxt])):
                return cycle
        state[node] = "done"
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start, [start])):
            return cycle
    return None


def test_no_import_cycles_inside_ttsfw():
    cycle = find_cycle(import_graph())
    assert cycle is None, " -> ".join(cycle)


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_graph_sees_relative_and_package_imports():
    graph = import_graph()
    assert "ttsfw.weights.load" in graph["ttsfw.weights.store"]  # from .load import ...
    assert "ttsfw.engine" in graph["ttsfw.pipeline"]
    assert "ttsfw.pipeline" not in graph["ttsfw.engine"]  # only under TYPE_CHECKING


def test_no_module_outside_the_model_definitions_is_over_300_lines():
    long = {
        str(p.relative_to(REPO)): n
        for p in PACKAGE.rglob("*.py")
        if not (p.relative_to(PACKAGE).parts[0] == "components" and p.name in MODEL_FILES)
        and (n := len(p.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}, f"split these (one concept per module): {long}"


#: what a plugin may import from ttsfw: the top-level face, the errors and the weights helpers
PUBLIC_FACE = {"ttsfw", "ttsfw.errors", "ttsfw.weights"}
PLUGINS = [REPO / "plugins" / "ttsfw-hifigan" / "src", REPO / "plugins" / "template" / "src", REPO / "tests" / "toy_plugin"]


def test_the_shipped_plugins_use_only_the_public_face():
    used = {
        f"{path.relative_to(REPO)}: {node.module}"
        for root in PLUGINS
        for path in root.rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.ImportFrom) and not node.level and (node.module or "").split(".")[0] == "ttsfw"
        and node.module not in PUBLIC_FACE
    }
    assert used == set()


def test_the_public_face_is_importable_from_ttsfw_without_torch():
    import subprocess
    import sys

    probe = ("import sys, ttsfw; names = [n for n in ttsfw.__all__ if n != '__version__']\n"
             "light = {n: getattr(ttsfw, n) for n in ('hookimpl', 'BuildContext')}\n"
             "print('torch' in sys.modules); [getattr(ttsfw, n) for n in names]; print(len(names))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split()
    import ttsfw

    # hooks and the build context need no torch; the stages, models and loaders do
    assert out == ["False", str(len(ttsfw._PUBLIC))]
