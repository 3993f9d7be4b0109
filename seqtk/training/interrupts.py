"""When a run saves between evaluations: Ctrl-C, SIGTERM, and a time interval.

Keras' ``BackupAndRestore`` and ``ModelCheckpoint(save_freq)`` in seqtk's terms.
A first Ctrl-C (or a scheduler's SIGTERM: Slurm, Kubernetes) lets the step
in progress finish, writes ``checkpoints/last.pt`` at that step and stops
with :class:`TrainingStopped`, whose message names the command that resumes
the run; a second Ctrl-C stops at once, as Python would, and leaves the
previous ``last.pt`` intact (checkpoints are written atomically).
``train.checkpoint_every`` also writes ``last.pt`` on a clock, so a run on a
slow machine does not wait for its first evaluation to have something to
resume from. Under torchrun the ranks agree on both decisions every step.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

EXIT_CODES = {"SIGINT": 130, "SIGTERM": 143}


class TrainingStopped(KeyboardInterrupt):
    """A run stopped by Ctrl-C or SIGTERM after saving ``last.pt``; a KeyboardInterrupt, as Ctrl-C is."""

    def __init__(self, signal_name: str, step: int, run_dir: Path) -> None:
        super().__init__(f"{signal_name} at step {step}")
        self.signal_name, self.step, self.run_dir = signal_name, step, run_dir
        self.exit_code = EXIT_CODES.get(signal_name, 130)

    def message(self, run_command: str) -> str:
        """What to tell the user; ``run_command`` is ``seqtk run RECIPE [key=value ...]`` without --resume."""
        last = self.run_dir / "checkpoints" / "last.pt"
        return (
            f"Stopped by {self.signal_name} at step {self.step}; '{last}' holds that step. "
            f"Continue with: {run_command} --resume {self.run_dir}"
        )


class SaveTriggers:
    """Watches the signals and the clock; :meth:`after_step` says whether to save, and whether to stop."""

    def __init__(self, interval: float, console: Any) -> None:
        self.interval, self.console = interval, console
        self.signal_name: str | None = None
        self.last_save = self._first = time.perf_counter()

    def saved(self) -> None:
        self.last_save = time.perf_counter()

    def after_step(self, ctx: Any = None, device: torch.device | None = None) -> tuple[bool, bool]:
        """(save last.pt now, then stop); under torchrun every rank gets rank-wide answers."""
        stop = self.signal_name is not None
        due = stop or (self.interval > 0 and time.perf_counter() - self.last_save >= self.interval)
        if ctx is not None:
            import torch.distributed as dist

            flags = torch.tensor([float(due), float(stop)], device=device)
            dist.all_reduce(flags, op=dist.ReduceOp.MAX)
            due, stop = bool(flags[0] > 0), bool(flags[1] > 0)
            if stop and self.signal_name is None:
                self.signal_name = "SIGTERM"  # another rank was told to stop
        return due, stop

    @contextlib.contextmanager
    def catching(self) -> Iterator[SaveTriggers]:
        """Install the Ctrl-C and SIGTERM handlers for the loop (the main thread only; others keep theirs)."""
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

        def handle(signum: int, frame: Any) -> None:
            if self.signal_name is not None:
                # a second Ctrl-C, typed after the first: stop now. A copy of the first signal (torchrun and
                # Slurm forward one to processes that already got it) is ignored.
                if signum == signal.SIGINT and time.perf_counter() - self._first > 1.0:
                    raise KeyboardInterrupt
                return
            self.signal_name, self._first = signal.Signals(signum).name, time.perf_counter()
            self.console.print(
                f"\n{self.signal_name}: finishing this step and saving checkpoints/last.pt "
                "(Ctrl-C again stops at once, keeping the previous last.pt).",
                highlight=False,
            )

        for sig in previous:
            signal.signal(sig, handle)
        try:
            yield self
        finally:
            for sig, old in previous.items():
                signal.signal(sig, old if old is not None else signal.SIG_DFL)
