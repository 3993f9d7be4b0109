"""seqtk export for the tagger: the emission model gives seqtk's scores on ragged padded batches, and the README's
numpy code (the CRF's Viterbi, or each token's best tag) gives seqtk's tags, in a process that cannot import seqtk."""

from __future__ import annotations

import importlib.util
import json

import pytest
import torch

from seqtk.cli.main import main
from seqtk.testing import export_in_new_process, run_exported_readme, train_recipe
import seqtk
from test_tag_task import write_jsonl

HAS_ONNX = all(importlib.util.find_spec(name) for name in ("onnx", "onnxscript", "onnxruntime"))
FORMATS = ["torchscript", pytest.param("onnx", marks=pytest.mark.skipif(not HAS_ONNX, reason="pip install 'seqtk[export]'"))]
# unseen words (OOV buckets), a word longer than max_word_chars, capitals the word vocabulary lowercases
TEXTS = ["Anna met Peter in Paris", "Smith", "Zoë Extraordinarilylongname visited LIMA and Oslo today",
         "the city of Rome"]  # fmt: skip


def _recipe(path, model: str) -> str:
    return (f'[task]\nname = "tag"\n[data]\npath = "{path}"\neval_batch_size = 32\n'
            f'[model]\nhidden_size = 8\nembedding_dim = 6\nchar_embedding_dim = 5\nchar_features = 6\n'
            f'max_word_chars = 8\n{model}'
            '[train]\nmax_steps = 40\neval_every = 40\nbatch_size = 16\nlr = 0.03\ndevice = "cpu"\n'
            '[log]\nprogress = false\n')  # fmt: skip


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    """A CRF tagger with character CNN features, and a GRU tagger with character LSTM features and no CRF."""
    folder = tmp_path_factory.mktemp("tag_export")
    data = write_jsonl(folder / "ner.jsonl", n=120)
    return {
        "crf": train_recipe(folder, "crf", _recipe(data, 'crf = true\nchar_encoder = "cnn"\n')),
        "argmax": train_recipe(folder, "argmax",
                               _recipe(data, 'cell = "gru"\nnum_layers = 2\nchar_encoder = "lstm"\n')),
    }


def _export(checkpoint, fmt: str, out) -> None:
    if fmt == "onnx":  # a process of its own: torch 2.13 fixes the sizes of an LSTM/GRU exported twice in one
        export_in_new_process(checkpoint, fmt, out)
    else:
        assert main(["export", str(checkpoint), "--format", fmt, "--out", str(out)]) == 0


def _ragged_batch(p: seqtk.Predictor) -> tuple[list[list[str]], dict[str, torch.Tensor]]:
    """TEXTS as seqtk's collate pads them, two columns wider: seqtk's own batch of ragged sentences."""
    from seqtk_plugins.tag.batching import collate

    sentences = [text.split() for text in TEXTS]
    batch = collate(p.task.encoder.encode_all([(words, None) for words in sentences]), range(len(sentences)))
    words = torch.nn.functional.pad(batch.words, (0, 2))
    chars = torch.nn.functional.pad(batch.chars, (0, 1, 0, 2))
    return sentences, {"words": words, "chars": chars, "lengths": batch.lengths}


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("which", ["crf", "argmax"])
def test_an_exported_tagger_gives_seqtks_scores_and_tags_without_seqtk(checkpoints, tmp_path, which, fmt):
    out = tmp_path / fmt
    _export(checkpoints[which], fmt, out)
    p = seqtk.load(checkpoints[which], device="cpu")
    sentences, inputs = _ragged_batch(p)
    with torch.no_grad():  # seqtk's numbers: each sentence alone, unpadded
        alone = [p.model(*(inputs[k][i : i + 1, :n] for k in ("words", "chars")), inputs["lengths"][i : i + 1])[0][0]
                 for i, n in enumerate(inputs["lengths"].tolist())]  # fmt: skip
    predictions = p.predict(TEXTS)
    assert len({t for prediction in predictions for t in prediction["tags"]}) > 1  # a model that tells tags apart
    assert (which == "crf") == (out / "crf.json").is_file()
    data = {**{k: v.tolist() for k, v in inputs.items()}, "alone": [e.tolist() for e in alone],
            "predictions": predictions}
    check = """
got = run(words=np.array(DATA["words"]), chars=np.array(DATA["chars"]), lengths=np.array(DATA["lengths"]))["emissions"]
for row, n, theirs in zip(got, DATA["lengths"], DATA["alone"]):
    assert np.abs(row[:n] - np.array(theirs)).max() <= 1e-5, (row[:n], theirs)
assert tag([" ".join(p["tokens"]) for p in DATA["predictions"]]) == DATA["predictions"]
"""
    printed = run_exported_readme(out, check, data)
    assert "'tagged': 'The/" in printed  # the README's own example ran
    labels = json.loads((out / "labels.json").read_text(encoding="utf-8"))["labels"]
    assert labels == list(p.task.tags)


def test_the_readme_viterbi_is_seqtks_on_random_scores(checkpoints, tmp_path):
    """Scores far from a trained model's (every tag close): the numpy Viterbi still picks seqtk's path."""
    out = tmp_path / "ts"
    _export(checkpoints["crf"], "torchscript", out)
    crf = seqtk.load(checkpoints["crf"], device="cpu").model.crf
    g = torch.Generator().manual_seed(3)
    emissions = torch.randn(6, 9, crf.num_tags, generator=g)
    lengths = torch.tensor([9, 1, 4, 7, 2, 9])
    mask = torch.arange(9) < lengths.unsqueeze(1)
    with torch.no_grad():
        tags, _ = crf.decode(emissions, mask)
    data = {"emissions": emissions.tolist(), "lengths": lengths.tolist(), "tags": tags.tolist()}
    check = """
for e, n, theirs in zip(DATA["emissions"], DATA["lengths"], DATA["tags"]):
    mine = viterbi(np.array(e, dtype=np.float32)[:n])
    assert mine == theirs[:n], (mine, theirs)
"""
    run_exported_readme(out, check, data)
