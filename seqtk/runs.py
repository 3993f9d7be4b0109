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
    return run


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
