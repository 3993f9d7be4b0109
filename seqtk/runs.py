"""Run folders: where a run's config, metrics, event files and checkpoints live.

A run folder is ``OUT_DIR/RECIPE/<YYYYmmdd-HHMMSS>`` (or ``--out DIR``), with
``checkpoints/last.pt`` and ``checkpoints/best.pt`` inside. These helpers pick
a fresh one, find the latest, and resolve what ``--resume`` points at; they
never overwrite a folder that already holds a run.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

from seqtk.errors import SeqtkError

_RUN_NAME = re.compile(r"^(\d{8}-\d{6})(?:-(\d+))?$")


def new_run_dir(out_dir: str | Path, recipe_name: str, out: Path | None = None) -> Path:
    """``out``, or a fresh ``OUT_DIR/RECIPE/<timestamp>``; never a folder holding checkpoints."""
    if out is not None:
        run = Path(out)
    else:
        root = Path(out_dir) / recipe_name
        stamp = time.strftime("%Y%m%d-%H%M%S")
        run, n = root / stamp, 1
        while run.exists():  # two runs started within one second
            run, n = root / f"{stamp}-{n}", n + 1
    if any((run / "checkpoints").glob("*.pt")):
        raise SeqtkError(
            f"'{run}' already holds a training run",
            fix="pass --resume to continue it or choose another --out",
        )
    if out is not None:
        check_out_folder(run)
    return run


def check_out_folder(run: Path) -> None:
    """``--out`` must be new, empty, or a seqtk run folder: a run never writes over other files."""
    if run.exists() and not run.is_dir():
        raise SeqtkError(f"--out '{run}' is a file, not a folder", fix="choose a new or empty folder for --out")
    if not run.is_dir():
        return
    entries = sorted(p.name for p in run.iterdir())
    ours = all(name in _RUN_FILES or name.startswith("events.out.tfevents") for name in entries)
    if entries and not (ours and _is_run_config(run / "config.toml")):
        raise SeqtkError(
            f"--out '{run}' already holds files that no seqtk run wrote ({', '.join(entries[:4])}"
            + (", ..." if len(entries) > 4 else "") + "), which a run would overwrite",
            fix="choose a new or empty folder for --out",
        )


_RUN_FILES = frozenset({"config.toml", "metrics.jsonl", "text.jsonl", "checkpoints"})


def _is_run_config(path: Path) -> bool:
    """Whether ``path`` is a config.toml that seqtk wrote (a resolved recipe: [task], [train] and [log])."""
    try:
        lines = set(path.read_text(encoding="utf-8").splitlines())
    except (OSError, UnicodeDecodeError):
        return False
    return {"[task]", "[train]", "[log]"} <= lines


def latest_run(out_dir: str | Path, recipe_name: str) -> Path | None:
    """The newest run folder ``OUT_DIR/RECIPE/<timestamp>`` that holds a checkpoint."""
    root = Path(out_dir) / recipe_name
    if not root.is_dir():
        return None
    runs = []
    for child in root.iterdir():
        match = _RUN_NAME.match(child.name)
        if match and child.is_dir() and (child / "checkpoints" / "last.pt").exists():
            runs.append(((match.group(1), int(match.group(2) or 0)), child))
    return max(runs)[1] if runs else None


def resume_checkpoint(resume: Path | bool, out_dir: str | Path, recipe_name: str, out: Path | None = None) -> Path:
    """The checkpoint file ``--resume`` points at.

    ``True`` means ``out`` when given, else the latest run of the recipe; a
    path is a run folder or a ``.pt`` file inside one.
    """
    if resume is True:
        run = out if out is not None else latest_run(out_dir, recipe_name)
        if run is None:
            raise SeqtkError(
                f"there is no earlier run of recipe '{recipe_name}' under '{out_dir}' to resume",
                fix="train without --resume first, or pass --resume RUN_DIR",
            )
        resume = Path(run)
    path = Path(resume)
    if path.is_dir():
        path = path / "checkpoints" / "last.pt"
        if not path.exists():
            raise SeqtkError(
                f"'{path.parent.parent}' holds no checkpoints/last.pt to resume from",
                fix="pass the folder of a run that reached its first evaluation, or a .pt file",
            )
    elif not path.exists():
        raise SeqtkError(f"the run to resume, '{path}', does not exist", fix="check the path given to --resume")
    return path


def run_dir_of(checkpoint: Path) -> Path:
    """The run folder a checkpoint file belongs to (``RUN/checkpoints/x.pt`` → ``RUN``)."""
    parent = checkpoint.parent
    return parent.parent if parent.name == "checkpoints" else parent


def resume_target(checkpoint: Path, out: Path | None) -> Path:
    """The folder a resumed run writes to: the checkpoint's own run, or ``--out`` for a loose ``.pt`` file."""
    if checkpoint.parent.name == "checkpoints" and out is None:
        return checkpoint.parent.parent
    if out is None:
        raise SeqtkError(
            f"'{checkpoint}' is not inside a run's checkpoints/ folder, so resuming would write the run's "
            f"config.toml, metrics.jsonl and checkpoints/ next to it in '{checkpoint.parent}'",
            fix="pass the run folder (or RUN/checkpoints/last.pt), or add --out NEW_FOLDER to continue it there",
        )
    run = Path(out)
    if run.resolve() != checkpoint.parent.parent.resolve():
        check_out_folder(run)
    return run
