"""data.crop: each training text read as a random window every epoch, drawn from (seed, epoch), so a run resumes bit-identical."""

from __future__ import annotations

import io
import math

import pytest
import torch
from rich.console import Console

from seqtk.config.conversion import resolve
from seqtk.errors import SeqtkError
from seqtk_plugins.classify.task import ClassifyTask
from test_classify_task import prepared, recipe, write_csv


def test_crop_reads_a_random_window_of_each_text_each_epoch_and_whole_texts_when_evaluating(tmp_path):
    from seqtk.data.batches import bucketed_batches, epoch_generator
    from seqtk_plugins.classify.batching import TrainBatches, draw_windows

    task, _ = prepared(recipe(write_csv(tmp_path / "a.csv"), data={"crop": 0.5}))
    data = task.encoded["train"]
    loader = task.train_loader()
    plan = loader.plan(0)
    windows = [w for batch in plan for w in batch]
    assert sorted(i for i, _, _ in windows) == list(range(len(data)))  # every text once an epoch
    for i, start, stop in windows:
        assert 0 <= start < stop <= int(data.lengths[i]) and stop - start >= math.ceil(0.5 * int(data.lengths[i]))
    assert any(stop - start < int(data.lengths[i]) for i, start, stop in windows)
    assert loader.plan(0) == plan and loader.plan(1) != plan  # drawn from (seed, epoch): a resumed run reads the same
    batch = loader.collate(plan[0])
    for row, (i, start, stop) in enumerate(plan[0]):
        assert batch.lengths[row] == stop - start and batch.labels[row] == data.labels[i] and batch.index[row] == i
        assert batch.ids[row, : stop - start].tolist() == data.ids[i][start:stop].tolist()
        assert not batch.ids[row, stop - start :].any()
    before_crop = bucketed_batches(data.lengths.tolist(), 16, epoch_generator(0, 0), 50)  # what plan() gave before
    assert TrainBatches(data, 16, 0, True, 50, 0).plan(0) == before_crop
    assert TrainBatches(data, 16, 0, True, 50, 0, crop=1.0).plan(0) == before_crop  # crop 1: whole texts
    unbucketed = TrainBatches(data, 16, 0, False, 50, 40, balanced=True, crop=0.5)
    drawn = [w for batch in unbucketed.plan(0) for w in batch]
    assert len(drawn) == len(data) and len({i for i, _, _ in drawn}) < len(data)  # drawn with replacement
    assert unbucketed.collate(unbucketed.plan(0)[0]).ids.shape[1] == 40  # padded to pad_to
    assert torch.equal(torch.cat([b.lengths for b in task.eval_batches("val")]).sort().values,
                       task.encoded["val"].lengths.sort().values)  # fmt: skip
    starts, sizes = draw_windows(torch.full((2000,), 10), 0.3, torch.Generator().manual_seed(0))
    assert sorted(set(sizes.tolist())) == list(range(3, 11)) and bool((starts + sizes <= 10).all())
    with pytest.raises(SeqtkError, match="data.crop must be between 0 and 1"):
        resolve(recipe(tmp_path / "a.csv", data={"crop": 1.5}), "classify_test", ClassifyTask)


def test_a_cropped_run_resumes_bit_identical(tmp_path):
    from seqtk.inference.checkpoint import load_checkpoint
    from seqtk.training.train import run_training

    csv = write_csv(tmp_path / "a.csv")
    quiet = Console(file=io.StringIO())
    ClassifyTask.console = quiet
    try:
        for name, steps, resume in (("straight", 24, False), ("resumed", 10, False), ("resumed", 24, True)):
            raw = recipe(csv, data={"crop": 0.4}, train={"max_steps": steps, "eval_every": 8})
            run_training(resolve(raw, "classify_test", ClassifyTask), out=tmp_path / name, resume=resume, console=quiet)
    finally:
        ClassifyTask.console = None
    a, b = (load_checkpoint(tmp_path / n / "checkpoints" / "last.pt")["model"] for n in ("straight", "resumed"))
    assert all(torch.equal(a[k], b[k]) for k in a)
