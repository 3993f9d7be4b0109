"""A classifier on int8 weights: seqtk.load(..., quantize="int8") and --int8 run its exported module, quantized,
under onnxruntime in the model's place; predictions and metrics stay close to float32's."""

from __future__ import annotations

import json
import math

import pytest
import torch

import seqtk
from seqtk.cli.main import main
from seqtk.errors import SeqtkError
from seqtk.testing import train_recipe

pytest.importorskip("onnxruntime")


LAYERS = {  # one logit and its zero column: the trickier layout; then a model whose export streams (a state in
    # and out, which the int8 model starts at zero)
    "two_labels": '[[model.layers]]\ncell = "gru"\nhidden_size = 8\nbidirectional = true\n',
    "streaming": '[[model.layers]]\ncell = "gru"\nhidden_size = 8\nreturn_sequences = false\n',
}


@pytest.fixture(scope="module", params=list(LAYERS))
def checkpoint(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp(request.param)
    words = [("time", "clock"), ("rain", "umbrella")]
    rows = [f"{w} {i} o'clock,{label}" for i in range(40) for label, w in words]
    (folder / "q.csv").write_text("text,label\n" + "\n".join(rows) + "\n", encoding="utf-8")
    pooling = 'pooling = "last"\n' if request.param == "streaming" else ""
    return train_recipe(folder, "clf", f'[task]\nname = "classify"\n[data]\npath = "{folder / "q.csv"}"\n'
                        f'[model]\nembedding_dim = 8\n{pooling}{LAYERS[request.param]}[train]\nmax_steps = 30\n'
                        'eval_every = 30\nbatch_size = 16\ndevice = "cpu"\n[log]\nprogress = false\n')  # fmt: skip


def test_int8_predictions_and_metrics_stay_close_to_float32(checkpoint):
    full = seqtk.load(checkpoint, device="cpu")
    quant = seqtk.load(checkpoint, device="cpu", quantize="int8")
    assert type(quant.model).__name__ == "OnnxModel"
    texts = ["clock 3 o'clock", "umbrella 7 o'clock", "sunny 12 o'clock"]
    for mine, theirs in zip(quant.predict(texts), full.predict(texts)):
        assert mine["label"] == theirs["label"] and abs(mine["probability"] - theirs["probability"]) < 0.02
    exact, approx = full.evaluate("val"), quant.evaluate("val")
    assert abs(approx["accuracy"] - exact["accuracy"]) <= 0.05 and math.isfinite(approx["loss"])
    assert abs(approx["loss"] - exact["loss"]) < 0.02
    assert quant.quantize(None).model is not None and type(quant.model).__name__ == "TextClassifier"


def test_cli_eval_and_predict_take_int8_for_a_classifier(checkpoint, capsys):
    assert main(["eval", str(checkpoint), "--int8", "--json"]) == 0
    assert 0 <= json.loads(capsys.readouterr().out)["accuracy"] <= 1
    assert main(["predict", str(checkpoint), "clock 5 o'clock", "--int8", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["predictions"][0]["label"]


def test_int8_on_a_gpu_model_says_to_load_it_on_the_cpu(checkpoint):
    p = seqtk.load(checkpoint, device="cpu")
    p._loaded.device = torch.device("cuda")  # as a model loaded on a GPU reports itself
    with pytest.raises(SeqtkError, match='int8 weights run on the CPU.*Fix: load it with device="cpu"'):
        p.quantize("int8")
