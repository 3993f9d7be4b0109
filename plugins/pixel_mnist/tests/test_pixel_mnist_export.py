"""seqtk export for pixel_mnist: the folder's README code, run where seqtk cannot be imported, gives seqtk's
probabilities for image files. Images all have one length (28x28), so a batch has no padding to get wrong; the
view and the permutation are what the README must redo."""

from __future__ import annotations

import importlib.util
import json

import pytest
import torch
from PIL import Image

import seqtk
from seqtk.testing import export_in_new_process, run_exported_readme, train_recipe
from seqtk_plugins.pixel_mnist.idx import write_idx

HAS_ONNX = all(importlib.util.find_spec(name) for name in ("onnx", "onnxscript", "onnxruntime"))
FORMATS = ["torchscript", pytest.param("onnx", marks=pytest.mark.skipif(not HAS_ONNX, reason="pip install 'seqtk[export]'"))]


def digit(label: int, seed: int) -> torch.Tensor:
    """A 28x28 uint8 'digit': a bar whose column says the class, with noise so every pixel matters."""
    g = torch.Generator().manual_seed(seed)
    img = torch.randint(0, 40, (28, 28), generator=g, dtype=torch.uint8)
    img[4:24, 2 * label + 2 : 2 * label + 5] = 255
    return img


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """Columns of permuted pixels, a bidirectional GRU under an LSTM: every step of the README's view counts."""
    folder = tmp_path_factory.mktemp("pm_export")
    labels = torch.arange(60) % 10
    write_idx(folder / "train-images-idx3-ubyte.gz", torch.stack([digit(int(c), i) for i, c in enumerate(labels)]))
    write_idx(folder / "train-labels-idx1-ubyte.gz", labels)
    return train_recipe(folder, "pm", f'[task]\nname = "pixel_mnist"\n[data]\npath = "{folder}"\nview = "columns"\n'
                        'permute = true\nval_fraction = 0.2\ntest_fraction = 0.2\n'
                        '[[model.layers]]\ncell = "gru"\nhidden_size = 6\nbidirectional = true\n'
                        '[[model.layers]]\ncell = "lstm"\nhidden_size = 5\n'
                        '[train]\nmax_steps = 4\neval_every = 4\nbatch_size = 16\ndevice = "cpu"\n[log]\nprogress = false\n')


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_exported_pixel_classifier_gives_seqtks_probabilities_without_seqtk(checkpoint, tmp_path, fmt):
    out = tmp_path / fmt
    assert "README.md shows how to run it" in export_in_new_process(checkpoint, fmt, out)
    images = [digit(c, 100 + c) for c in (3, 7, 0, 9)]
    paths = []
    for n, img in enumerate(images):
        Image.fromarray(img.numpy(), mode="L").save(tmp_path / f"{n}.png")
        paths.append(str(tmp_path / f"{n}.png"))
    p = seqtk.load(checkpoint, device="cpu")
    data = {"images": [img.tolist() for img in images], "predictions": p.predict(paths)}
    check = """
for mine, theirs in zip(classify(np.array(DATA["images"], dtype=np.uint8)), DATA["predictions"]):
    assert mine["label"] == theirs["label"], (mine, theirs)
    assert np.abs(np.array(mine["probabilities"]) - np.array(theirs["probabilities"])).max() <= 1e-5, (mine, theirs)
"""
    run_exported_readme(out, check, data)
    view = json.loads((out / "view.json").read_text(encoding="utf-8"))
    assert view["view"] == "columns" and sorted(view["permutation"]) == list(range(784))
    assert json.loads((out / "labels.json").read_text(encoding="utf-8"))["labels"] == list("0123456789")


def test_int8_weights_run_the_exported_classifier_in_the_models_place(checkpoint, tmp_path):
    pytest.importorskip("onnxruntime")
    paths = []
    for c in (1, 4, 8):
        Image.fromarray(digit(c, 200 + c).numpy(), mode="L").save(tmp_path / f"{c}.png")
        paths.append(str(tmp_path / f"{c}.png"))
    full = seqtk.load(checkpoint, device="cpu").predict(paths)
    quant = seqtk.load(checkpoint, device="cpu", quantize="int8")
    assert type(quant.model).__name__ == "OnnxModel"
    for mine, theirs in zip(quant.predict(paths), full):
        assert max(abs(a - b) for a, b in zip(mine["probabilities"], theirs["probabilities"])) < 0.05
