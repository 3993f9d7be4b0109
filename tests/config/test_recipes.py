"""Every bundled recipe validates, says how to run it, and has a tiny variant."""

from __future__ import annotations

from pathlib import Path

import pytest

from seqtk.tasks.loading import load_recipe

ROOT = Path(__file__).resolve().parents[2]
RECIPES = sorted((ROOT / "recipes").glob("*.toml"))


def test_there_are_recipes():
    assert RECIPES, "recipes/ is empty"


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.stem)
def test_recipe_validates(path):
    recipe = load_recipe(str(path))
    assert recipe.name == path.stem


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.stem)
def test_first_line_is_the_command_that_runs_it(path):
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith(f"# seqtk run recipes/{path.name}"), first


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.stem)
def test_each_task_prefix_has_a_tiny_variant(path):
    """CI runs <task>_tiny.toml in place of each recipe the README names."""
    prefix = path.stem.split("_")[0]
    assert (ROOT / "recipes" / f"{prefix}_tiny.toml").exists()


def test_docs_recipes_md_is_generated_from_the_dataclasses():
    from seqtk.config.recipes_doc import generate
    from seqtk.tasks.registry import default_registry

    reg = default_registry().load()
    expected = generate({n: e.cls for n, e in reg.tasks.items() if e.source.startswith("seqtk ")})
    actual = (ROOT / "docs" / "recipes.md").read_text(encoding="utf-8")
    assert actual == expected, "regenerate it: seqtk recipes doc > docs/recipes.md"
