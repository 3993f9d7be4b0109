"""Pretrained vectors (plugins/classify/vectors.py) through the core's fresh-run hooks: fetch_pretrained
before the data, init_model after build_model, neither on resume, eval or predict."""

from __future__ import annotations

import io
import random

import pytest
import torch
from rich.console import Console

from seqtk.config.conversion import resolve
from seqtk.errors import SeqtkError
from seqtk.inference.checkpoint import load_checkpoint
from seqtk.tasks.lifecycle import built_model, ready_task
from seqtk.training.train import run_training
from seqtk_plugins.classify.sentiment import SentimentTask
from seqtk_plugins.classify.task import ClassifyTask

GOOD, BAD = ["great", "wonderful", "superb", "moving"], ["awful", "boring", "dull", "clumsy"]
FILLER = ["the", "movie", "plot", "was", "and", "acting", "really", "a", "film"]


def write_csv(path, n=120, seed=0):
    """``n`` made-up reviews: filler words and one word of the review's sentiment."""
    rng = random.Random(seed)
    lines = ["text,label"]
    for i in range(n):
        words = [rng.choice(FILLER) for _ in range(rng.randint(2, 8))]
        words.insert(rng.randrange(len(words) + 1), rng.choice(GOOD if i % 2 else BAD))
        lines.append(f"{' '.join(words)},{i % 2}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_glove(path, dim=4):
    lines = [f"great {' '.join(['1'] * dim)}", f"AWFUL {' '.join(['-1'] * dim)}", f"notinvocab {' '.join(['0'] * dim)}"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def sentiment_recipe(path, task_cls=SentimentTask, steps=10, **model):
    raw = {
        "task": {"name": task_cls.name},
        "data": {"path": str(path), "eval_batch_size": 16},
        "model": {"embedding_dim": 4, "pooling": "last",
                  "layers": [{"cell": "gru", "hidden_size": 8, "return_sequences": False}], **model},
        "train": {"batch_size": 16, "lr": 0.01, "seed": 0, "device": "cpu", "eval_every": 5, "max_steps": steps},
        "log": {"progress": False, "tensorboard": False},
    }  # fmt: skip
    return resolve(raw, "vectors_test", task_cls)


@pytest.fixture
def quiet():
    console = Console(file=io.StringIO(), width=200)
    for cls in (SentimentTask, ClassifyTask):
        cls.console = console
    yield console
    for cls in (SentimentTask, ClassifyTask):
        cls.console = None


@pytest.mark.parametrize("task_cls", [SentimentTask, ClassifyTask])
def test_a_fresh_run_starts_from_the_vectors_and_prints_their_coverage(tmp_path, quiet, task_cls):
    recipe = sentiment_recipe(write_csv(tmp_path / "r.csv"), task_cls, pretrained_vectors=str(write_glove(tmp_path / "g.txt")))
    task = ready_task(task_cls, recipe, fresh=True)
    weight = built_model(task, fresh=True).embedding.weight
    assert weight[task.vocab.token_to_id("great")].tolist() == [1, 1, 1, 1]
    assert weight[task.vocab.token_to_id("awful")].tolist() == [-1, -1, -1, -1]  # by lowercase match
    assert "pretrained vectors:" in quiet.file.getvalue() and "covers 2 of" in quiet.file.getvalue()
    untouched = built_model(ready_task(task_cls, recipe), fresh=False).embedding.weight  # summary, say
    assert untouched[task.vocab.token_to_id("great")].tolist() != [1, 1, 1, 1]


@pytest.mark.parametrize(
    ("vectors", "message"),
    [
        ("glove.txt", "the vectors file '.*glove.txt' does not exist"),
        ("glove-6b-300d", "did you mean 'glove-6b-100d'"),
        ("g8.txt", "have 8 dimensions but model.embedding_dim is 4.*set model.embedding_dim = 8"),
    ],
)
def test_missing_misspelt_or_mis_sized_vectors_are_refused_before_the_data_are_read(tmp_path, quiet, vectors, message):
    write_glove(tmp_path / "g8.txt", dim=8)
    recipe = sentiment_recipe(tmp_path / "no_such_reviews.csv", pretrained_vectors=str(tmp_path / vectors)
                              if vectors.endswith(".txt") else vectors)  # fmt: skip
    with pytest.raises(SeqtkError, match=message):
        ready_task(SentimentTask, recipe, fresh=True)  # the data file is missing too: the vectors are read first


def test_a_resumed_run_keeps_its_trained_embedding_bit_identical(tmp_path, quiet):
    """Resume loads the checkpoint's table and never reads the vectors again (the file is gone by then);
    reading them again would put the pretrained rows back over the trained ones."""
    glove, csv = write_glove(tmp_path / "g.txt"), write_csv(tmp_path / "r.csv")
    run_training(sentiment_recipe(csv, pretrained_vectors=str(glove)), out=tmp_path / "straight", console=quiet)
    for steps, resume in ((5, False), (10, True)):
        recipe = sentiment_recipe(csv, steps=steps, pretrained_vectors=str(glove))
        run_training(recipe, out=tmp_path / "resumed", resume=resume, console=quiet)
        glove.unlink(missing_ok=True)
    a, b = (load_checkpoint(tmp_path / n / "checkpoints" / "last.pt")["model"] for n in ("straight", "resumed"))
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert quiet.file.getvalue().count("pretrained vectors:") == 2  # the two fresh runs, not the resume
