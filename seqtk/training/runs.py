"""Run folders: where a run's config, metrics, event files and checkpoints live.

A run folder is ``OUT_DIR/RECIPE/<YYYYmmdd-HHMMSS>`` (or ``--out DIR``), with
``checkpoints/last.pt`` and ``checkpoints/best.pt`` inside. These helpers pick
a fresh one, find the latest, resolve what ``--resume`` points at, open the
folder a session trains into (:func:`open_run`) and write its ``config.toml``;
they never overwrite a folder that already holds a run, nor files no run wrote.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from seqtk.config.recipe_io import to_toml
from seqtk.config.schema import Recipe
from seqtk.errors import SeqtkError
from seqtk.inference.checkpoint import FOR_RESUME, load_checkpoint, require
from seqtk.runtime.loggers import flatten
from seqtk.training import best, budget
from seqtk.version import __version__

if TYPE_CHECKING:
    from rich.console import Console

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
    check_writable(run)
    return run


def check_writable(run: Path) -> None:
    """The run folder must be creatable: refused before any data is prepared, not when the config is written."""
    ancestor = next((p for p in (run, *run.parents) if p.exists() or p.is_symlink()), Path("."))
    what = "--out" if ancestor == run else f"the run folder '{run}':"
    if not ancestor.is_dir():
        problem = "a broken link or a link loop" if ancestor.is_symlink() and not ancestor.exists() else "a file"
        raise SeqtkError(f"{what} '{ancestor}' is {problem}, not a folder, so the run cannot be written there",
                         fix="choose --out in a folder you can write to")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise SeqtkError(f"{what} this user cannot write into '{ancestor}'",
                         fix="choose --out in a folder you can write to, or change its permissions")


def check_out_folder(run: Path) -> None:
    """``--out`` must be new, empty, or a seqtk run folder: a run never writes over other files."""
    if run.exists() and not run.is_dir():
        raise SeqtkError(f"--out '{run}' is a file, not a folder", fix="choose a new or empty folder for --out")
    if not run.is_dir():
        return
    entries = sorted(p.name for p in run.iterdir() if p.name != LOCK_NAME)  # a run's own lock (claim) is no file of the user's
    ours = all(name in _RUN_FILES or name.startswith("events.out.tfevents") for name in entries)
    if entries and not (ours and _is_run_config(run / "config.toml")):
        raise SeqtkError(
            f"--out '{run}' already holds files that no seqtk run wrote ({', '.join(entries[:4])}"
            + (", ..." if len(entries) > 4 else "") + "), which a run would overwrite",
            fix="choose a new or empty folder for --out",
        )


_RUN_FILES = frozenset({"config.toml", "metrics.jsonl", "text.jsonl", "checkpoints", ".seqtk-run.lock"})
#: held (an exclusive flock) by the process training into a run folder, for as long as it trains
LOCK_NAME = ".seqtk-run.lock"


@contextlib.contextmanager
def claim(run: Path) -> Iterator[None]:
    """Hold ``run`` for this process while it trains: a second ``seqtk run`` (or ``--resume``) into the same
    folder at the same time is refused, instead of two runs writing over each other's checkpoints.

    An exclusive ``flock`` on a lock file in the folder; the kernel drops it when the process ends, even by
    SIGKILL, so a crashed run never leaves the folder locked. The folder is created here; if the run wrote
    nothing into it (it failed before its first file), it is removed again. Where ``fcntl`` does not exist
    (Windows) nothing is locked.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    fresh = not run.exists()
    run.mkdir(parents=True, exist_ok=True)
    path = run / LOCK_NAME
    handle = _take_lock(path, run, fcntl)
    if handle is None:
        yield
        return
    try:
        handle.seek(0)
        handle.truncate()
        handle.write(f"seqtk process {os.getpid()}\n")
        handle.flush()
        yield
    finally:
        with contextlib.suppress(OSError):
            if fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB) is None:  # still ours: tidy up
                path.unlink()
                if fresh and not any(run.iterdir()):
                    run.rmdir()
        handle.close()


def _take_lock(path: Path, run: Path, fcntl: Any) -> IO[str] | None:
    """The lock file of ``run``, opened and exclusively locked; None where the file system has no flock.

    A run ending between our open and our lock may unlink the file, so the lock must be on the file that is
    there afterwards; three tries."""
    for _ in range(3):  # the lock file may be unlinked by a run ending between our open and our lock
        handle = _open_lock(path, run)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise SeqtkError(
                f"'{run}' is being trained into right now by {holder}; two runs in one folder would overwrite "
                "each other's checkpoints",
                fix="wait for that run to end (then --resume it if you want more steps), or choose another --out",
            ) from None
        except OSError:  # a file system without flock (some network mounts): train unlocked, as before
            handle.close()
            return None
        if path.exists() and os.fstat(handle.fileno()).st_ino == path.stat().st_ino:
            break  # the lock is on the file that is there now
        handle.close()
    else:  # pragma: no cover - three ends racing our three tries
        raise SeqtkError(f"could not take the lock of '{run}'", fix="run again")
    return handle


def _open_lock(path: Path, run: Path) -> IO[str]:
    """The lock file, opened to be locked. One that is there but cannot be opened (another user's, left by a
    run of theirs; a folder) would leave the folder unheld: refused, with the way out."""
    try:
        return open(path, "a+", encoding="utf-8")
    except OSError as exc:
        if not (path.exists() or path.is_symlink()) or exc.errno not in (errno.EACCES, errno.EPERM, errno.EISDIR):
            raise  # the folder itself cannot be written: the CLI says so (a full disk, a read-only mount, ...)
        raise SeqtkError(
            f"the lock file '{path}' by which a run holds its folder cannot be opened ({exc.strerror}): it may belong "
            f"to a run of another user, and without it nothing keeps a second run from writing into '{run}'",
            fix=f"choose another --out, or, if no run is training into '{run}', remove '{path}'",
        ) from None


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
        if any((run / "checkpoints").glob("*.pt")):  # another run's checkpoints would be overwritten
            raise SeqtkError(
                f"--out '{run}' already holds another training run, whose checkpoints, config.toml and "
                f"metrics.jsonl resuming '{checkpoint}' there would overwrite",
                fix="choose a new or empty folder for --out, or drop --out to continue the run in its own folder",
            )
    return run


def open_run(
    recipe: Recipe, out: Path | None, resume: Path | bool | None, console: Console
) -> tuple[dict | None, Path, Path | None, Recipe]:
    """Where a training session starts: (checkpoint payload or None, run folder, checkpoint path or None, recipe).

    A fresh run gets a new folder; a resumed one its checkpoint, checked, with the recipe's changes listed
    (a time-budgeted run keeps the ``max_steps`` its start chose: :func:`seqtk.training.budget.on_resume`).
    """
    if resume is None or resume is False:
        return None, new_run_dir(recipe.log.out_dir, recipe.name, out), None, recipe
    source = resume_checkpoint(resume, recipe.log.out_dir, recipe.name, out)
    payload = load_checkpoint(source)
    if payload.get("task") != recipe.task.name:
        raise SeqtkError(
            f"'{source}' was written by task '{payload.get('task')}', but the recipe trains '{recipe.task.name}'",
            fix="resume with the recipe that started the run",
        )
    require(payload, source, FOR_RESUME, "resuming")
    recipe = budget.on_resume(recipe, payload)
    console.print(f"Resuming '{source}' at step {payload['step']}.", highlight=False)
    old, new = flatten(payload["recipe"]), flatten(recipe.to_dict())
    for key in sorted(old.keys() | new.keys()):
        if old.get(key) != new.get(key):
            console.print(f"  changed: {key} {old.get(key)!r} -> {new.get(key)!r}", highlight=False)
    run_dir = resume_target(source, out)
    _keep_later_last(source, int(payload["step"]), console)
    return payload, run_dir, source, recipe


def _keep_later_last(source: Path, step: int, console: Console) -> None:
    """Resuming from best.pt (or another earlier file) would overwrite a later last.pt: keep a copy."""
    last = source.parent / "last.pt"
    if source.name == "last.pt" or not last.is_file():
        return
    try:
        later = int(load_checkpoint(last).get("step", 0))
    except SeqtkError:
        return  # an unreadable last.pt is no finished checkpoint
    if later > step:
        keep = last.with_name(f"last-step{later}.pt")
        if not keep.exists():
            shutil.copy2(last, keep)
        console.print(f"  last.pt (step {later}) is later than '{source.name}' (step {step}); kept as '{keep}'.",
                      highlight=False)


def write_config(run_dir: Path, recipe: Recipe, command: str, note: str = "") -> None:
    """Write ``config.toml``, headed by the command that reproduces the run (and ``note``, a comment line)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    line = " ".join(command.split())
    header = f"# {line}" if line else f"# resolved recipe '{recipe.name}' (seqtk {__version__})"
    header += f"\n{note}" if note else ""
    (run_dir / "config.toml").write_text(to_toml(recipe.to_dict(), header=header), encoding="utf-8")


def finished(recipe: Recipe, payload: dict, run_dir: Path, console: Console) -> bool | None:
    """For a run that has nothing left to train, say so and return whether it had stopped early; else None."""
    step, patience = int(payload["step"]), recipe.train.patience
    if step >= recipe.train.max_steps:
        console.print(
            f"The run in '{run_dir}' is already at step {step} (train.max_steps = {recipe.train.max_steps}); "
            "there is nothing to train. To train further, raise train.max_steps"
            + (' (with train.time_budget = "")' if budget.is_on(recipe) else "") + ".",
            highlight=False,
        )
        return False
    if best.patience_spent(payload.get("best"), patience):
        console.print(
            f"The run in '{run_dir}' stopped early at step {step} (no improvement in {patience} evaluations); "
            "there is nothing to train. To go on, raise train.patience or set it to 0.",
            highlight=False,
        )
        return True
    return None
