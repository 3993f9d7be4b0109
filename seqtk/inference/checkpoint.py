"""The checkpoint file: one ``.pt`` holding everything a run needs to go on, written by training and read
by everything that uses a model (loading one for inference: :mod:`seqtk.inference.loading`).

A checkpoint is a plain dictionary::

    {"format": "seqtk-checkpoint", "version": 1, "seqtk_version": "0.1.0",
     "task": "textgen", "recipe_name": "tiny", "recipe": {...},   # Recipe.to_dict()
     "model": state_dict, "optimizer": ..., "scheduler": ..., "scaler": ...,
     "rng": {"torch": ByteTensor, "cuda": [ByteTensor, ...], "python": [3, [...], None]},
     "step": 200, "data": loader.state_dict(), "task_state": task.state_dict(),
     "metrics": {...},   # the validation metrics of this step
     "best": {"metric": "loss", "mode": "min", "value": 1.2, "step": 200, "evals_since": 0},
     "budget": {...} or None,   # train.time_budget's plan and re-plans (seqtk.training.budget)
     "threads": 2}              # torch's CPU thread count when written (None on a GPU); --resume starts at it

(``best.evals_since`` counts evaluations without improvement, for early stopping.)

With ``train.ema_decay`` (:mod:`seqtk.training.ema`) ``"model"`` holds the
moving average of the weights, which is what evaluation, predict and export
read, and ``"ema": {"raw": state_dict, "updates": 800, "decay": 0.99}`` holds
the weights the optimiser trains, which ``--resume`` puts back. A seqtk
older than that key reads such a checkpoint as a plain one (the average as
the model).

It holds only plain data and tensors, so it is read with
``torch.load(weights_only=True)``: loading a checkpoint never runs code.
Writes are atomic (temp file, fsync, rename), so a run killed while saving
leaves the previous checkpoint intact.
"""

from __future__ import annotations

import contextlib
import io
import os
import pickle
import pickletools
import warnings
import zipfile
from collections import OrderedDict
from pathlib import Path
from typing import Any

import torch

from seqtk.errors import SeqtkError
from seqtk.runtime.files import atomic_writer, remove_stale_temps

FORMAT = "seqtk-checkpoint"
VERSION = 1
_FOREIGN_FIX = "pass a checkpoint written by `seqtk run` (RUN_DIR/checkpoints/last.pt or best.pt)"
_UNSAFE_MARKERS = ("GLOBAL", "unrecognized function", "Can only create new object", "Can only build")
# What torch.save's own pickles import; anything else would be imported (and maybe called) on load.
_SAFE_MODULES = ("torch", "collections")
_STRING_OPS = frozenset({"SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE", "SHORT_BINSTRING", "BINSTRING", "STRING"})


# ---------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------


def save_checkpoint(path: str | Path, payload: dict[str, Any]) -> None:
    """Write ``payload`` to ``path`` atomically.

    The payload is pickled into memory first (the process briefly holds the
    checkpoint's bytes, about the size of the file) and only then written: a
    disk that fills inside ``torch.save``'s zip writer surfaces as a bare RuntimeError,
    while a plain file write raises the OSError (ENOSPC, EDQUOT, EROFS) that
    the CLI turns into one paragraph with the fix. The bytes go to a temp file
    in the same folder, are flushed and fsynced, then renamed over ``path``;
    on any failure the temp file is removed and the previous checkpoint at
    ``path`` is untouched.
    """
    path = Path(path)
    _check_plain(payload, "checkpoint")
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    with atomic_writer(path, "wb") as f:  # an OSError (a full disk) names the checkpoint, as the CLI shows it
        _write_all(f, buffer.getbuffer())
    _fsync_dir(path.parent)
    remove_stale_temps(path)  # of writers killed earlier (one writer per run folder)


def _write_all(f: Any, data: memoryview, chunk: int = 1 << 24) -> None:
    """Write ``data`` to ``f`` in 16 MiB pieces (one huge write() can be cut short by some file systems)."""
    for start in range(0, len(data), chunk):
        f.write(data[start : start + chunk])


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable (POSIX); a no-op where folders cannot be opened."""
    with contextlib.suppress(OSError, AttributeError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


_SCALARS = (str, bytes, int, float, bool, type(None))
_TORCH = (torch.Tensor, torch.Size, torch.dtype)


def _check_plain(value: Any, where: str) -> None:
    """Refuse values ``weights_only`` loading would reject, naming where they sit.

    Catching them here, at save time, beats writing a checkpoint that can
    never be loaded again. Types are matched exactly: a numpy float or a named
    tuple would pickle as a class and be refused at load time.
    """
    if type(value) in _SCALARS or isinstance(value, _TORCH):
        return
    if type(value) in (dict, OrderedDict):
        for key, item in value.items():
            _check_plain(key, f"a key of {where}")
            _check_plain(item, f"{where}[{key!r}]")
    elif type(value) in (list, tuple):
        for i, item in enumerate(value):
            _check_plain(item, f"{where}[{i}]")
    else:
        raise SeqtkError(
            f"cannot save {where}: it is a {type(value).__module__}.{type(value).__qualname__}, and "
            "checkpoints hold only plain data (dict, list, str, numbers) and tensors",
            fix="convert it to plain data (e.g. in the task's state_dict) before saving",
        )


# ---------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------


def load_checkpoint(path: str | Path, map_location: Any = "cpu") -> dict[str, Any]:
    """Read a seqtk checkpoint without running code, or raise a clear :class:`SeqtkError`."""
    path = Path(path)
    if not path.exists():
        raise SeqtkError(
            f"the checkpoint '{path}' does not exist",
            fix="check the path; a run keeps its checkpoints in RUN_DIR/checkpoints/ (last.pt, best.pt)",
        )
    if path.is_dir():
        raise SeqtkError(
            f"'{path}' is a folder, not a checkpoint file",
            fix=f"pass a .pt file, e.g. {path / 'checkpoints' / 'best.pt'}",
        )
    _check_crc(path)
    payload = _torch_load(path, map_location)
    _check_format(payload, path)
    return payload


def _check_crc(path: Path) -> None:
    """torch.load does not check the zip's CRC-32s, so flipped bytes in the weights would load as garbage."""
    try:
        if not zipfile.is_zipfile(path):
            return  # a legacy pickle, or not a checkpoint: torch.load and _corrupt tell which
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, RuntimeError) as exc:
        raise _corrupt(path) from exc
    if bad is not None:
        raise SeqtkError(
            f"the checkpoint '{path}' is corrupt: its entry '{bad}' fails its CRC-32 check (bytes changed on disk "
            "or in a copy)",
            fix=f"use {_other(path)}, copy the file again from a good source, or re-run training",
        )


def _torch_load(path: Path, map_location: Any) -> Any:
    try:
        with warnings.catch_warnings():  # torch warns about pickle protocols before it refuses a file
            warnings.simplefilter("ignore", UserWarning)
            return torch.load(path, map_location=map_location, weights_only=True)
    except PermissionError as exc:
        raise SeqtkError(f"the checkpoint '{path}' cannot be read: {exc.strerror}", fix="check the file's permissions") from exc
    except pickle.UnpicklingError as exc:
        names = code_globals(path)
        if names or any(marker in str(exc) for marker in _UNSAFE_MARKERS):
            shown = f" ({', '.join(names[:3])})" if names else ""
            raise SeqtkError(
                f"'{path}' contains Python objects that would run code when loaded{shown}; seqtk refuses it "
                "and ran none of it",
                fix="only load checkpoints written by seqtk, from a source you trust",
            ) from exc
        raise _corrupt(path) from exc
    except (EOFError, RuntimeError, OSError, ValueError, KeyError, IndexError, TypeError) as exc:
        raise _corrupt(path) from exc


def code_globals(path: str | Path) -> list[str]:
    """The Python callables and classes other than torch's that a pickle file would import.

    The pickle opcodes are only read (``pickletools``), never executed. Works on
    torch's zip format (its ``data.pkl``), its legacy format and plain pickles.
    """
    try:
        data = Path(path).read_bytes()
        if zipfile.is_zipfile(io.BytesIO(data)):
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                data = b"".join(archive.read(n) for n in archive.namelist() if n.endswith(".pkl"))
    except (OSError, zipfile.BadZipFile, RuntimeError, ValueError):
        return []
    names: list[str] = []
    stream = io.BytesIO(data)
    while stream.tell() < len(data):  # a legacy file is several pickles in a row
        start = stream.tell()
        names += _globals_of_one_pickle(stream)
        if stream.tell() == start:
            break
    return sorted({n for n in names if n.split(".")[0] not in _SAFE_MODULES})


def _globals_of_one_pickle(stream: io.BytesIO) -> list[str]:
    names: list[str] = []
    strings: list[str] = []
    try:
        for op, arg, _ in pickletools.genops(stream):
            if op.name in _STRING_OPS:
                strings.append(str(arg))
            elif op.name in ("GLOBAL", "INST"):
                names.append(str(arg).replace(" ", "."))
            elif op.name == "STACK_GLOBAL" and len(strings) >= 2:
                names.append(f"{strings[-2]}.{strings[-1]}")
    except (ValueError, EOFError, pickle.UnpicklingError, UnicodeDecodeError):
        stream.seek(0, io.SEEK_END)  # not (or no longer) a pickle: stop scanning
    return names


def _corrupt(path: Path) -> SeqtkError:
    size = path.stat().st_size
    with path.open("rb") as f:
        head = f.read(16)
    try:
        names = zipfile.ZipFile(path).namelist() if zipfile.is_zipfile(path) else None
    except (zipfile.BadZipFile, OSError, EOFError, ValueError):
        names = None  # a damaged directory: reported as corrupt below
    if names is not None and not any(n.endswith(".pkl") for n in names):
        return SeqtkError(f"'{path}' is a zip archive, not a PyTorch checkpoint (it holds no data.pkl)", fix=_FOREIGN_FIX)
    if head and not head.startswith((b"PK", b"\x80")):  # torch.save writes a zip, or (legacy) a pickle
        return SeqtkError(f"'{path}' is not a PyTorch checkpoint file: it starts with {head!r}", fix=_FOREIGN_FIX)
    return SeqtkError(
        f"the checkpoint '{path}' ({size} bytes) is truncated or corrupt; "
        "it may have been cut off while being written",
        fix=f"use {_other(path)} or re-run training",
    )


def _other(path: Path) -> str:
    """The run's other checkpoint, to suggest in place of a damaged ``path``."""
    return "checkpoints/last.pt" if path.name == "best.pt" else "checkpoints/best.pt"


def _check_format(payload: Any, path: Path) -> None:
    if not isinstance(payload, dict) or "format" not in payload:
        raise SeqtkError(f"'{path}' is not a seqtk checkpoint: it holds {describe(payload)}", fix=_FOREIGN_FIX)
    if payload["format"] != FORMAT:
        raise SeqtkError(f"'{path}' is not a seqtk checkpoint (its format is {payload['format']!r})", fix=_FOREIGN_FIX)
    version = payload.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or not 1 <= version <= VERSION:
        raise SeqtkError(
            f"the checkpoint '{path}' has format version {version!r}; this seqtk reads version {VERSION}",
            fix="upgrade seqtk to the version that wrote it" if isinstance(version, int) and version > VERSION
            else "use a checkpoint written by seqtk",
        )


#: what inference reads from a checkpoint, and what resuming reads besides
FOR_INFERENCE = ("task", "recipe_name", "recipe", "model", "task_state")
FOR_RESUME = (*FOR_INFERENCE, "optimizer", "scheduler", "rng", "step", "data")


def require(payload: dict[str, Any], path: Path, keys: tuple[str, ...], purpose: str) -> None:
    """A clear error when a (tampered or hand-made) checkpoint lacks what ``purpose`` reads."""
    missing = [key for key in keys if key not in payload]
    if missing:
        raise SeqtkError(
            f"the checkpoint '{path}' lacks {', '.join(missing)}, which {purpose} needs and seqtk always writes",
            fix="use checkpoints/last.pt or best.pt as seqtk wrote them, or re-run training",
        )


def describe(obj: Any) -> str:
    """A short description of what a foreign ``.pt`` file holds.

    >>> describe({"a": 1})
    "a dictionary with the keys 'a'"
    """
    if isinstance(obj, torch.Tensor):
        return f"a single tensor of shape {tuple(obj.shape)}"
    if not isinstance(obj, dict):
        return f"a {type(obj).__name__}"
    if not obj:
        return "an empty dictionary"
    if "pytorch-lightning_version" in obj:
        return "a PyTorch Lightning checkpoint"
    if all(isinstance(v, torch.Tensor) for v in obj.values()):
        first = next(iter(obj))
        return f"a bare model state_dict ({len(obj)} tensors, e.g. '{first}'), not a training checkpoint"
    keys = ", ".join(repr(str(k)) for k in list(obj)[:6]) + (", ..." if len(obj) > 6 else "")
    return f"a dictionary with the keys {keys}"
