"""Every recipe's tiny stand-in trains and evaluates through the CLI.

These are what CI runs in place of the full recipes (README: each
``<prefix>_<name>`` recipe has a ``<prefix>_tiny`` stand-in, which
tests/config/test_recipes.py checks). Data come from the seqtk data folder, fetched
on first use like any run.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from seqtk.cli.main import main

RECIPES = Path(__file__).resolve().parent.parent / "recipes"
TINY = sorted(RECIPES.glob("*_tiny.toml"))
#: data a stand-in reads from outside the data folder, and how to get it
EXTERNAL = {"fashion_tiny": (Path("/usr/share/datasets/fashion-mnist"), "apt-get install dataset-fashion-mnist")}


@pytest.mark.parametrize("path", TINY, ids=lambda p: p.stem)
def test_tiny_recipe_trains_and_evaluates(path, tmp_path, capsys):
    folder, how = EXTERNAL.get(path.stem, (None, ""))
    if folder is not None and not folder.exists():
        pytest.skip(f"needs {folder} ({how})")
    assert main(["run", str(path), "--out", str(tmp_path / "run")]) == 0, capsys.readouterr().err
    capsys.readouterr()
    assert main(["eval", str(tmp_path / "run" / "checkpoints" / "last.pt"), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)  # stdout holds the JSON only; reports go to stderr
    assert result["split"] == "val" and math.isfinite(result["val_loss"])
