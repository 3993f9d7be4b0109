"""Loggers: metrics.jsonl, TensorBoard, fan-out, console progress and summary."""

from __future__ import annotations

import io
import json

import pytest
import torch
from rich.console import Console

from seqtk.errors import SeqtkError
from seqtk.runtime.loggers import JsonlLogger, Logger, MultiLogger, TensorBoardLogger, TrainProgress, summary_table


def lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_jsonl_writes_and_flushes_each_line(tmp_path):
    logger = JsonlLogger(tmp_path / "metrics.jsonl")
    logger.log_scalars(1, {"train/loss": 2.5, "val/acc": torch.tensor(0.5)})
    assert lines(tmp_path / "metrics.jsonl") == [{"step": 1, "train_loss": 2.5, "val_acc": 0.5}]  # before close
    logger.log_text("sample", "abc\ndef", 1)
    logger.log_image("img", torch.zeros(4, 5, dtype=torch.uint8), 1)
    logger.log_hparams({"a": 1}, {"loss": 1.0})
    logger.close()
    assert lines(tmp_path / "text.jsonl") == [{"step": 1, "tag": "sample", "text": "abc\ndef"}]


def test_jsonl_fresh_run_truncates_and_resume_drops_later_lines(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"step": 1, "x": 1}\n{"step": 2, "x": 2}\n{"step": 3, "x": 3}\n{"step": 4, "x"')
    logger = JsonlLogger(path, append=True, keep_until=2)
    logger.log_scalars(3, {"x": 30})
    logger.close()
    assert [r["step"] for r in lines(path)] == [1, 2, 3] and lines(path)[-1]["x"] == 30
    JsonlLogger(path).close()
    assert path.read_text() == ""


def test_images_are_checked():
    logger = JsonlLogger.__new__(JsonlLogger)  # log_image only validates
    for bad in (torch.zeros(3, 4, 4), torch.zeros(4, 4, 4, dtype=torch.uint8)):
        with pytest.raises(SeqtkError, match=r"uint8 tensor of shape \(3, H, W\) or \(H, W\)"):
            logger.log_image("x", bad, 0)


def test_tensorboard_logger(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    logger = TensorBoardLogger(tmp_path)
    assert isinstance(logger, Logger)
    logger.log_scalars(3, {"train/loss": 1.5})
    logger.log_text("config", "[train]\nlr = 0.1", 0)
    logger.log_image("rgb", torch.zeros(3, 4, 5, dtype=torch.uint8), 3)
    logger.log_image("gray", torch.zeros(4, 5, dtype=torch.uint8), 3)
    logger.log_hparams({"train": {"lr": 0.1, "path": None}, "model": {"layers": [1, 2]}}, {"val/loss": 0.5})
    logger.close()
    events = EventAccumulator(str(tmp_path))
    events.Reload()
    (scalar,) = events.Scalars("train/loss")
    assert (scalar.step, scalar.value) == (3, 1.5)
    assert set(events.Tags()["images"]) == {"rgb", "gray"}
    assert events.Tags()["scalars"] == ["train/loss"]  # the hparams add no one-point scalar cards
    assert sorted(events.PluginTagToContent("hparams")) == ["_hparams_/experiment", "_hparams_/session_start_info"]
    assert [p.name for p in tmp_path.iterdir() if p.is_dir()] == []  # and no sub-run folder


class Recorder:
    def __init__(self):
        self.calls = []

    def log_scalars(self, step, values):
        self.calls.append(("scalars", step))

    def log_text(self, tag, text, step):
        self.calls.append(("text", step))

    def log_image(self, tag, image, step):
        self.calls.append(("image", step))

    def log_hparams(self, hparams, metrics):
        self.calls.append(("hparams", None))

    def close(self):
        self.calls.append(("close", None))


def test_multi_logger_fans_out():
    a, b = Recorder(), Recorder()
    multi = MultiLogger([a, b])
    assert isinstance(multi, Logger)
    multi.log_scalars(1, {})
    multi.log_text("t", "x", 2)
    multi.log_image("i", torch.zeros(2, 2, dtype=torch.uint8), 3)
    multi.log_hparams({}, {})
    multi.close()
    assert a.calls == b.calls == [("scalars", 1), ("text", 2), ("image", 3), ("hparams", None), ("close", None)]


def test_progress_plain_lines_off_a_terminal():
    console = Console(file=io.StringIO(), width=200)
    with TrainProgress(console, max_steps=5, unit="tokens", metric_name="bpc", every=2) as progress:
        for step in range(1, 6):
            if step == 3:
                progress.set_metric(1.25)
            progress.update(step, loss=2.0, count=100, lr=1e-3)
    out = console.file.getvalue().splitlines()
    assert [line.split()[1] for line in out] == ["2/5", "4/5", "5/5"]
    assert "tokens/s" in out[0] and "lr 1.00e-03" in out[0] and "eta" in out[0]
    assert "val bpc 1.25" in out[1] and "val bpc" not in out[0]


def test_progress_bar_on_a_terminal_and_disabled():
    console = Console(file=io.StringIO(), force_terminal=True, width=200)
    with TrainProgress(console, max_steps=3) as progress:
        for step in range(1, 4):
            progress.update(step, loss=1.0, count=10, lr=0.1)
    assert "step 3/3" in console.file.getvalue()
    console = Console(file=io.StringIO(), force_terminal=True, width=200)
    with TrainProgress(console, max_steps=2, enabled=False, every=1) as progress:
        progress.update(1, loss=1.0, count=10, lr=0.1)
    assert console.file.getvalue().startswith("step 1/2")


def test_summary_table():
    console = Console(file=io.StringIO(), width=100)
    console.print(summary_table({"steps": "10/10", "val loss": 0.123456, "run dir": "runs/x"}))
    text = console.file.getvalue()
    assert "Training summary" in text and "0.1235" in text and "runs/x" in text
