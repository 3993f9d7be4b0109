"""Several processes, one model: DistributedDataParallel under torchrun.

``torchrun --nproc-per-node N -m seqtk run RECIPE`` (or ``seqtk run RECIPE
--nproc N``, which launches exactly that) starts N copies of ``seqtk run``
with ``RANK``, ``LOCAL_RANK`` and ``WORLD_SIZE`` set. Each copy:

- joins a process group: NCCL when it trains on a GPU (``cuda:LOCAL_RANK``),
  gloo on the CPU;
- walks the same deterministic batch plan and takes its contiguous part of
  every global batch (``train.batch_size`` is the *global* batch, so a recipe
  means the same thing on any number of processes; it must divide evenly);
- weights its loss by its share of the batch's items before DDP averages the
  gradients, so the update equals the one a single process would make on the
  whole batch, and sums losses and metrics across ranks weighted by count.

Rank 0 alone evaluates (and broadcasts the metrics, so that every rank takes
the same early-stopping decision), logs, shows progress and writes checkpoints;
a checkpoint also holds every rank's RNG state, so resuming on the same number
of processes is exact. Without ``WORLD_SIZE`` none of this runs, nor with
``WORLD_SIZE=1`` set by hand; a single process that torchrun started
(``torchrun --nproc-per-node 1``) does join a group of one, so that one GPU
checks the very path that N GPUs take (NCCL, the DDP wrapper).
"""

from __future__ import annotations

import contextlib
import gc
import os
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import torch
import torch.distributed as dist
from torch import nn

from seqtk.errors import SeqtkError

T = TypeVar("T")
_RANK_SEED = 1_000_003  # rank r > 0 draws dropout from seed + r * this; rank 0 keeps the 1-process stream


@dataclass(frozen=True)
class Dist:
    """This process's place in the group."""

    rank: int
    world: int
    local_rank: int

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def from_env() -> Dist | None:
    """The torchrun environment, or None for an ordinary single-process run.

    torchrun marks its processes with ``TORCHELASTIC_RUN_ID``; with it, even a
    world of one process trains under DDP, as its user asked.
    """
    world = _env_int("WORLD_SIZE", 1)
    if world < 1 or (world == 1 and not os.environ.get("TORCHELASTIC_RUN_ID")):
        return None
    rank, local = _env_int("RANK", 0), _env_int("LOCAL_RANK", 0)
    if not 0 <= rank < world:
        raise SeqtkError(f"RANK={rank} is outside 0..{world - 1} (WORLD_SIZE={world})", fix="start the processes with torchrun")
    return Dist(rank=rank, world=world, local_rank=local)


def _env_int(name: str, default: int) -> int:
    text = os.environ.get(name, "")
    if not text:
        return default
    try:
        return int(text)
    except ValueError:
        raise SeqtkError(f"the environment variable {name}={text!r} is not an integer", fix="start the processes with torchrun") from None


def check_batch_size(batch_size: int, world: int) -> None:
    """``train.batch_size`` is the global batch: every rank must get the same share."""
    if batch_size % world:
        lower, upper = batch_size - batch_size % world, batch_size + world - batch_size % world
        raise SeqtkError(
            f"train.batch_size {batch_size} is the global batch and must divide evenly among the {world} processes",
            fix=f"set train.batch_size to a multiple of {world} (e.g. {lower or upper} or {upper}), or change the number of processes",
        )


def describe(ctx: Dist, device: torch.device, batch_size: int) -> str:
    """The line rank 0 prints at the start, so that the user sees how many processes train.

    >>> describe(Dist(rank=0, world=2, local_rank=0), torch.device("cpu"), 16)
    'Distributed: 2 processes (gloo on cpu), global batch 16 = 8 per process.'
    """
    backend = dist.get_backend() if dist.is_initialized() else ("nccl" if device.type == "cuda" else "gloo")
    where = "cuda:LOCAL_RANK" if device.type == "cuda" else device.type
    noun = "process" if ctx.world == 1 else "processes"
    return (f"Distributed: {ctx.world} {noun} ({backend} on {where}), "
            f"global batch {batch_size} = {batch_size // ctx.world} per process.")


def device_for(device: torch.device, ctx: Dist) -> torch.device:
    """The device of this rank: ``cuda:LOCAL_RANK`` on GPUs, else the CPU."""
    if device.type == "cpu":
        return device
    if device.type != "cuda":
        raise SeqtkError(
            f"distributed training runs on CUDA GPUs (NCCL) or on the CPU (gloo), not on '{device}'",
            fix="use --device cuda or --device cpu",
        )
    if device.index is not None and ctx.world == 1:
        return device  # a group of one may name its GPU
    if device.index is not None:
        raise SeqtkError(
            f"train.device = '{device}' names one GPU, but torchrun started {ctx.world} processes; "
            "each process takes the GPU numbered by its LOCAL_RANK",
            fix="use --device cuda (or auto), and CUDA_VISIBLE_DEVICES to choose the GPUs",
        )
    count = torch.cuda.device_count()
    if ctx.local_rank >= count:
        raise SeqtkError(
            f"LOCAL_RANK {ctx.local_rank} has no GPU: this node has {count}",
            fix=f"start at most {count} processes per node (torchrun --nproc-per-node {count})",
        )
    return torch.device("cuda", ctx.local_rank)


@contextlib.contextmanager
def process_group(ctx: Dist | None, device: torch.device) -> Iterator[None]:
    """Join the process group for the block (NCCL on CUDA, gloo on the CPU); a no-op without ``ctx``."""
    if ctx is None or dist.is_initialized():
        yield
        return
    if device.type == "cuda":
        torch.cuda.set_device(device)
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo", rank=ctx.rank, world_size=ctx.world)
    try:
        yield
        # Leave together: rank 0 still evaluates, saves and reports after the last step. Not on an error:
        # a rank that failed must not wait for the others.
        dist.barrier()
    finally:
        # The DDP wrapper sits in reference cycles (the training session); freed only at interpreter exit,
        # after the group is gone, its reducer's gloo work aborted the process now and then ("terminate
        # called without an active exception", ~1 run in 8 of tests/training/test_distributed.py). Free it now.
        gc.collect()
        dist.destroy_process_group()


def seed_rank(seed: int, ctx: Dist) -> None:
    """Give each rank its own dropout stream; rank 0 keeps the single-process one."""
    if ctx.rank:
        import random

        torch.manual_seed(seed + ctx.rank * _RANK_SEED)
        random.seed(seed + ctx.rank * _RANK_SEED)


def wrap(model: nn.Module, device: torch.device) -> nn.Module:
    """``model`` in DistributedDataParallel (gradients averaged across ranks in backward)."""
    from torch.nn.parallel import DistributedDataParallel

    return DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)


# ---------------------------------------------------------------------------
# Collectives
# ---------------------------------------------------------------------------


def reduce_step(loss: torch.Tensor, count: int, metrics: dict[str, float], ctx: Dist) -> tuple[float, int, dict[str, float], torch.Tensor]:
    """Sum a step's loss and metrics over the ranks, weighted by each rank's count.

    Returns the global (loss, count, metrics) and the objective to back-propagate:
    the local loss scaled by ``world * count / total``, so that DDP's gradient
    mean equals the gradient of the global batch's mean loss.
    """
    keys = sorted(metrics)
    local = [float(count), float(loss.detach()) * count] + [float(metrics[k]) * count for k in keys]
    sums = torch.tensor(local, dtype=torch.float64, device=loss.device)
    dist.all_reduce(sums)
    total = float(sums[0])
    if total <= 0:
        raise SeqtkError("a training batch had no items on any process", fix="check the task's collate and StepOutput.count")
    values = (sums[1:] / total).tolist()
    objective = loss * (ctx.world * count / total)
    return values[0], int(total), dict(zip(keys, values[1:])), objective


def broadcast(value: T | None, ctx: Dist) -> T:
    """Rank 0's ``value`` on every rank (plain data and tensors)."""
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]  # type: ignore[return-value]


def gather(value: T, ctx: Dist) -> list[T] | None:
    """Every rank's ``value``, in rank order, on rank 0 (None elsewhere)."""
    out: list[Any] | None = [None] * ctx.world if ctx.is_main else None
    dist.gather_object(value, out, dst=0)
    return out


@contextlib.contextmanager
def main_first(ctx: Dist | None) -> Iterator[None]:
    """Rank 0 runs the block first (downloads, caches), then the other ranks.

    The others wait for rank 0's outcome rather than at a barrier: when the block fails on rank 0 (a data
    file it refuses), they raise its error too instead of dying on the connection rank 0 closed as it left
    (gloo), or waiting until torchrun or NCCL's timeout kills them.
    """
    if ctx is not None and not ctx.is_main:
        _outcome(broadcast(None, ctx))
    try:
        yield
    except Exception as exc:
        if ctx is not None and ctx.is_main:
            broadcast(_failure(exc), ctx)
        raise
    if ctx is not None and ctx.is_main:
        broadcast(("ok", None), ctx)


def on_main(fn: Callable[[], T], ctx: Dist | None) -> T:
    """Run ``fn`` on rank 0 only and hand its result (or its error) to every rank.

    Run folders and checkpoints live on rank 0's disk, so rank 0 alone
    resolves, claims and reads them; the others must not wait for a result
    that never comes when it fails.
    """
    if ctx is None:
        return fn()
    if not ctx.is_main:
        return _outcome(broadcast(None, ctx))
    try:
        result = fn()
    except Exception as exc:
        broadcast(_failure(exc), ctx)
        raise
    broadcast(("ok", result), ctx)
    return result


def _failure(exc: Exception) -> tuple[str, Any]:
    """What rank 0 sends the others when it fails: a SeqtkError or an OSError (a full disk, a permission) whole,
    so that every rank prints rank 0's paragraph; anything else, a bug, by name."""
    if isinstance(exc, SeqtkError):
        return "error", (exc.problem, exc.fix)
    if isinstance(exc, OSError) and exc.errno is not None:
        return "oserror", (exc.errno, exc.strerror, exc.filename)
    return "crash", f"{type(exc).__name__}: {exc}"


def _outcome(sent: tuple[str, Any]) -> Any:
    """Rank 0's result, or its failure raised here as well."""
    kind, value = sent
    if kind == "error":
        raise SeqtkError(value[0], fix=value[1])
    if kind == "oserror":
        raise OSError(*value)  # OSError(errno, ...) is the errno's subclass: PermissionError, ...
    if kind == "crash":
        raise RuntimeError(f"rank 0 failed with {value}; its traceback is in rank 0's output")
    return value


# ---------------------------------------------------------------------------
# Launching
# ---------------------------------------------------------------------------


def launch_command(nproc: int, args: Sequence[str]) -> list[str]:
    """The torchrun command that runs ``seqtk ARGS`` on ``nproc`` local processes."""
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}", "-m", "seqtk", *args]


def launch(nproc: int, args: Sequence[str], command: str) -> int:
    """Run ``seqtk ARGS`` under torchrun on this machine; return its exit code."""
    if from_env() is not None:
        raise SeqtkError("--nproc was given inside a torchrun process", fix="drop --nproc: torchrun already started the processes")
    env = dict(os.environ, SEQTK_COMMAND=command)
    # torchrun would set 1 thread per process and warn; share the cores instead.
    env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // nproc)))
    try:
        return subprocess.call(launch_command(nproc, args), env=env)
    except KeyboardInterrupt:
        return 130
