"""Finding recipe files: a path, or the name of a bundled recipe (loading one: :mod:`seqtk.tasks.loading`)."""

from __future__ import annotations

import os
from pathlib import Path

from seqtk.errors import SeqtkError, suggest

ENV_RECIPES = "SEQTK_RECIPES_DIR"


def recipe_dirs() -> list[Path]:
    """Folders searched for recipes by name: $SEQTK_RECIPES_DIR, ./recipes, the repo's recipes/."""
    dirs = [Path(p) for p in os.environ.get(ENV_RECIPES, "").split(os.pathsep) if p]
    dirs += [Path.cwd() / "recipes", Path(__file__).resolve().parents[2] / "recipes"]
    seen: list[Path] = []
    for d in dirs:
        if d.is_dir() and d.resolve() not in [s.resolve() for s in seen]:
            seen.append(d)
    return seen


def bundled_recipes() -> dict[str, Path]:
    """Recipe name (file stem) → path, first folder wins."""
    found: dict[str, Path] = {}
    for folder in recipe_dirs():
        for path in sorted(folder.glob("*.toml")):
            found.setdefault(path.stem, path)
    return found


def locate(spec: str) -> Path:
    """A recipe path, or the name of a bundled recipe (``textgen_tiny``)."""
    path = Path(spec)
    if path.exists() or path.suffix == ".toml" or os.sep in spec:
        return path
    known = bundled_recipes()
    if spec in known:
        return known[spec]
    raise SeqtkError(
        f"no recipe named '{spec}'.{suggest(spec, known)} Known recipes: {', '.join(known) or '(none)'}",
        fix="pass a path to a .toml file or a name from `seqtk recipes list`",
    )




def first_line(path: Path) -> str:
    """The recipe's first line: the comment with the command that runs it."""
    with path.open(encoding="utf-8", errors="replace") as fh:
        return fh.readline().strip()
