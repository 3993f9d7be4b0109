"""``seqtk tasks`` and ``seqtk recipes list|show|validate``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from seqtk.errors import SeqtkError

recipes_app = typer.Typer(help="List, show and validate recipes.", no_args_is_help=True)


def tasks() -> None:
    """List the registered tasks with the package that supplies each, and plugins that failed to load."""
    from seqtk.tasks.contract import check_task_class
    from seqtk.tasks.registry import default_registry

    reg = default_registry().load()
    table = Table(title="seqtk tasks")
    for col in ("task", "source", "description"):
        table.add_column(col, overflow="fold")
    for name in sorted(reg.tasks):
        entry = reg.tasks[name]
        table.add_row(name, entry.source, entry.cls.description)
    console = Console()
    console.print(table)
    for failure in reg.failures:
        console.print(Text.assemble(("failed to load: ", "bold red"), f"{failure.source}: {failure.message}"))
    for alias, real in sorted(reg.aliases.items()):
        console.print(Text.assemble(("note: ", "yellow"), f"the entry point '{alias}' loads the task '{real}'; "
                                    f"recipes must say task.name = '{real}'"))
    for name in sorted(reg.tasks):
        try:
            check_task_class(reg.tasks[name].cls)
        except SeqtkError as exc:
            console.print(Text.assemble(("cannot train: ", "bold red"), exc.message))


@recipes_app.command("list")
def list_recipes() -> None:
    """List the bundled recipes and the command that runs each."""
    from seqtk.config.recipes import bundled_recipes, first_line

    table = Table(title="seqtk recipes")
    table.add_column("name")
    table.add_column("path", overflow="fold")
    table.add_column("runs with", overflow="fold")
    for name, path in bundled_recipes().items():
        table.add_row(name, str(path), first_line(path).lstrip("# "))
    Console().print(table)


@recipes_app.command("show")
def show(
    recipe: Annotated[str, typer.Argument(help="A recipe file or bundled recipe name.")],
    overrides: Annotated[Optional[list[str]], typer.Argument(help="Overrides as section.key=value.", show_default=False)] = None,
) -> None:
    """Print the resolved recipe (defaults filled in, overrides applied) as TOML."""
    from seqtk.config.recipe_io import to_toml
    from seqtk.config.recipes import locate
    from seqtk.tasks.loading import load_recipe

    resolved = load_recipe(recipe, overrides)
    header = f"# resolved from {locate(recipe)}" + (f" with {' '.join(overrides)}" if overrides else "")
    print(to_toml(resolved.to_dict(), header=header), end="")


@recipes_app.command("validate")
def validate(
    args: Annotated[
        Optional[list[str]],
        typer.Argument(help="Recipe files or bundled names (default: every bundled recipe), and overrides as "
                            "section.key=value, applied to each.", show_default=False),
    ] = None,
) -> None:
    """Check recipes without loading data: everything `seqtk run` checks before it reads data."""
    from seqtk.config.recipes import bundled_recipes
    from seqtk.tasks.contract import check_task_class
    from seqtk.tasks.loading import load_recipe
    from seqtk.tasks.registry import get_task

    targets, overrides = _split_validate_args(args or [])
    targets = targets or [str(p) for p in bundled_recipes().values()]
    if not targets:
        raise SeqtkError("there are no recipes to validate", fix="pass recipe paths, or run from the repository root")
    console = Console()
    bad = 0
    for target in targets:
        try:
            check_task_class(get_task(load_recipe(target, overrides).task.name))
            console.print(Text.assemble(("ok      ", "green"), target, " ".join(["", *overrides])))
        except SeqtkError as exc:
            if len(targets) == 1:  # its own problem and fix, as the one-paragraph error, naming the file
                named = target in exc.problem or Path(target).name in exc.problem
                raise SeqtkError(exc.problem if named else f"{target}: {exc.problem}", fix=exc.fix) from None
            bad += 1
            console.print(Text.assemble(("invalid ", "bold red"), f"{target}: {exc.message}"))
    if bad:
        raise SeqtkError(f"{bad} of {len(targets)} recipes are invalid", fix="correct the recipes named above")


def _split_validate_args(args: list[str]) -> tuple[list[str], list[str]]:
    """Recipes and ``key=value`` overrides, as ``seqtk run`` and ``show`` take them.

    >>> _split_validate_args(["recipes/a.toml", "train.lr=nan", "b"])
    (['recipes/a.toml', 'b'], ['train.lr=nan'])
    """
    overrides = [a for a in args if "=" in a and not Path(a).exists()]
    return [a for a in args if a not in overrides], overrides


@recipes_app.command("doc")
def doc(
    task: Annotated[Optional[list[str]], typer.Option("--task", help="Document this installed task (a plugin's, say); repeatable. Default: the built-in tasks.", show_default=False)] = None,
) -> None:
    """Print the recipe reference (docs/recipes.md) generated from the config dataclasses."""
    from seqtk.config.recipes_doc import generate
    from seqtk.tasks.registry import default_registry

    reg = default_registry().load()
    if task:
        print(generate({name: reg.get(name) for name in task}), end="")
        return
    print(generate({name: entry.cls for name, entry in reg.tasks.items() if entry.source.startswith("seqtk ")}), end="")


def register(app: typer.Typer) -> None:
    app.command()(tasks)
    app.add_typer(recipes_app, name="recipes")
