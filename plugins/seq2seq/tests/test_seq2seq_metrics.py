"""The seq2seq reducer: error rates against the closest of several targets, mistakes kept, chrF/BLEU when possible."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from seqtk.errors import SeqtkValueError
from seqtk.tasks.evaluation import evaluate
from seqtk.tasks.step import StepOutput
from seqtk_plugins.seq2seq import metrics as metrics_module
from seqtk_plugins.seq2seq.metrics import Mistake, Seq2SeqMetrics
from seqtk_plugins.seq2seq.pairs import Example

READ = Example("read", ("R IY1 D", "R EH1 D"))
CAT = Example("cat", ("K AE1 T",))
SUM = Example("535+61", ("596",))


def test_rates_use_the_closest_target():
    scores = Seq2SeqMetrics()
    scores.add_many([["R", "EH1", "D"], ["K", "AE1"], ["K", "AH0", "T", "S"]], [READ, CAT, CAT], str.split)
    got = scores.metrics()
    assert got["wer"] == pytest.approx(2 / 3) and got["exact_match"] == pytest.approx(1 / 3)
    assert got["per"] == pytest.approx((0 + 1 + 2) / 9)


def test_ties_count_the_longer_target():
    scores = Seq2SeqMetrics()
    scores.add_many([["a", "b"]], [Example("x", ("a c", "a b c d"))], str.split)  # 1 edit to the first, 2 to the second
    assert scores.metrics()["per"] == pytest.approx(1 / 2)
    scores = Seq2SeqMetrics()
    scores.add_many([["a", "b", "c"]], [Example("x", ("a b", "a b c d"))], str.split)  # 1 edit to either
    assert scores.metrics()["per"] == pytest.approx(1 / 4)


def test_characters_as_tokens():
    scores = Seq2SeqMetrics(target_tokenize=list)
    scores.add_many([list("596"), list("59")], [SUM, SUM], list)
    got = scores.metrics()
    assert got["wer"] == 0.5 and got["per"] == pytest.approx(1 / 6)
    assert scores.mistakes(5) == [Mistake("535+61", "5 9", ("5 9 6",), 1)]


def test_mistakes_keep_the_first_ones_up_to_keep():
    scores = Seq2SeqMetrics(keep=2)
    hyps = [["K", "AE1", "T"], ["K"], ["T"], ["AE1"]]
    scores.add_many(hyps, [CAT] * 4, str.split)
    assert [m.hypothesis for m in scores.mistakes(10)] == ["K", "T"]
    assert [m.distance for m in scores.mistakes(1)] == [2]
    assert scores.metrics()["wer"] == 0.75  # every mistake counts, kept or not


def test_nothing_added_gives_no_metrics_and_a_length_mismatch_is_refused():
    assert Seq2SeqMetrics().metrics() == {}
    with pytest.raises(SeqtkValueError, match="2 hypotheses for 1 examples"):
        Seq2SeqMetrics().add_many([["a"], ["b"]], [CAT], str.split)


def test_the_reducer_runs_in_the_evaluation_loop():
    batches = [SimpleNamespace(examples=[READ, CAT], hyps=[["R", "IY1", "D"], ["K", "AE1", "D"]]),
               SimpleNamespace(examples=[CAT], hyps=[["K", "AE1", "T"]])]  # fmt: skip

    class Demo:
        name = "demo"

        def eval_batches(self, split):
            return batches

        def step(self, model, batch, train):
            import torch

            return StepOutput(torch.tensor(1.0), len(batch.examples), outputs={"hypotheses": batch.hyps})

        def eval_reducer(self, split):
            return Seq2SeqMetrics()

        def finish_metrics(self, metrics):
            return metrics

    import torch

    result = evaluate(Demo(), None, "val", torch.device("cpu"))
    assert result.metrics["wer"] == pytest.approx(1 / 3) and result.metrics["per"] == pytest.approx(1 / 9)
    assert result.details.mistakes(1)[0].source == "cat"


def test_without_sacrebleu_chrf_and_bleu_are_left_out(monkeypatch):
    monkeypatch.setattr(metrics_module, "has_sacrebleu", lambda: False)
    scores = Seq2SeqMetrics()
    scores.add_many([["K", "AE1", "T"]], [CAT], str.split)
    assert set(scores.metrics()) == {"wer", "per", "exact_match"}


def test_chrf_and_bleu_with_several_references():
    pytest.importorskip("sacrebleu")
    scores = Seq2SeqMetrics()
    scores.add_many([["R", "EH1", "D"], ["K", "AE1", "T"]], [READ, CAT], str.split)
    got = scores.metrics()
    assert got["chrf"] == pytest.approx(100.0) and got["bleu"] == pytest.approx(100.0)  # the second target of READ counts
    worse = Seq2SeqMetrics()
    worse.add_many([["R", "AH0", "D"], ["K", "AE1", "T", "S"]], [READ, CAT], str.split)
    assert worse.metrics()["chrf"] < 100.0 and worse.metrics()["bleu"] < 100.0
