"""Every name a benchmark script imports from seqtk exists: bench/ is not collected by pytest, so a moved
module would otherwise break it silently (bench/vs_keras.py did when read_toml moved to recipe_io)."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"


def _seqtk_imports(path: Path) -> list[tuple[int, str, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in ("seqtk", "seqtk_plugins"):
            found += [(node.lineno, node.module, alias.name) for alias in node.names]
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name, "") for a in node.names if a.name.split(".")[0] in ("seqtk", "seqtk_plugins")]
    return found


@pytest.mark.parametrize("script", sorted(BENCH.glob("*.py")), ids=lambda p: p.name)
def test_every_seqtk_name_a_benchmark_imports_exists(script: Path) -> None:
    missing = []
    for line, module, name in _seqtk_imports(script):
        owner = importlib.import_module(module)
        if name and not hasattr(owner, name):
            try:
                importlib.import_module(f"{module}.{name}")
            except ImportError:
                missing.append(f"{script.name}:{line} from {module} import {name}")
    assert not missing, "benchmarks import names that no longer exist:\n" + "\n".join(missing)
