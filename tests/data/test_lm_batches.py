"""Language-model batches: AWD-LSTM's variable-length BPTT over carried streams, and its exact resume."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from seqtk.cli.main import main
from seqtk.data.lm_batches import StreamBatches, bptt_lr_scale, variable_lengths
from seqtk.inference.checkpoint import load_checkpoint

RECIPES = Path(__file__).resolve().parents[2] / "recipes"


def test_variable_lengths_follow_awd_lstms_draw():
    generator = torch.Generator().manual_seed(3)
    spans = variable_lengths(2, 20_000, 70, generator)
    starts = [s for s, _ in spans]
    lengths = torch.tensor([n for _, n in spans], dtype=torch.float)
    assert starts[0] == 2 and all(a + n == b for (a, n), b in zip(spans, starts[1:]))  # contiguous
    assert spans[-1][0] + spans[-1][1] == 20_000  # to the end of the streams
    assert lengths[:-1].min() >= 5
    half = lengths < 52  # the draws around bptt / 2 = 35 (sd 5) against those around 70
    assert 0.03 < float(half.float().mean()) < 0.07  # p = 0.05
    assert abs(float(lengths[~half].mean()) - 69.5) < 0.5  # int() truncates: mean 70 - ~0.5
    assert abs(float(lengths[~half].std()) - 5.0) < 0.3
    # the same draws by hand, as AWD-LSTM's loop writes them
    generator = torch.Generator().manual_seed(3)
    i, expected = 2, []
    while i < 20_000:
        bptt = 70 if float(torch.rand((), generator=generator)) < 0.95 else 35
        n = min(max(5, int(bptt + 5 * float(torch.randn((), generator=generator)))), 20_000 - i)
        expected.append((i, n))
        i += n
    assert spans == expected


def test_variable_stream_batches_carry_on_and_repeat_per_seed_and_epoch():
    ids = torch.arange(2001)
    batches = StreamBatches(ids, batch_size=4, seq_len=10, seed=7, variable=True)
    plan = batches.plan(0)
    assert plan == batches.plan(0) and plan != batches.plan(1)  # from (seed, epoch) alone
    assert plan != StreamBatches(ids, 4, 10, seed=8, variable=True).plan(0)
    assert len({n for _, n in plan}) > 3
    x0, y0 = batches.collate(plan[0])
    x1, _ = batches.collate(plan[1])
    assert x0.shape == (4, plan[0][1]) and torch.equal(y0, x0 + 1)
    assert torch.equal(x1[:, 0], x0[:, -1] + 1)  # row b of the next batch continues row b
    assert bptt_lr_scale(x0, 10) == plan[0][1] / 10
    fixed = StreamBatches(ids, batch_size=4, seq_len=10, seed=7)  # off: the plan it always had
    assert all(isinstance(s, int) for s in fixed.plan(0)) and fixed.collate(fixed.plan(0)[0])[0].shape == (4, 10)


def test_a_variable_bptt_run_resumes_exactly(tmp_path):
    common = [str(RECIPES / "textgen_tiny.toml"), 'data.batching="stream"', "train.variable_bptt=true",
              "data.seq_len=16", "train.batch_size=8", "model.hidden_size=16", "model.embedding_dim=8",
              "train.eval_every=3", "train.eval_batches=2", "log.every=1", "log.tensorboard=false", "log.progress=false"]  # fmt: skip
    assert main(["run", *common, "train.max_steps=6", "--out", str(tmp_path / "straight")]) == 0
    assert main(["run", *common, "train.max_steps=3", "--out", str(tmp_path / "halves")]) == 0
    assert main(["run", *common, "train.max_steps=6", "--out", str(tmp_path / "halves"), "--resume"]) == 0
    a, b = (load_checkpoint(tmp_path / run / "checkpoints" / "last.pt") for run in ("straight", "halves"))
    assert a["step"] == b["step"] == 6
    for name in a["model"]:
        assert torch.equal(a["model"][name], b["model"][name]), name
    rates = [json.loads(line).get("train_lr") for line in (tmp_path / "straight" / "metrics.jsonl").open()]
    lengths = {round(r / 0.02 * 16, 6) for r in rates if r is not None}  # lr 0.02 times length / seq_len 16
    assert len(lengths) > 1 and all(n == int(n) and n >= 5 for n in lengths)
