"""``seqtk run`` and ``seqtk summary``."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

RecipeArg = Annotated[str, typer.Argument(help="A recipe file, or the name of a bundled recipe (`seqtk recipes list`).")]
OverridesArg = Annotated[
    Optional[list[str]],
    typer.Argument(help="Overrides as section.key=value, e.g. train.max_steps=100 (values are TOML).", show_default=False),
]


def run(
    recipe: RecipeArg,
    overrides: OverridesArg = None,
    device: Annotated[Optional[str], typer.Option(help="auto, cpu, cuda, cuda:N or mps; overrides train.device.")] = None,
    resume: Annotated[
        Optional[str],
        typer.Option(
            help="Continue from checkpoints/last.pt: of RUN_DIR, or of this recipe's latest run when given bare.",
            metavar="[RUN_DIR]",
        ),
    ] = None,
    out: Annotated[Optional[Path], typer.Option(help="Run directory (default: runs/<recipe>/<timestamp>/).")] = None,
    nproc: Annotated[
        int,
        typer.Option(
            help="Train on this many processes with DistributedDataParallel (launches torchrun; "
            "GPUs: one each, CPU: gloo). train.batch_size stays the global batch.",
            min=1,
        ),
    ] = 1,
) -> None:
    """Train a recipe: progress on the console, TensorBoard logs, checkpoints, resume."""
    import os

    from seqtk.runtime.device import tune_allocator
    from seqtk.tasks.loading import load_recipe
    from seqtk.training.train import run_training

    resolved = load_recipe(recipe, overrides)
    command = os.environ.get("SEQTK_COMMAND") or (
        "seqtk " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv[1:] else f"seqtk run {recipe}"
    )
    if nproc > 1:
        _launch(nproc, recipe, overrides or [], device, resume, out, resolved.train.batch_size, command)
        return
    tune_allocator()
    resume_arg: Path | bool | None = True if resume == "latest" else Path(resume) if resume else None
    from seqtk.cli.state import Stopped
    from seqtk.training.interrupts import TrainingStopped

    try:
        run_training(resolved, out=out, resume=resume_arg, device=device, console=Console(), command=command)
    except TrainingStopped as stop:
        raise Stopped(stop.message(_without_resume(command)), stop.exit_code) from None


def _without_resume(command: str) -> str:
    """``command`` as given (--device, --plugin-dir, ...) less any ``--resume [RUN]``: the message that says how
    to go on adds its own."""
    words: list[str] = []
    for word in shlex.split(command):
        if word == "--resume" or word.startswith("--resume=") or (words[-1:] == ["--resume"] and Path(word).exists()):
            words.append("--resume")
            continue
        words.append(word)
    return " ".join(shlex.quote(w) for w in words if w != "--resume")


def _launch(
    nproc: int, recipe: str, overrides: list[str], device: str | None, resume: str | None, out: Path | None,
    batch_size: int, command: str,
) -> None:
    """Re-run this command under torchrun on ``nproc`` processes (the recipe is already checked)."""
    from seqtk.cli.state import STATE
    from seqtk.errors import SeqtkError
    from seqtk.training import distributed

    distributed.check_batch_size(batch_size, nproc)
    args = (["--debug"] if STATE.debug else []) + [f"--plugin-dir={d}" for d in STATE.plugin_dirs]
    args += ["run", recipe, *overrides]
    args += [f"--device={device}"] if device else []
    args += [f"--out={out}"] if out else []
    # A bare --resume goes last, where the CLI reads it as "the latest run".
    args += ["--resume"] if resume == "latest" else [f"--resume={resume}"] if resume else []
    code = distributed.launch(nproc, args, command)
    if code:
        raise SeqtkError(
            f"distributed training on {nproc} processes failed (exit code {code}); the processes' messages are above",
            fix="fix the first error shown, then run again (add --resume to continue from the last checkpoint)",
        )


def summary(
    recipe: RecipeArg,
    overrides: OverridesArg = None,
    keras: Annotated[bool, typer.Option("--keras", help="Count recurrent parameters as Keras does (one bias per gate).")] = False,
) -> None:
    """Print the model's layers, output shapes and parameter counts (like Keras' model.summary())."""
    from seqtk.runtime.summary import model_summary
    from seqtk.tasks.loading import load_recipe
    from seqtk.tasks.registry import get_task

    from seqtk.tasks.lifecycle import ready_task

    resolved = load_recipe(recipe, overrides)
    task = ready_task(get_task(resolved.task.name), resolved)
    model = task.build_model()
    Console().print(model_summary(model, keras_style=keras))


def register(app: typer.Typer) -> None:
    app.command(context_settings={"allow_interspersed_args": True})(run)
    app.command()(summary)
