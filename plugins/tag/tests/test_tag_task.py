"""The tag task end to end on small tagged files written here (no network): the check_task harness, padding
invariance of the model, predict, the split check of seqtk eval, and the CLI from run to predict."""

from __future__ import annotations

import io
import json
import random

import pytest
import torch
from rich.console import Console

from seqtk.config.conversion import resolve
from seqtk.errors import SeqtkError
from seqtk_plugins.tag.batching import collate
from seqtk_plugins.tag.task import TagTask

NAMES = ["Anna", "Peter", "Maria", "Jones", "Smith", "Lee"]
PLACES = ["Paris", "Oslo", "Lima", "Rome"]
WORDS = ["met", "in", "the", "city", "of", "saw", "and", "today", "visited", "left"]


def ner_sentences(n: int, seed: int = 0) -> list[tuple[list[str], list[str]]]:
    """BIO-tagged sentences: two-word person names, one-word places, filler words."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        words, tags = [], []
        for _ in range(rng.randint(2, 8)):
            r = rng.random()
            if r < 0.25:
                words += rng.sample(NAMES, 2)
                tags += ["B-PER", "I-PER"]
            elif r < 0.4:
                words.append(rng.choice(PLACES))
                tags.append("B-LOC")
            else:
                words.append(rng.choice(WORDS))
                tags.append("O")
        out.append((words, tags))
    return out


def write_jsonl(path, n=240, seed=0):
    path.write_text("\n".join(json.dumps({"tokens": w, "tags": t}) for w, t in ner_sentences(n, seed)) + "\n", encoding="utf-8")
    return path


def write_conll(path, n=240, seed=0):
    blocks = ["\n".join(f"{w} X {t}" for w, t in zip(words, tags)) for words, tags in ner_sentences(n, seed)]
    path.write_text("-DOCSTART- -X- O\n\n" + "\n\n".join(blocks) + "\n", encoding="utf-8")
    return path


def raw_recipe(path, **sections):
    raw = {
        "task": {"name": "tag"},
        "data": {"path": str(path), "eval_batch_size": 32},
        "model": {"hidden_size": 16, "embedding_dim": 12, "char_embedding_dim": 8, "char_features": 8},
        "train": {"batch_size": 16, "lr": 0.01, "seed": 0, "device": "cpu", "eval_every": 20},
        "log": {"progress": False},
    }
    for section, values in sections.items():
        raw[section] = {**raw.get(section, {}), **values}
    return raw


def prepared(path, **sections):
    task = TagTask(resolve(raw_recipe(path, **sections), "tag_test", TagTask))
    task.console = Console(file=io.StringIO())
    task.prepare()
    torch.manual_seed(0)
    return task, task.build_model().eval()


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """The check_task harness on a small BIO file, with a CRF: trains, saves, reloads, compares."""
    from seqtk.testing import check_task

    TagTask.console = Console(file=io.StringIO())
    folder = tmp_path_factory.mktemp("tag")
    data = write_jsonl(folder / "ner.jsonl")
    result = check_task(TagTask, raw_recipe(data, model={"crf": True}), folder, steps=60,
                        predict_inputs=["Anna Lee visited Oslo today", "Zyxx Qwer met Lima"])  # fmt: skip
    yield result, data
    TagTask.console = None


def test_check_task_harness_passes_and_learns_the_names(trained):
    result, _ = trained
    assert result.last_loss < result.first_loss
    first = result.predictions[0]
    assert first["tokens"] == ["Anna", "Lee", "visited", "Oslo", "today"]
    assert first["tags"] == ["B-PER", "I-PER", "O", "B-LOC", "O"]
    assert first["tagged"] == "Anna/B-PER Lee/I-PER visited/O Oslo/B-LOC today/O"


def test_eval_refuses_data_that_give_another_split(trained):
    from seqtk.inference.loading import load_for_inference

    result, data = trained
    loaded = load_for_inference(result.run_dir / "checkpoints" / "last.pt", device="cpu")
    write_jsonl(data, seed=1)
    try:
        with pytest.raises(SeqtkError, match="different split"):
            loaded.task.prepare()
    finally:
        write_jsonl(data, seed=0)


@pytest.mark.parametrize(("char_encoder", "crf"), [("cnn", False), ("cnn", True), ("lstm", True), ("none", False)])
def test_padding_changes_no_tag_and_no_score(tmp_path, char_encoder, crf):
    """One sentence alone and inside a batch padded to longer sentences and longer words: same tags, same scores."""
    task, model = prepared(write_jsonl(tmp_path / "d.jsonl"), model={"char_encoder": char_encoder, "crf": crf})
    encoder = task.encoder
    sentence = ["Anna", "met", "Lee", "in", "Oslo"]
    others = [["Supercalifragilistic", "Maria", "Jones", "visited", "the", "city", "of", "Lima", "today", "x"], ["Rome"]]
    data = encoder.encode_all([(s, None) for s in [sentence, *others]])
    with torch.no_grad():
        alone = collate(data, [0])
        padded = collate(data, [1, 0, 2])
        assert padded.words.shape[1] > alone.words.shape[1] and padded.chars.shape[2] > alone.chars.shape[2]
        e_alone, _ = model(alone.words, alone.chars, alone.lengths)
        e_padded, _ = model(padded.words, padded.chars, padded.lengths)
        tags_alone, score_alone = model.decode(e_alone, alone.lengths)
        tags_padded, score_padded = model.decode(e_padded, padded.lengths)
    assert (e_padded[1, :5] - e_alone[0]).abs().max() <= 1e-6
    assert tags_padded[1, :5].tolist() == tags_alone[0].tolist()
    assert abs(float(score_padded[1] - score_alone[0])) <= 1e-6


def test_predict_lowercases_like_the_vocabulary_and_names_empty_input(tmp_path):
    task, model = prepared(write_jsonl(tmp_path / "d.jsonl"))
    assert task.encoder.word_ids(["ANNA"]) == task.encoder.word_ids(["anna"])  # vocab.lowercase (the default)
    out = task.predict(model, ["  Anna\tmet  Lee ", "x"], torch.device("cpu"))
    assert out[0]["tokens"] == ["Anna", "met", "Lee"] and len(out[0]["tags"]) == 3 and len(out[1]["tags"]) == 1
    assert set(out[0]["tags"]) <= {"B-PER", "I-PER", "B-LOC", "O"}
    with pytest.raises(SeqtkError, match="input 2 of 2 is empty.*The old man the boats"):
        task.predict(model, ["Anna", "   "], torch.device("cpu"))
    cased, _ = prepared(tmp_path / "d.jsonl", vocab={"lowercase": False})
    assert cased.encoder.word_ids(["ANNA"]) != cased.encoder.word_ids(["Anna"])


def test_recipe_checks_name_the_key():
    def check(model_only=None, **sections):
        raw = raw_recipe("x.jsonl", **sections)
        if model_only is not None:
            raw["model"] = model_only
        with pytest.raises(SeqtkError) as err:
            resolve(raw, "t", TagTask)  # runs every recipe check, no data read
        return str(err.value)

    assert "data.tags" in check(data={"tags": "universal"})
    assert "data.val_path" in check(data={"source": "brown", "path": None, "val_path": "v.txt"})
    assert "model.char_features = 9 is odd" in check(model={"char_encoder": "lstm", "char_features": 9})
    assert "vocab.num_oov_buckets" in check(vocab={"num_oov_buckets": 0})
    assert "model.bidirectional" in check({"bidirectional": False, "layers": [{"cell": "gru", "hidden_size": 8}]})
    assert "return_sequences = false" in check({"layers": [{"cell": "gru", "hidden_size": 8, "return_sequences": False}]})


def test_cli_run_eval_and_predict_on_a_conll_file(tmp_path, capsys):
    """A BIO-tagged CoNLL file made here -> seqtk run -> seqtk eval --json -> seqtk predict --json."""
    from seqtk.cli.main import main

    data = write_conll(tmp_path / "ner.conll")
    recipe = tmp_path / "ner_tiny.toml"
    recipe.write_text(
        '[task]\nname = "tag"\n\n[data]\npath = "' + str(data) + '"\n\n[model]\nhidden_size = 16\nembedding_dim = 12\n'
        'char_features = 8\n\n[train]\nmax_steps = 50\nbatch_size = 16\nlr = 0.01\neval_every = 25\nnum_threads = 1\n\n'
        "[log]\nprogress = false\ntensorboard = false\n",
        encoding="utf-8",
    )
    assert main(["run", str(recipe), "--out", str(tmp_path / "run")]) == 0, capsys.readouterr().err
    capsys.readouterr()
    ckpt = str(tmp_path / "run" / "checkpoints" / "best.pt")
    assert main(["eval", ckpt, "--split", "test", "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert {"token_accuracy", "span_precision", "span_recall", "span_f1", "test_loss"} <= set(metrics)
    assert metrics["token_accuracy"] > 0.8
    per_tag = metrics["per_tag"]
    assert "O" in per_tag and set(per_tag["O"]) == {"precision", "recall", "f1", "support"}
    assert sum(r["support"] for r in per_tag.values()) > 0 and all(0 <= r["f1"] <= 1 for r in per_tag.values())
    assert metrics["top_confusions_gold_predicted_count"] == [] or len(metrics["top_confusions_gold_predicted_count"][0]) == 3
    assert main(["eval", ckpt, "--split", "test"]) == 0
    assert "most frequent errors" in capsys.readouterr().out
    assert main(["predict", ckpt, "Maria Smith left Rome", "--json"]) == 0
    prediction = json.loads(capsys.readouterr().out)["predictions"][0]
    assert prediction["tokens"] == ["Maria", "Smith", "left", "Rome"]
    assert prediction["tagged"] == " ".join(f"{w}/{t}" for w, t in zip(prediction["tokens"], prediction["tags"]))


def test_log_eval_draws_the_confusion_matrix_of_the_frequent_tags(tmp_path):
    from seqtk.tasks.evaluation import evaluate

    class Recorder:
        def __init__(self):
            self.images = {}

        def log_image(self, tag, image, step):
            self.images[tag] = image

    task, model = prepared(write_jsonl(tmp_path / "ner.jsonl"))
    result = evaluate(task, model, "val", torch.device("cpu"))
    logger = Recorder()
    task.log_eval(model, logger, 5, result)
    image = logger.images["val/confusion_matrix"]
    assert image.dim() == 3 and image.shape[0] == 3 and min(image.shape[1:]) > 60
    names, matrix = result.details.confusion_matrix(top=20)
    assert sum(map(sum, matrix)) == result.details.tokens  # every validation token is in one cell
    assert len(names) == len(matrix) <= 21
