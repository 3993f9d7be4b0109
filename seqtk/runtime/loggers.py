"""Where a run reports: metrics.jsonl, TensorBoard, and the console.

Loggers share one small protocol (:class:`Logger`). Scalar names use
TensorBoard's ``group/name`` form (``train/loss``, ``val/acc``); the JSONL
file writes them as ``train_loss``, ``val_acc`` so that they are plain
column names for pandas or jq.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import torch
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from seqtk.errors import SeqtkValueError
from seqtk.runtime.files import atomic_write_bytes


@runtime_checkable
class Logger(Protocol):
    """What the trainer and :meth:`Task.log_eval` report to."""

    def log_scalars(self, step: int, values: dict[str, float]) -> None: ...

    def log_text(self, tag: str, text: str, step: int) -> None: ...

    def log_image(self, tag: str, image: torch.Tensor, step: int) -> None: ...

    def log_hparams(self, hparams: dict[str, Any], metrics: dict[str, float]) -> None: ...

    def close(self) -> None: ...


def jsonl_key(name: str) -> str:
    """``train/loss`` → ``train_loss``.

    >>> jsonl_key("val/acc")
    'val_acc'
    """
    return name.replace("/", "_")


class JsonlLogger:
    """Scalars as one JSON object per line (``{"step": 10, "train_loss": ...}``).

    Each line is flushed at once, so the file is current even if the run is
    killed. Text goes to ``text.jsonl`` beside it; images and hparams are left
    to TensorBoard (config.toml already records the hparams).
    """

    def __init__(self, path: str | Path, *, append: bool = False, keep_until: int | None = None) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if append and keep_until is not None:
            _drop_lines_after(self.path, keep_until)
            _drop_lines_after(self.path.with_name("text.jsonl"), keep_until)
        self._file = self.path.open("a" if append else "w", encoding="utf-8")
        self._text_mode = "a" if append else "w"  # a fresh run starts text.jsonl afresh

    @staticmethod
    def _write(handle: Any, record: dict[str, Any]) -> None:
        handle.write(json.dumps(record) + "\n")
        handle.flush()

    def log_scalars(self, step: int, values: dict[str, float]) -> None:
        record = {"step": int(step)} | {jsonl_key(k): float(v) for k, v in values.items()}
        self._write(self._file, record)

    def log_text(self, tag: str, text: str, step: int) -> None:
        with self.path.with_name("text.jsonl").open(self._text_mode, encoding="utf-8") as f:
            self._write(f, {"step": int(step), "tag": tag, "text": text})
        self._text_mode = "a"

    def log_image(self, tag: str, image: torch.Tensor, step: int) -> None:
        check_image(image)

    def log_hparams(self, hparams: dict[str, Any], metrics: dict[str, float]) -> None:
        """Nothing to do: config.toml and the last val line already hold both."""

    def close(self) -> None:
        self._file.close()


def _drop_lines_after(path: Path, step: int) -> None:
    """Keep only the records up to ``step`` (a resumed run re-logs the steps after it)."""
    if not path.exists():
        return
    kept = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            if int(json.loads(line).get("step", 0)) <= step:
                kept.append(line)
        except (ValueError, AttributeError):
            continue  # a half-written last line from a killed run
    atomic_write_bytes(path, "".join(line + "\n" for line in kept).encode("utf-8"))


def check_image(image: torch.Tensor) -> str:
    """Check an image is uint8 (3,H,W) or (H,W); return its TensorBoard ``dataformats``."""
    ok_shape = image.dim() == 2 or (image.dim() == 3 and image.shape[0] == 3)
    if image.dtype != torch.uint8 or not ok_shape:
        raise SeqtkValueError(
            f"log_image expects a uint8 tensor of shape (3, H, W) or (H, W), got {image.dtype} {tuple(image.shape)}",
            fix="convert with (img.clamp(0, 1) * 255).to(torch.uint8) and put channels first",
        )
    return "HW" if image.dim() == 2 else "CHW"


class TensorBoardLogger:
    """TensorBoard event files in ``log_dir`` (tensorboard is imported only here).

    ``purge_step``: a resumed run hides the events a crashed session wrote
    from that step on, so curves do not fold back on themselves.
    """

    def __init__(self, log_dir: str | Path, purge_step: int | None = None) -> None:
        from torch.utils.tensorboard import SummaryWriter  # slow import, only when used

        self.log_dir = Path(log_dir)
        self._writer = SummaryWriter(log_dir=str(self.log_dir), purge_step=purge_step)

    def log_scalars(self, step: int, values: dict[str, float]) -> None:
        for name, value in values.items():
            self._writer.add_scalar(name, float(value), step)

    def log_text(self, tag: str, text: str, step: int) -> None:
        # TensorBoard renders markdown; indenting keeps newlines and spacing.
        self._writer.add_text(tag, "    " + text.replace("\n", "\n    "), step)

    def log_image(self, tag: str, image: torch.Tensor, step: int) -> None:
        self._writer.add_image(tag, image.detach().cpu(), step, dataformats=check_image(image))

    def log_hparams(self, hparams: dict[str, Any], metrics: dict[str, float]) -> None:
        """Declare the run's hyperparameters and the scalar tags that score it (``metrics``' keys; their
        values are not used): TensorBoard's HParams tab then reads those tags' curves as they grow.

        Called when a run starts, so a run stopped early shows there too; unlike ``add_hparams`` this
        writes no extra one-point scalars (which cluttered the Time Series page) and no sub-run.
        """
        from torch.utils.tensorboard.summary import hparams as hparams_summary

        flat = {k: _hparam_value(v) for k, v in flatten(hparams).items()}
        experiment, session_start, _ = hparams_summary(flat, {tag: 0.0 for tag in metrics})
        writer = self._writer._get_file_writer()  # add_hparams' own route to the event file
        writer.add_summary(experiment)
        writer.add_summary(session_start)
        self._writer.flush()

    def close(self) -> None:
        self._writer.flush()
        self._writer.close()


def flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested mappings to dotted keys.

    >>> flatten({"train": {"lr": 0.1}, "name": "x"})
    {'train.lr': 0.1, 'name': 'x'}
    """
    out: dict[str, Any] = {}
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, dotted + "."))
        else:
            out[dotted] = value
    return out


def _hparam_value(value: Any) -> Any:
    """TensorBoard hparams take bool, int, float and str only."""
    if isinstance(value, (bool, int, float, str)):
        return value
    return "none" if value is None else str(value)


class MultiLogger:
    """Sends every call to each of several loggers."""

    def __init__(self, loggers: Iterable[Logger]) -> None:
        self.loggers = list(loggers)

    def log_scalars(self, step: int, values: dict[str, float]) -> None:
        for logger in self.loggers:
            logger.log_scalars(step, values)

    def log_text(self, tag: str, text: str, step: int) -> None:
        for logger in self.loggers:
            logger.log_text(tag, text, step)

    def log_image(self, tag: str, image: torch.Tensor, step: int) -> None:
        for logger in self.loggers:
            logger.log_image(tag, image, step)

    def log_hparams(self, hparams: dict[str, Any], metrics: dict[str, float]) -> None:
        for logger in self.loggers:
            logger.log_hparams(hparams, metrics)

    def close(self) -> None:
        for logger in self.loggers:
            logger.close()


# ---------------------------------------------------------------------------
# Console
# ---------------------------------------------------------------------------


class TrainProgress:
    """Step, loss, main metric, throughput, lr and ETA on the console.

    A live rich progress bar on a terminal; elsewhere (CI logs, pipes) or with
    ``enabled=False`` a plain line every ``every`` steps and at the last step.
    Use as a context manager; call :meth:`update` once per step.
    """

    def __init__(
        self, console: Console, *, max_steps: int, start_step: int = 0, unit: str = "examples",
        metric_name: str = "loss", enabled: bool = True, every: int = 10,
    ) -> None:
        self.console = console
        self.max_steps, self.start_step, self.unit = max_steps, start_step, unit
        self.metric_name, self.every = metric_name, max(1, every)
        self.metric: float | None = None
        self.loss: float | None = None
        self.rate: float | None = None  # smoothed units per second
        self._start = self._last = time.perf_counter()
        self._live = enabled and console.is_terminal
        self._bar: Progress | None = None
        self._task_id: Any = None
        self._lr = 0.0

    def __enter__(self) -> TrainProgress:
        self._start = self._last = time.perf_counter()
        if self._live:
            self._bar = Progress(
                TextColumn("step {task.completed}/{task.total}"), BarColumn(),
                TextColumn("{task.fields[info]}"), TimeRemainingColumn(), console=self.console,
            )
            self._task_id = self._bar.add_task("train", total=self.max_steps, completed=self.start_step, info="")
            self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    def set_total(self, max_steps: int) -> None:
        """A new last step (a time budget's re-plan): the bar, the lines and the ETA follow it."""
        self.max_steps = max_steps
        if self._bar is not None:
            self._bar.update(self._task_id, total=max_steps)

    def set_metric(self, value: float) -> None:
        """The latest validation value of the main metric."""
        self.metric = float(value)

    def update(self, step: int, *, loss: float, count: int, lr: float, show: bool = True) -> None:
        """Record step ``step`` (its loss, the units it processed, its lr) and redraw.

        At a step that ends with an evaluation, pass ``show=False`` and call
        :meth:`after_eval` once it is done, so the line shows the new value.
        """
        now = time.perf_counter()
        rate = count / max(now - self._last, 1e-9)
        self._last = now
        self.rate = rate if self.rate is None else 0.9 * self.rate + 0.1 * rate
        self.loss = loss if self.loss is None else 0.9 * self.loss + 0.1 * loss
        self._lr = lr
        if show:
            self._show(step)

    def after_eval(self, step: int, value: float) -> None:
        """Show step ``step`` with the new validation ``value``; the evaluation's time is not training time."""
        self.set_metric(value)
        self._last = time.perf_counter()
        self._show(step)

    def _show(self, step: int) -> None:
        info = self._info(self._lr)
        if self._bar is not None:
            self._bar.update(self._task_id, completed=step, info=info)
        elif step % self.every == 0 or step == self.max_steps:
            line = f"step {step}/{self.max_steps}  {info}  eta {self._eta(step)}"
            self.console.print(line, highlight=False, soft_wrap=True)  # one line per step in CI logs

    def _info(self, lr: float) -> str:
        parts = [f"loss {self.loss:.4g}"]
        if self.metric is not None:
            parts.append(f"val {self.metric_name} {self.metric:.4g}")
        parts.append(f"{self.rate:,.0f} {self.unit}/s")
        parts.append(f"lr {lr:.2e}")
        return "  ".join(parts)

    def _eta(self, step: int) -> str:
        done = step - self.start_step
        if done <= 0:
            return "?"
        seconds = (time.perf_counter() - self._start) / done * (self.max_steps - step)
        return format_seconds(seconds)


def format_seconds(seconds: float) -> str:
    """``75.2`` → ``'1:15'``; ``3700`` → ``'1:01:40'``.

    >>> format_seconds(75.2), format_seconds(3700)
    ('1:15', '1:01:40')
    """
    total = int(round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def summary_table(rows: Mapping[str, Any], title: str = "Training summary") -> Table:
    """A two-column table for the end of a run; floats get 4 significant digits."""
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column("what", style="bold")
    table.add_column("value")
    for name, value in rows.items():
        text = f"{value:.4g}" if isinstance(value, float) else str(value)
        table.add_row(name, text)
    return table


