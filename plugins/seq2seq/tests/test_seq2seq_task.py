"""The seq2seq task end to end on data made here (no network): the check_task harness, the CLI from run to
eval --beam and predict --n-best/--attention, and the errors a user meets."""

from __future__ import annotations

import csv
import io
import json
import random

import pytest
import torch
from rich.console import Console

from seqtk.cli.main import main
from seqtk.config.conversion import resolve
from seqtk.errors import SeqtkError
from seqtk_plugins.seq2seq.task import Seq2SeqTask

ADDITION = {
    "task": {"name": "seq2seq"},
    "data": {"source": "addition", "addition_count": 1500, "addition_digits": 2, "max_source_length": 8,
             "max_target_length": 4, "eval_batch_size": 64},
    "model": {"hidden_size": 16, "embedding_dim": 8, "embedding_dropout": 0.0, "output_dropout": 0.0},
    "train": {"batch_size": 32, "lr": 0.01, "seed": 0, "device": "cpu", "eval_every": 30},
    "log": {"progress": False},
}  # fmt: skip


def write_reversals(path, n=400, seed=0):
    """A user's CSV: words and the words reversed, under column names of their own."""
    rng = random.Random(seed)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "word", "backwards"])
        for i in range(n):
            word = "".join(rng.choice("abcdef") for _ in range(rng.randint(2, 6)))
            writer.writerow([i, word, word[::-1]])
    return path


def recipe_file(tmp_path, data_lines, steps=120):
    recipe = tmp_path / "rev_tiny.toml"
    recipe.write_text(
        '[task]\nname = "seq2seq"\n\n[data]\n' + "\n".join(data_lines) + "\n\n[model]\nhidden_size = 24\n"
        "embedding_dim = 12\nembedding_dropout = 0.0\noutput_dropout = 0.0\n\n[train]\n"
        f"max_steps = {steps}\nbatch_size = 32\nlr = 0.01\neval_every = {steps // 2}\nnum_threads = 1\n\n"
        "[log]\nprogress = false\ntensorboard = false\n",
        encoding="utf-8",
    )
    return recipe


@pytest.fixture(scope="module")
def harness(tmp_path_factory):
    from seqtk.testing import check_task

    Seq2SeqTask.console = Console(file=io.StringIO())
    try:
        yield check_task(Seq2SeqTask, ADDITION, tmp_path_factory.mktemp("s2s"), steps=60, predict_inputs=["12+7", "3+45"])
    finally:
        Seq2SeqTask.console = None


def test_check_task_harness_trains_saves_reloads_and_predicts(harness):
    assert harness.last_loss < harness.first_loss
    first = harness.predictions[0]
    assert set(first) >= {"output", "tokens", "score", "unknown_source_tokens"}
    assert first["output"] == "".join(first["tokens"]) and first["unknown_source_tokens"] == 0
    assert all(t in "0123456789" for t in first["tokens"])


@pytest.fixture(scope="module")
def reversal_run(tmp_path_factory):
    """seqtk run on a user's CSV that names only its file and columns."""
    folder = tmp_path_factory.mktemp("rev")
    data = write_reversals(folder / "words.csv")
    lines = [f'path = "{data}"', 'source_column = "word"', 'target_column = "backwards"', "eval_batch_size = 64"]
    recipe = recipe_file(folder, lines, steps=300)
    assert main(["run", str(recipe), "--out", str(folder / "run")]) == 0
    return folder / "run" / "checkpoints" / "best.pt"


def test_a_users_csv_trains_and_evaluates_with_beam(reversal_run, capsys):
    capsys.readouterr()
    assert main(["eval", str(reversal_run), "--split", "test", "--json"]) == 0
    greedy = json.loads(capsys.readouterr().out)
    assert {"wer", "per", "exact_match", "test_loss", "beam", "mistakes"} <= set(greedy)
    assert greedy["beam"] == 1 and greedy["exact_match"] == pytest.approx(1 - greedy["wer"])
    assert greedy["wer"] < 0.5  # reversing six letters is learnable in 300 steps
    assert main(["eval", str(reversal_run), "--split", "test", "--json", "--beam", "3"]) == 0
    beam = json.loads(capsys.readouterr().out)
    assert beam["beam"] == 3 and beam["test_loss"] == pytest.approx(greedy["test_loss"])
    assert main(["eval", str(reversal_run)]) == 0
    assert "greedy search" in capsys.readouterr().out


def test_predict_beam_n_best_and_attention(reversal_run, tmp_path, capsys):
    capsys.readouterr()
    png = tmp_path / "att.png"
    assert main(["predict", str(reversal_run), "abcd", "fed", "--beam", "4", "--n-best", "3", "--attention", str(png),
                 "--json"]) == 0  # fmt: skip
    preds = json.loads(capsys.readouterr().out)["predictions"]
    assert len(preds) == 2 and preds[0]["output"] == "dcba"
    for pred in preds:
        scores = [alt["score"] for alt in pred["n_best"]]
        assert len(scores) == 3 and scores == sorted(scores, reverse=True)
        assert pred["n_best"][0]["output"] == pred["output"]
        assert len({alt["output"] for alt in pred["n_best"]}) == 3
    from PIL import Image

    for n, pred in enumerate(preds, start=1):
        assert pred["attention"] == str(tmp_path / f"att-{n}.png")
        assert Image.open(pred["attention"]).size[0] > 50
    assert main(["predict", str(reversal_run), "abc"]) == 0
    assert "cba" in capsys.readouterr().out


def test_predict_attention_true_returns_the_map_as_json(reversal_run):
    import seqtk

    [pred] = seqtk.load(reversal_run, device="cpu").predict(["abcd"], attention=True)
    att = pred["attention"]
    assert att["target"] == [*pred["tokens"], "</s>"] and len(att["source"]) == 4
    assert len(att["weights"]) == len(att["target"]) and {len(row) for row in att["weights"]} == {4}
    # the reversal attends to the mirrored source position: the first output token looks at the last letter
    assert max(range(4), key=lambda j: att["weights"][0][j]) == 3
    for row in att["weights"]:
        assert abs(sum(row) - 1) < 0.01  # each row is a distribution over the source tokens
    with pytest.raises(SeqtkError, match="attention must be true"):
        seqtk.load(reversal_run, device="cpu").predict(["abcd"], attention=1)  # 1 == True, but not a request for it


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--beam", "0"], "beam size must be at least 1"),
        (["--beam", "2", "--n-best", "3"], "n_best must be between 1 and the beam size"),
        (["--top-k", "2"], "does not read the predict option"),
    ],
)
def test_predict_refuses_bad_options(reversal_run, capsys, args, message):
    capsys.readouterr()
    assert main(["predict", str(reversal_run), "abc", *args]) != 0
    assert message in capsys.readouterr().err


def test_predict_refuses_a_too_long_source_and_counts_unseen_characters(reversal_run):
    import seqtk

    p = seqtk.load(reversal_run)
    with pytest.raises(SeqtkError, match="more than the 64 this model was trained for"):
        p.predict(["a" * 65])
    with pytest.raises(SeqtkError, match="input 2 of 2 is empty"):
        p.predict(["abc", ""])
    (pred,) = p.predict(["abxyz"])
    assert pred["unknown_source_tokens"] == 3  # x, y and z never occur in training


def test_a_pair_file_with_a_missing_column_or_an_empty_side_is_refused(tmp_path, capsys):
    data = write_reversals(tmp_path / "words.csv")
    recipe = recipe_file(tmp_path, [f'path = "{data}"', 'source_column = "wrod"', 'target_column = "backwards"'])
    assert main(["run", str(recipe), "--out", str(tmp_path / "r1")]) != 0
    err = capsys.readouterr().err
    assert "wrod" in err and "word" in err
    rows = data.read_text(encoding="utf-8").splitlines()
    data.write_text("\n".join([*rows[:5], "999,abc,", *rows[5:]]) + "\n", encoding="utf-8")
    recipe = recipe_file(tmp_path, [f'path = "{data}"', 'source_column = "word"', 'target_column = "backwards"'])
    assert main(["run", str(recipe), "--out", str(tmp_path / "r2")]) != 0
    assert "empty" in capsys.readouterr().err


def test_recipe_checks_name_the_key():
    def check(**sections):
        raw = {"task": {"name": "seq2seq"}, **{k: dict(v) for k, v in ADDITION.items() if k != "task"}}
        for section, values in sections.items():
            raw[section] = {**raw.get(section, {}), **values}
        with pytest.raises(SeqtkError) as err:
            resolve(raw, "t", Seq2SeqTask)
        return str(err.value)

    assert "model.beam" in check(model={"beam": 0})
    assert "data.path" in check(data={"source": "files"})
    assert "data.hub_name" in check(data={"source": "hub"})
    assert "model.attention = 'dot'" in check(model={"attention": "dot", "decoder_hidden_size": 10})
    assert "data.addition_digits" in check(data={"addition_digits": 12})
    assert "vocab.num_oov_buckets" in check(vocab={"num_oov_buckets": 0})


def test_training_drops_too_long_pairs_and_says_so():
    raw = {**ADDITION, "data": {**ADDITION["data"], "max_target_length": 2}}
    task = Seq2SeqTask(resolve(raw, "t", Seq2SeqTask))
    out = io.StringIO()
    task.console = Console(file=out, width=200)
    task.prepare()
    assert all(len(t) <= 2 for ts in task.encoded["train"].targets for t in ts)
    assert "longer than data.max_target_length = 2" in out.getvalue()
    assert any(len(e.targets[0]) == 3 for e in task.examples["val"])  # held-out splits stay whole
    torch.manual_seed(0)
    model = task.build_model().eval()
    (hyp,) = task.decode(model, *task.eval_batches("val")[0][:2], beam=1)[0:1][0]
    assert len(hyp.tokens) <= 2  # decoding stops at max_target_length


def test_log_eval_draws_attention_maps_and_logs_mistakes():
    from seqtk.tasks.evaluation import evaluate

    class Recorder:
        def __init__(self):
            self.images, self.texts = {}, {}

        def log_image(self, tag, image, step):
            self.images[tag] = image

        def log_text(self, tag, text, step):
            self.texts[tag] = text

    task = Seq2SeqTask(resolve(ADDITION, "t", Seq2SeqTask))
    task.console = Console(file=io.StringIO())
    task.prepare()
    torch.manual_seed(0)
    model = task.build_model()
    result = evaluate(task, model, "val", torch.device("cpu"))
    logger = Recorder()
    task.log_eval(model, logger, 10, result)
    assert sorted(logger.images) == ["val/attention_0", "val/attention_1", "val/attention_2"]
    image = logger.images["val/attention_0"]
    assert image.dim() == 3 and image.shape[0] == 3 and image.shape[1] > 40
    assert " -> " in logger.texts["val/mistakes"]  # an untrained model gets most sums wrong
    assert " " not in logger.texts["val/mistakes"].split(" -> ")[1].split(";")[0]  # digits joined: 596, not 5 9 6


def test_eval_beam_is_refused_for_a_task_that_does_not_decode(harness, tmp_path):
    from seqtk.testing import check_task
    import seqtk

    toy = check_task("toy_sequences", {"data": {"problem": "many_to_one"}}, tmp_path, steps=6)
    p = seqtk.load(toy.run_dir / "checkpoints" / "last.pt")
    with pytest.raises(SeqtkError, match="has no model.beam"):
        p.evaluate("val", beam=3)
    seq = seqtk.load(harness.run_dir / "checkpoints" / "last.pt")
    with pytest.raises(SeqtkError, match="beam size must be at least 1"):
        seq.evaluate("val", beam=0)
    assert seq.evaluate("val", beam=2)["beam"] == 2 and seq.task.recipe.model.beam == 1  # put back afterwards


def test_drop_empty_skips_blank_rows_and_a_missing_val_file_names_its_key(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(Seq2SeqTask, "console", None)  # the harness fixture may have silenced the data report
    data = write_reversals(tmp_path / "words.csv")
    rows = data.read_text(encoding="utf-8").splitlines()
    data.write_text("\n".join([*rows[:5], "999,abc,", *rows[5:]]) + "\n", encoding="utf-8")
    cols = [f'path = "{data}"', 'source_column = "word"', 'target_column = "backwards"']
    recipe = recipe_file(tmp_path, [*cols, "drop_empty = true"], steps=10)
    assert main(["run", str(recipe), "--out", str(tmp_path / "r1")]) == 0
    shown = capsys.readouterr()
    assert "dropped 1 row" in shown.out + shown.err
    recipe = recipe_file(tmp_path, [*cols, "drop_empty = true", f'val_path = "{tmp_path / "nope.csv"}"'], steps=10)
    assert main(["run", str(recipe), "--out", str(tmp_path / "r2")]) != 0
    assert "data.val_path" in capsys.readouterr().err


def test_attention_images_are_not_streamed(reversal_run, tmp_path, capsys):
    inputs = tmp_path / "in.txt"
    inputs.write_text("abc\nfed\n", encoding="utf-8")
    args = ["predict", str(reversal_run), "--file", str(inputs), "--out", str(tmp_path / "o.jsonl")]
    assert main([*args, "--attention", str(tmp_path / "a.png")]) != 0
    assert "does not suit a streamed file" in capsys.readouterr().err
    assert main(args) == 0
    lines = (tmp_path / "o.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["output"] for line in lines] == ["cba", "def"]


def test_evaluation_encodes_each_source_once_and_scores_as_a_fresh_encoding_would(monkeypatch):
    from seqtk.nn.encoder_decoder import EncoderDecoder
    from seqtk.tasks.evaluation import evaluate

    task = Seq2SeqTask(resolve(ADDITION, "t", Seq2SeqTask))
    task.console = Console(file=io.StringIO())
    task.prepare()
    torch.manual_seed(0)
    model = task.build_model().eval()
    calls, real = [], EncoderDecoder.start
    monkeypatch.setattr(EncoderDecoder, "start", lambda self, *a: calls.append(1) or real(self, *a))
    result = evaluate(task, model, "val", torch.device("cpu"))
    assert len(calls) == len(task.eval_batches("val"))  # the loss and the decoding share one encoding
    batch = task.eval_batches("val")[0]
    with torch.no_grad():
        shared = model.teacher_forced(model.start(batch.source, batch.lengths), batch.target_in)[0]
        alone = model(batch.source, batch.lengths, batch.target_in)[0]
        fresh = task.decode(model, batch.source, batch.lengths)
        again = task.decode(model, batch.source, batch.lengths, state=model.start(batch.source, batch.lengths))
    assert torch.equal(shared, alone) and [h[0].tokens for h in fresh] == [h[0].tokens for h in again]
    assert 0.0 <= result.metrics["exact_match"] <= 1.0
