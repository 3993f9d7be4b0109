"""The sentiment task end to end on a tiny CSV written here (no network)."""

from __future__ import annotations

import io
import json
import os
import random
import subprocess
import sys

import pytest
import torch
from rich.console import Console

from seqtk.config.conversion import resolve
from seqtk.errors import SeqtkError
from seqtk_plugins.classify.sentiment import SentimentTask

GOOD = ["great", "wonderful", "superb", "moving", "funny", "brilliant"]
BAD = ["awful", "boring", "dull", "clumsy", "tedious", "terrible"]
FILLER = ["the", "movie", "plot", "was", "and", "acting", "really", "a", "film", "script", "quite"]


def write_csv(path, n=160, seed=0):
    """``n`` short reviews: filler words plus one or two words of the review's sentiment."""
    rng = random.Random(seed)
    lines = ["text,label"]
    for i in range(n):
        label = i % 2
        words = [rng.choice(FILLER) for _ in range(rng.randint(2, 12))]
        for _ in range(rng.randint(1, 2)):
            words.insert(rng.randrange(len(words) + 1), rng.choice(GOOD if label else BAD))
        lines.append(f"{' '.join(words)},{label}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def raw_recipe(path, **sections):
    raw = {
        "task": {"name": "sentiment"},
        "data": {"path": str(path), "eval_batch_size": 16},
        "vocab": {"num_oov_buckets": 2},
        "model": {"embedding_dim": 16, "layers": [{"cell": "gru", "hidden_size": 16, "return_sequences": True},
                                                  {"cell": "gru", "hidden_size": 16, "return_sequences": False}]},
        "train": {"batch_size": 16, "lr": 0.01, "seed": 0, "device": "cpu", "eval_every": 10},
        "log": {"progress": False},
    }  # fmt: skip
    for section, values in sections.items():
        raw[section] = {**raw.get(section, {}), **values}
    return raw


def prepared(path, **sections):
    task = SentimentTask(resolve(raw_recipe(path, **sections), "sentiment_test", SentimentTask))
    task.console = Console(file=io.StringIO())
    task.prepare()
    torch.manual_seed(0)
    return task, task.build_model().eval()


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """The check_task harness on the tiny CSV: trains, saves, reloads, compares (shared by the tests below)."""
    from seqtk.testing import check_task

    SentimentTask.console = Console(file=io.StringIO())  # the trainer's own task instances, too
    folder = tmp_path_factory.mktemp("sentiment")
    csv = write_csv(folder / "reviews.csv")
    result = check_task(
        SentimentTask, raw_recipe(csv), folder, steps=40,
        predict_inputs=["a wonderful film", "boring and clumsy", "zyzzyva qwertz unseenword"],
    )  # fmt: skip
    yield result, csv
    SentimentTask.console = None


def test_check_task_harness_passes(trained):
    result, _ = trained
    assert result.last_loss < result.first_loss
    assert [p["label"] for p in result.predictions[:2]] == ["positive", "negative"]
    text = (result.run_dir / "text.jsonl").read_text(encoding="utf-8")
    assert "val/confident_mistakes" in text
    assert list(result.run_dir.glob("events.out.tfevents*"))  # the confusion-matrix image went there


def test_eval_and_predict_cli_use_the_checkpoint(trained, capsys):
    from seqtk.cli.main import main

    result, _ = trained
    ckpt = str(result.run_dir / "checkpoints" / "last.pt")
    assert main(["eval", ckpt, "--split", "test", "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert {"test_loss", "accuracy", "precision", "recall", "f1"} <= set(metrics)
    assert main(["predict", ckpt, "I love this movie", "Not worth watching", "--json"]) == 0
    predictions = json.loads(capsys.readouterr().out)["predictions"]
    assert len(predictions) == 2
    assert all(set(p) == {"label", "probability"} and 0.5 <= p["probability"] <= 1 for p in predictions)


def test_eval_refuses_data_that_give_another_split(trained, tmp_path):
    from seqtk.inference.loading import load_for_inference

    result, csv = trained
    loaded = load_for_inference(result.run_dir / "checkpoints" / "last.pt", device="cpu")
    write_csv(csv.parent / "reviews.csv", seed=1)  # same path, other reviews
    try:
        with pytest.raises(SeqtkError, match="different split"):
            loaded.task.prepare()
    finally:
        write_csv(csv.parent / "reviews.csv", seed=0)


def test_unseen_words_go_to_oov_buckets_and_predict(tmp_path):
    task, model = prepared(write_csv(tmp_path / "r.csv"))
    vocab = task.vocab
    ids = vocab.encode(task.tokenizer.tokenize("Zyzzyva qwertz great"))
    assert vocab.is_oov(ids[0]) and vocab.is_oov(ids[1]) and not vocab.is_oov(ids[2])
    out = task.predict(model, ["zyzzyva qwertz", "\u00fcberfilm \U0001f600 !!"], torch.device("cpu"))
    assert [set(p) for p in out] == [{"label", "probability"}] * 2


def test_predict_cleans_text_as_the_loaders_do(tmp_path):
    # IMDB reviews carry <br /> tags, which every loader turns into spaces before tokenising
    task, model = prepared(write_csv(tmp_path / "r.csv"))
    cpu = torch.device("cpu")
    tagged, clean = task.predict(model, ["  a great film.<br /><br />loved it ", "a great film. loved it"], cpu)
    assert tagged == clean


def test_empty_input_is_a_clear_error(tmp_path):
    task, model = prepared(write_csv(tmp_path / "r.csv"))
    with pytest.raises(SeqtkError, match="input 2 of 2 is empty"):
        task.predict(model, ["fine", "   "], torch.device("cpu"))


@pytest.mark.parametrize("bidirectional", [False, True])
def test_predictions_do_not_depend_on_padding(tmp_path, bidirectional):
    layers = [{"cell": "gru", "hidden_size": 16, "bidirectional": bidirectional, "return_sequences": True},
              {"cell": "lstm", "hidden_size": 8, "bidirectional": bidirectional, "return_sequences": False}]  # fmt: skip
    task, model = prepared(write_csv(tmp_path / "r.csv"), model={"layers": layers})
    short = "a wonderful film"
    long = " ".join(["the plot was really quite boring and the acting clumsy"] * 8)
    alone = task.predict(model, [short], torch.device("cpu"))[0]["probability"]
    padded = task.predict(model, [short, long], torch.device("cpu"))[0]["probability"]  # one batch, padded to long
    assert padded == pytest.approx(alone, abs=1e-6)


def test_unbucketed_batches_pad_to_the_longest_training_text(tmp_path):
    task, _ = prepared(write_csv(tmp_path / "r.csv"), data={"bucketing": False})
    batch = next(iter(task.train_loader()))
    assert batch.ids.shape[1] == task.pad_to == int(task.encoded["train"].lengths.max())
    bucketed, _ = prepared(write_csv(tmp_path / "r.csv"))
    loader = bucketed.train_loader()
    widths = [int(b.lengths.max()) - int(b.lengths.min()) for b in map(loader.collate, loader.plan(0))]
    assert max(widths) <= 2  # each batch holds texts of (nearly) one length


@pytest.mark.parametrize(
    ("model", "message"),
    [
        ({"layers": [{"cell": "gru", "hidden_size": 8, "return_sequences": False}, {"cell": "gru", "hidden_size": 8}]},
         "model.layers: layer 2 .* follows layer 1 .* return_sequences=false"),
        ({"layers": [{"cell": "gru", "hidden_size": 8, "return_sequences": True}]}, 'pooling = "last"'),
        ({"layers": [{"cell": "gru", "hidden_size": 8, "return_sequences": False}], "pooling": "max"}, "pools over every step"),
        ({"layers": [], "num_layers": 0}, "model.num_layers"),  # no tables: the shorthand, which needs a layer
        ({"layers": [{"cell": "gru"}], "num_layers": 3}, "model.num_layers = 3 would be ignored"),
        ({"freeze_embeddings": True}, "without model.pretrained_vectors"),
        ({"pretrained_vectors": "GloVe-6B-100d", "embedding_dim": 128},
         "holds 100-dimensional vectors but model.embedding_dim is 128.*set model.embedding_dim = 100"),
    ],
)  # fmt: skip
def test_validate_rejects_bad_models(tmp_path, model, message):
    with pytest.raises(SeqtkError, match=message):
        resolve(raw_recipe(tmp_path / "r.csv", model=model), "bad", SentimentTask)


def test_validate_rejects_bad_data_and_vocab(tmp_path):
    with pytest.raises(SeqtkError, match="needs at least 1|num_oov_buckets must be at least 1"):
        resolve(raw_recipe(tmp_path / "r.csv", vocab={"num_oov_buckets": 0}), "bad", SentimentTask)
    with pytest.raises(SeqtkError, match='source = "hub" reads data.hub_name'):
        resolve(raw_recipe(tmp_path / "r.csv", data={"source": "hub"}), "bad", SentimentTask)
    with pytest.raises(SeqtkError, match="holds out more than 50%"):
        resolve(raw_recipe(tmp_path / "r.csv", data={"val_fraction": 0.3, "test_fraction": 0.3}), "bad", SentimentTask)


# -- vocabulary -------------------------------------------------------------------------

UNSEEN = "Zyzzyva qwertzuiop fantabulous \u00fcberfilm \u6620\u753b \U0001f600"

# Runs in a fresh interpreter: the checkpoint's vocabulary, the task's tokenizer, the unseen words' ids.
_CHILD = """
import json, sys
from seqtk.text.tokenize import make_tokenizer
from seqtk.text.vocab import Vocab
vocab = Vocab.from_dict(json.load(open(sys.argv[1], encoding="utf-8")))
print(json.dumps(vocab.encode(make_tokenizer("word", lowercase=True).tokenize(sys.argv[2]))))
"""


def test_oov_bucket_ids_are_the_same_in_every_process(tmp_path):
    task, _ = prepared(write_csv(tmp_path / "r.csv"), vocab={"num_oov_buckets": 3})
    vocab = task.vocab
    here = vocab.encode(task.tokenizer.tokenize(UNSEEN))
    assert all(vocab.is_oov(i) for i in here) and len(set(here)) > 1  # several buckets in use
    (tmp_path / "vocab.json").write_text(json.dumps(task.vocab.to_dict()), encoding="utf-8")
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        out = subprocess.run(
            [sys.executable, "-c", _CHILD, str(tmp_path / "vocab.json"), UNSEEN],
            env=env, capture_output=True, text=True, check=True, timeout=60,
        )
        assert json.loads(out.stdout) == here, f"PYTHONHASHSEED={seed}"


def test_vocab_is_built_from_train_only(tmp_path):
    csv = write_csv(tmp_path / "r.csv")
    task, _ = prepared(csv, vocab={"min_freq": 1, "max_size": 0})
    train_words = {w for text in task.texts["train"].texts for w in task.tokenizer.tokenize(text)}
    assert set(task.vocab.tokens) == train_words
    held_out_only = {w for s in ("val", "test") for t in task.texts[s].texts for w in task.tokenizer.tokenize(t)}
    assert all(w not in task.vocab for w in held_out_only - train_words)


def test_max_size_and_min_freq(tmp_path):
    task, _ = prepared(write_csv(tmp_path / "r.csv"), vocab={"max_size": 5, "num_oov_buckets": 2})
    assert len(task.vocab.tokens) == 5 and len(task.vocab) == 1 + 5 + 2  # <pad>, words, buckets
    task, _ = prepared(write_csv(tmp_path / "r.csv"), vocab={"min_freq": 1000, "max_size": 0})
    assert task.vocab.tokens == []  # every word falls in a bucket, and training data still encode
    assert all(task.vocab.is_oov(int(i)) for i in task.encoded["train"].ids[0])
