"""seqtk export for toy_sequences: the folder's README code, run where seqtk cannot be imported, gives the
model's outputs on a batch and what seqtk predict reports, for a problem of each kind. A toy problem's inputs
have one length (first_bit's strings are the exception, and export at any length from a fused stack), so a
batch has no padding to get wrong."""

from __future__ import annotations

import importlib.util
import json

import pytest
import torch

import seqtk
from seqtk.testing import export_in_new_process, run_exported_readme, train_recipe

HAS_ONNX = all(importlib.util.find_spec(name) for name in ("onnx", "onnxscript", "onnxruntime"))
FORMATS = ["torchscript", pytest.param("onnx", marks=pytest.mark.skipif(not HAS_ONNX, reason="pip install 'seqtk[export]'"))]
TRAIN = '[train]\nmax_steps = 4\neval_every = 4\nbatch_size = 16\ndevice = "cpu"\n[log]\nprogress = false\n'
PROBLEMS = {  # problem -> ([data] and [model] lines, a batch of inputs (B, T, F), texts for seqtk predict)
    "many_to_one": ("", torch.tensor([[[1.0], [2.0], [3.0]], [[50.0], [51.0], [52.0]]]), ["50 51 52", "1, 2, 3"]),
    "binary_addition": ('bits = 4\ndelay = 1\nexamples = 100\n[model]\ncell = "lstm"\nhidden_size = 6\nnum_layers = 2\nnonlinearity = "tanh"\n',
                        torch.randint(0, 2, (3, 6, 2), generator=torch.Generator().manual_seed(0)).float(),
                        ["13+6", "0+15", "9+9"]),
    "first_bit": ('length = 8\nexamples = 100\n'
                  '[[model.layers]]\ncell = "gru"\nhidden_size = 6\nbidirectional = true\n',
                  2 * torch.randint(0, 2, (3, 11, 1), generator=torch.Generator().manual_seed(1)).float() - 1,
                  ["10110100", "0111", "100000000000"]),
}


@pytest.fixture(scope="module", params=list(PROBLEMS))
def trained(request, tmp_path_factory):
    """The recipe's default reference LSTM (ReLU) for many_to_one; fused stacks for the other two."""
    problem = request.param
    folder = tmp_path_factory.mktemp(problem)
    toml = f'[task]\nname = "toy_sequences"\n[data]\nproblem = "{problem}"\n{PROBLEMS[problem][0]}' + TRAIN
    return problem, train_recipe(folder, problem, toml)


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_exported_toy_model_gives_seqtks_outputs_without_seqtk(trained, tmp_path, fmt):
    problem, checkpoint = trained
    out = tmp_path / fmt
    assert "README.md shows how to run it" in export_in_new_process(checkpoint, fmt, out)
    _, x, texts = PROBLEMS[problem]
    p = seqtk.load(checkpoint, device="cpu")
    with torch.no_grad():
        expected = p.model(x)
    data = {"x": x.tolist(), "outputs": expected.tolist(), "texts": texts, "predictions": p.predict(texts)}
    check = """
first = run(x=np.array(DATA["x"], dtype=np.float32))[OUTPUTS[0]]
assert np.abs(first - np.array(DATA["outputs"])).max() <= 1e-5, (first, DATA["outputs"])
for text, theirs in zip(DATA["texts"], DATA["predictions"]):
    mine = predict(text)
    assert mine.keys() == theirs.keys() and np.abs(np.array(mine["output"]) - np.array(theirs["output"])).max() <= 1e-5
    assert {k: v for k, v in mine.items() if k != "output"} == {k: v for k, v in theirs.items() if k != "output"}
"""
    run_exported_readme(out, check, data)
    settings = json.loads((out / "problem.json").read_text(encoding="utf-8"))
    assert settings["problem"] == problem and settings["any_length"] is (problem == "first_bit")
