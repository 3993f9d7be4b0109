"""``seqtk inspect gradients``: the lectures' vanishing-gradient argument, measured.

Trains the same recipe once per cell, then measures how much gradient reaches
each time step (:mod:`seqtk.training.gradients`) with the freshly initialised and with
the trained model, and plots the trained curves together on a log scale.
"""

from __future__ import annotations

import dataclasses
import io
import os
import tempfile
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console
from rich.table import Table

from seqtk.runtime.strict_json import json_text
from seqtk.errors import SeqtkError

inspect_app = typer.Typer(help="Look inside models: gradients through time.", no_args_is_help=True)

RecipeArg = Annotated[str, typer.Argument(help="A recipe file or bundled recipe name, e.g. toy_first_bit.")]
OverridesArg = Annotated[Optional[list[str]], typer.Argument(help="Overrides as section.key=value.", show_default=False)]


@inspect_app.command("gradients")
def gradients(
    recipe: RecipeArg,
    overrides: OverridesArg = None,
    cells: Annotated[str, typer.Option(help="Cells to compare, comma-separated (any LayerSpec cell).")] = "rnn,lstm,gru",
    out: Annotated[Path, typer.Option(help="The PNG to write.")] = Path("grads.png"),
    steps: Annotated[Optional[int], typer.Option(
        help="Training steps per cell (default: train.max_steps; toy_first_bit needs ~1,000 before any cell learns).")] = None,
    batches: Annotated[int, typer.Option(help="Validation batches each curve averages over.")] = 4,
    runs: Annotated[Optional[Path], typer.Option(help="Keep the runs in this folder (default: a temporary one).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the curves as JSON instead of a table.")] = False,
) -> None:
    """Train the recipe once per cell and plot ||dL/dx_t|| over t for each (log scale)."""
    names = [c.strip() for c in cells.split(",") if c.strip()]
    if not names or batches < 1 or (steps is not None and steps < 1):
        raise SeqtkError("--cells needs at least one cell, and --steps and --batches must be positive",
                         fix="use e.g. --cells rnn,lstm,gru --steps 300")
    _check_out(out)
    console = Console(stderr=as_json)
    with tempfile.TemporaryDirectory(prefix="seqtk-inspect-") as tmp:
        results = {}
        for cell in names:
            console.print(f"training {cell} ...", highlight=False)
            results[cell] = measure_cell(recipe, list(overrides or []), cell, steps, batches, Path(runs or tmp) / cell)
    _plot(results, out, recipe)
    if as_json:
        print(json_text(results))
    else:
        console.print(_table(results, recipe))
        console.print(f"Wrote {out}", highlight=False)


def _check_out(out: Path) -> None:
    """Refuse an --out that cannot take the PNG before any training, not after minutes of it."""
    if out.is_dir() or str(out).endswith(("/", "\\")):
        raise SeqtkError(f"--out '{out}' is a folder; it must name the PNG file to write",
                         fix=f"pass a file name, e.g. --out {out / 'grads.png'}")
    if out.suffix.lower() != ".png":
        raise SeqtkError(f"--out '{out}' does not end in .png; the plot is written as a PNG",
                         fix=f"pass e.g. --out {out.with_suffix('.png')}")
    folder = next((p for p in (out.parent, *out.parent.parents) if p.exists()), Path("."))
    if not folder.is_dir() or not os.access(folder, os.W_OK):
        raise SeqtkError(f"cannot write --out '{out}': '{folder}' is not a folder this user can write to",
                         fix="pass an --out path in a writable folder")


def measure_cell(
    spec: str, overrides: list[str], cell: str, steps: int | None, batches: int, run_dir: Path
) -> dict[str, Any]:
    """Train ``spec`` with ``cell``; the gradient curves at initialisation and after training."""
    from seqtk.runtime.device import seed_everything, select_device
    from seqtk.tasks.registry import get_task
    from seqtk.training.gradients import measure
    from seqtk.training.train import run_training

    recipe = cell_recipe(spec, overrides, cell, steps)
    seed_everything(recipe.train.seed)
    from seqtk.tasks.lifecycle import ready_task

    fresh = ready_task(get_task(recipe.task.name), recipe)
    device = select_device(recipe.train.device)
    start = measure(fresh, fresh.build_model().to(device), _first(fresh.eval_batches("val"), batches), device)
    quiet = Console(file=io.StringIO())
    result = run_training(recipe, out=run_dir, console=quiet, command="seqtk inspect gradients")
    assert result.model is not None and result.task is not None
    trained = measure(result.task, result.model, _first(result.task.eval_batches("val"), batches), device)
    return {
        "steps": result.step, "metrics": result.metrics,
        "init": {k: v.tolist() for k, v in start.items()}, "trained": {k: v.tolist() for k, v in trained.items()},
        "init_start_over_end": _ratios(start), "trained_start_over_end": _ratios(trained),
    }


def cell_recipe(spec: str, overrides: list[str], cell: str, steps: int | None) -> Any:
    """The recipe with every layer's cell set to ``cell`` (``model.cell`` or each ``[[model.layers]]``)."""
    from seqtk.config.conversion import resolve, task_name
    from seqtk.config.recipe_io import apply_overrides, read_toml
    from seqtk.config.recipes import locate
    from seqtk.tasks.registry import get_task

    path = locate(spec)
    extra = ["log.tensorboard=false", "log.progress=false", "log.grad_through_time=false"]
    written = read_toml(path)
    raw = apply_overrides(written, overrides + extra + ([f"train.max_steps={steps}"] if steps else []))
    model = raw.setdefault("model", {})
    if isinstance(model.get("layers"), list):
        model["layers"] = [{**layer, "cell": cell} for layer in model["layers"]]
    else:
        model["cell"] = cell
    task_cls = get_task(task_name(raw, f"recipe '{path}'"))
    if "layers" not in model and "cell" not in {f.name for f in dataclasses.fields(task_cls.model_config)}:
        raise SeqtkError(f"task '{task_cls.name}' has no model.cell or model.layers to set the cell with",
                         fix="inspect a recipe whose [model] section names its cell")
    return resolve(raw, path.stem, task_cls, written=written)


def _first(batches: Any, n: int) -> list[Any]:
    return [b for _, b in zip(range(n), batches)]


def _ratios(curves: dict[str, Any]) -> dict[str, float]:
    return {k: float(v[0] / v[-1]) if float(v[-1]) > 0 else float("nan") for k, v in curves.items()}


def _label(cell: str, layer: str, several: bool) -> str:
    return f"{cell} {layer}" if several else cell


def _plot(results: dict[str, dict[str, Any]], out: Path, recipe: str) -> None:
    from seqtk.runtime.plots import line_plot

    series = {}
    for cell, r in results.items():
        several = len(r["trained"]) > 1
        series.update({_label(cell, layer, several): curve for layer, curve in r["trained"].items()})
    steps = ", ".join(f"{c} {r['steps']}" for c, r in results.items())
    title = f"||dL/dx_t|| after training ({Path(recipe).stem}; steps: {steps})"
    out.parent.mkdir(parents=True, exist_ok=True)
    line_plot(series, title=title, xlabel="time step t", ylabel="||dL/dx_t||", log_y=True).save(out)


def _table(results: dict[str, dict[str, Any]], recipe: str) -> Table:
    table = Table(title=f"gradient reaching step 0, relative to step T-1 ({Path(recipe).stem})")
    for col in ("cell", "layer", "at init", "after training", "val loss"):
        table.add_column(col, justify="left" if col in ("cell", "layer") else "right")
    for cell, r in results.items():
        for layer, ratio in r["trained_start_over_end"].items():
            table.add_row(cell, layer, f"{r['init_start_over_end'][layer]:.1e}", f"{ratio:.1e}",
                          f"{r['metrics'].get('loss', float('nan')):.4g}")
    return table


def register(app: typer.Typer) -> None:
    app.add_typer(inspect_app, name="inspect")
