"""The layout is the architecture: layers point one way, no cycles, small modules (issue 16).

A static read of every module's imports (``ast``, nothing is imported), so it fails the moment a change
crosses a layer upward, closes a cycle, hides an import inside a function without saying why, or lets a
module grow past the size a reader can hold.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Lower rank = lower layer. A module may import its own layer and the layers below; `bot` and `api` are
# siblings that never import each other.
LAYERS = {"db": 0, "knowledge": 0, "core": 1, "bot": 2, "api": 2, "onestop": 3}
SIBLINGS = {("bot", "api"), ("api", "bot"), ("db", "knowledge"), ("knowledge", "db")}
MAX_LINES = 500
MAX_FUNCTION_IMPORTS = 10


@dataclass
class Module:
    name: str
    path: Path
    tree: ast.Module
    imports: set[str] = field(default_factory=set)


def _modules() -> dict[str, Module]:
    mods: dict[str, Module] = {}
    for package in LAYERS:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            mods[name] = Module(name, path, ast.parse(path.read_text(encoding="utf-8")))
    return mods


def _owner(mods: dict[str, Module], dotted: str) -> str | None:
    """The project module an import names (``a.b.c`` → ``a.b`` when ``c`` is an attribute)."""
    while dotted and dotted not in mods:
        dotted = dotted.rpartition(".")[0]
    return dotted or None


def _imported(mods: dict[str, Module], mod: Module) -> Iterator[str]:
    is_package = mod.path.name == "__init__.py"
    for node in ast.walk(mod.tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                here = mod.name.split(".") if is_package else mod.name.split(".")[:-1]
                here = here[: len(here) - node.level + 1]
                base = ".".join([*here, *([node.module] if node.module else [])])
            # `from pkg import sub` depends on the submodule, not on the package's __init__
            names = [f"{base}.{a.name}" if f"{base}.{a.name}" in mods else base for a in node.names]
        else:
            continue
        for dotted in names:
            if dotted.split(".")[0] in LAYERS and (target := _owner(mods, dotted)) and target != mod.name:
                yield target


@pytest.fixture(scope="module")
def graph() -> dict[str, Module]:
    mods = _modules()
    for mod in mods.values():
        mod.imports = set(_imported(mods, mod))
    return mods


def test_layers_point_down(graph: dict[str, Module]) -> None:
    crossed = []
    for mod in graph.values():
        src = mod.name.split(".")[0]
        for target in mod.imports:
            dst = target.split(".")[0]
            if LAYERS[dst] > LAYERS[src] or (src, dst) in SIBLINGS:
                crossed.append(f"{mod.name} -> {target}")
    assert not crossed, "imports against the layers:\n" + "\n".join(sorted(crossed))


def test_no_import_cycles(graph: dict[str, Module]) -> None:
    """Tarjan's strongly connected components over the module graph: every component must be one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v].imports:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for name in graph:
        if name not in index:
            visit(name)
    assert not cycles, "import cycles:\n" + "\n".join(", ".join(c) for c in cycles)


def test_few_function_level_imports_each_explained(graph: dict[str, Module]) -> None:
    found, silent = [], []
    for mod in graph.values():
        lines = mod.path.read_text(encoding="utf-8").splitlines()
        seen: set[int] = set()
        for fn in ast.walk(mod.tree):
            if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(fn):
                if isinstance(node, ast.Import | ast.ImportFrom) and node.lineno not in seen:
                    seen.add(node.lineno)
                    where = f"{mod.path.relative_to(ROOT)}:{node.lineno}"
                    found.append(where)
                    if "#" not in lines[node.lineno - 1] and "#" not in lines[node.lineno - 2]:
                        silent.append(where)
    assert len(found) <= MAX_FUNCTION_IMPORTS, "imports inside functions:\n" + "\n".join(found)
    assert not silent, "an import inside a function needs a comment saying why:\n" + "\n".join(silent)


def test_no_import_shims_or_dynamic_imports(graph: dict[str, Module]) -> None:
    bad = []
    for mod in graph.values():
        for node in ast.walk(mod.tree):
            if isinstance(node, ast.ExceptHandler) and isinstance(node.type, ast.Name) and node.type.id in (
                "ImportError", "ModuleNotFoundError"):
                bad.append(f"{mod.name}:{node.lineno} except {node.type.id}")
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "__import__":
                bad.append(f"{mod.name}:{node.lineno} __import__")
    assert not bad, "\n".join(bad)


def test_modules_stay_small(graph: dict[str, Module]) -> None:
    big = {m.name: n for m in graph.values() if (n := len(m.path.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert not big, f"modules over {MAX_LINES} lines: {big}"


def test_core_has_no_telegram_or_http_types(graph: dict[str, Module]) -> None:
    banned = ("aiogram", "fastapi", "starlette", "httpx")
    bad = []
    for mod in graph.values():
        if not mod.name.startswith(("core", "db", "knowledge")):
            continue
        for node in ast.walk(mod.tree):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            bad += [f"{mod.name}: {n}" for n in names if n.split(".")[0] in banned]
    assert not bad, "\n".join(bad)


def test_the_checker_sees_a_cycle(tmp_path: Path) -> None:
    """The cycle check itself can fail: two modules importing each other form one component."""
    a = Module("core.a", tmp_path / "a.py", ast.parse("from core import b\n"))
    b = Module("core.b", tmp_path / "b.py", ast.parse("import core.a\n"))
    mods = {"core.a": a, "core.b": b}
    for mod in mods.values():
        mod.imports = set(_imported(mods, mod))
    assert a.imports == {"core.b"} and b.imports == {"core.a"}
    with pytest.raises(AssertionError, match="import cycles"):
        test_no_import_cycles(mods)
