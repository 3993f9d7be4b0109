"""The import order of seqtk's areas (docs/architecture.md, "Areas and layers").

Each area may import only itself and the areas below it. Every import counts: at the top of a module,
inside a function, under ``TYPE_CHECKING``, and ``from seqtk import x``. Code inside seqtk never
imports through a re-export (the package root, the ``seqtk.config`` and ``seqtk.data`` faces,
``seqtk.training.checkpoint``, or an old path in ``seqtk/_compat``), and no module imports a
circle of modules back to itself. The imports are read from the source with ``ast``, so nothing
is executed and no import hidden in a function escapes.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

SEQTK = Path(__file__).resolve().parent.parent / "seqtk"

#: bottom first; a module of one area may import its own area and those before it
LAYERS = ("base", "runtime", "data", "text", "nn", "config", "tasks", "inference", "training", "serve", "cli", "top")
#: modules directly in seqtk/: errors and version are below everything, the rest is the public face above it
ROOT_AREAS = {"seqtk.errors": "base", "seqtk.version": "base", "seqtk": "top", "seqtk.__main__": "top",
              "seqtk.testing": "top"}
#: modules that only hand on names of modules elsewhere, for code outside seqtk
RE_EXPORTS = {"seqtk", "seqtk.config", "seqtk.data", "seqtk.training.checkpoint"}
NEVER = {  # the pairs the architecture promises in words, checked by name as well as by the order
    "nn": ("training", "inference", "cli", "tasks", "config"),
    "data": ("nn", "text"),
}


def module_name(path: Path) -> str:
    parts = path.relative_to(SEQTK.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in SEQTK.rglob("*.py") if "_compat" not in p.parts}


def area_of(name: str) -> str:
    if name in ROOT_AREAS:
        return ROOT_AREAS[name]
    area = name.split(".")[1]
    assert area in LAYERS, f"{name} is in no area of LAYERS: add its folder to LAYERS and docs/architecture.md"
    return area


def imports_of(name: str) -> Iterator[tuple[str, int]]:
    """(the seqtk module imported, line) for every import in module ``name``, wherever it stands."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from ((a.name, node.lineno) for a in node.names if a.name.split(".")[0] in ("seqtk", "seqtk_plugins"))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(up + ([base] if base else []))
            if base.split(".")[0] not in ("seqtk", "seqtk_plugins"):
                continue
            for alias in node.names:  # `from seqtk.config import checks` imports the module seqtk.config.checks
                sub = f"{base}.{alias.name}"
                yield (sub if sub in MODULES else base), node.lineno


def test_every_module_is_in_an_area():
    for name in MODULES:
        area_of(name)


def problems(name: str, targets: list[tuple[str, int]]) -> list[str]:
    """What is wrong with module ``name`` importing ``targets`` ((module, line) pairs), in words."""
    out, mine = [], area_of(name)
    for target, line in targets:
        where = f"{name}:{line}"
        if target.startswith("seqtk_plugins"):
            out.append(f"{where} imports the plugin {target}: the core imports no task")
        elif target not in MODULES:
            out.append(f"{where} imports {target}, an old path (seqtk/_compat): import its new path")
        elif name != "seqtk" and target in RE_EXPORTS:  # the root is itself the face of the public classes
            out.append(f"{where} imports {target}, a re-export: import the module that defines it")
        elif LAYERS.index(area_of(target)) > LAYERS.index(mine):
            out.append(f"{where}: {mine} imports {target} of {area_of(target)}, an area above it "
                       f"(order: {' < '.join(LAYERS)})")
        elif area_of(target) in NEVER.get(mine, ()):
            out.append(f"{where}: {mine} never imports {area_of(target)}")
    return out


@pytest.mark.parametrize("name", sorted(MODULES))
def test_a_module_imports_only_its_own_area_and_those_below(name):
    assert problems(name, list(imports_of(name))) == []


def test_no_module_imports_itself_through_a_circle():
    graph = {name: {t for t, _ in imports_of(name) if t in MODULES and t != name} for name in MODULES}
    circles = [sorted(c) for c in strongly_connected(graph) if len(c) > 1]
    assert not circles, f"import circles: {circles}"


def test_the_checks_can_fail():
    """Each rule above finds what it is for: an upward import, an old path, a re-export, a plugin, a circle."""
    found = problems("seqtk.nn.cells", [("seqtk.training.train", 3), ("seqtk.vocab", 4), ("seqtk.config", 5),
                                         ("seqtk_plugins.tag.task", 6), ("seqtk.runtime.device", 7)])
    assert [f.split(" ")[0] for f in found] == ["seqtk.nn.cells:3:", "seqtk.nn.cells:4", "seqtk.nn.cells:5",
                                                 "seqtk.nn.cells:6"]
    assert problems("seqtk.data.tables", [("seqtk.text.vocab", 1)])  # below in the order, and named in NEVER
    assert sorted(map(sorted, strongly_connected({"a": {"b"}, "b": {"a"}, "c": {"a"}}))) == [["a", "b"], ["c"]]


def strongly_connected(graph: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's strongly connected components of ``graph`` (a module and what it imports)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out: list[set[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                component.add(w)
                if w == v:
                    break
            out.append(component)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


ARCHITECTURE = SEQTK.parent / "docs" / "architecture.md"


def test_docs_architecture_names_every_module_and_old_path():
    """docs/architecture.md has one line for every module (every .py under seqtk/ but __init__.py) and every
    old path in seqtk/_compat, and cites this test."""
    text = ARCHITECTURE.read_text(encoding="utf-8")
    files = [p for p in SEQTK.rglob("*.py") if p.name != "__init__.py"]
    missing = [str(p.relative_to(SEQTK.parent)) for p in files if f"`{p.relative_to(SEQTK.parent)}`" not in text]
    assert not missing, f"docs/architecture.md does not name {missing}: add a line for each under its area"
    assert "tests/test_layers.py" in text
    order = text[text.index("## Areas and layers"):].split("```")[1]
    assert [part.strip() for part in order.split("<")][1:-1] == list(LAYERS[1:-1])  # the drawn order is LAYERS
