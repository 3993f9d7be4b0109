"""pixel_mnist end to end on a tiny IDX folder written here: the harness, predict, eval, images. No network."""

from __future__ import annotations

import dataclasses
import io
import json

import pytest
import torch
from PIL import Image
from rich.console import Console

from seqtk.config.conversion import resolve
from seqtk.errors import SeqtkError
from seqtk.testing import check_task
from seqtk.nn.layers import LayerSpec
from seqtk_plugins.pixel_mnist.idx import write_idx
from seqtk_plugins.pixel_mnist.imagefile import read_digit
from seqtk_plugins.pixel_mnist.model import PixelClassifier
from seqtk_plugins.pixel_mnist.task import PixelMnistTask

TINY_MODEL = {"cell": "gru", "hidden_size": 16}  # the core's shorthand: one GRU(16)


def pattern(label: int, jitter: int = 0) -> torch.Tensor:
    """A 28x28 'digit' of class ``label``: a bright vertical bar over columns 2*label+2 .. 2*label+4."""
    img = torch.zeros(28, 28, dtype=torch.uint8)
    img[4 + jitter : 24 + jitter, 2 * label + 2 : 2 * label + 5] = 255
    return img


def write_folder(folder, n_train: int = 120, n_test: int = 40):
    folder.mkdir(parents=True, exist_ok=True)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        labels = torch.arange(n) % 10
        images = torch.stack([pattern(int(c), i % 3) for i, c in enumerate(labels)])
        write_idx(folder / f"{prefix}-images-idx3-ubyte.gz", images)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", labels)
    return folder


def raw_recipe(folder, **sections):
    raw = {
        "task": {"name": "pixel_mnist"},
        "data": {"path": str(folder), "val_fraction": 0.25},
        "model": dict(TINY_MODEL),
        "train": {"batch_size": 16, "lr": 0.02, "seed": 0, "device": "cpu"},
        "log": {"progress": False, "tensorboard": False},
    }
    for key, value in sections.items():  # a [model] given replaces the tiny one: shorthand or layer tables
        raw[key] = dict(value) if key == "model" else {**raw.get(key, {}), **value}
    return raw


def prepared(folder, **sections) -> PixelMnistTask:
    task = PixelMnistTask(resolve(raw_recipe(folder, **sections), "pm_test", PixelMnistTask))
    task.console = Console(file=io.StringIO())
    task.prepare()
    return task


def save_png(path, array: torch.Tensor, mode: str = "L") -> str:
    Image.fromarray(array.numpy(), mode=mode).save(path)
    return str(path)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A model trained 30 steps by seqtk.testing.check_task, its run folder, and two PNGs."""
    tmp = tmp_path_factory.mktemp("pm")
    folder = write_folder(tmp / "idx")
    pngs = [save_png(tmp / "three.png", pattern(3)), save_png(tmp / "seven_on_white.png", 255 - pattern(7))]
    result = check_task(PixelMnistTask, raw_recipe(folder), tmp, steps=30, predict_inputs=pngs)
    return result, pngs, folder


# -- the harness, predict, the CLI ------------------------------------------------------


def test_check_task_trains_saves_reloads_and_predicts(trained):
    result, _, _ = trained
    assert result.last_loss < result.first_loss
    assert abs(result.reloaded_val_loss - result.val_loss) <= 1e-5


def test_predict_on_pngs(trained):
    result, _, _ = trained
    [three, seven] = result.predictions
    assert set(three) == {"label", "probabilities"} and len(three["probabilities"]) == 10
    assert sum(three["probabilities"]) == pytest.approx(1.0, abs=1e-5)
    assert three["label"] == "3" and seven["label"] == "7"  # the dark-on-white one was inverted


def test_cli_predict_and_eval_json(trained, tmp_path, capsys):
    from seqtk.cli.main import main

    result, pngs, _ = trained
    ckpt = str(result.run_dir / "checkpoints" / "last.pt")
    assert main(["predict", ckpt, pngs[0], "--json", "--device", "cpu"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["predictions"][0]["label"] == "3" and len(out["predictions"][0]["probabilities"]) == 10
    assert main(["eval", ckpt, "--split", "test", "--json", "--device", "cpu"]) == 0
    metrics = json.loads(capsys.readouterr().out)  # prepare() reports on stderr: stdout is only the JSON
    assert {"test_loss", "accuracy", "accuracy_0", "accuracy_9"} <= set(metrics)
    (tmp_path / "notes.txt").write_text("not an image")
    assert main(["predict", ckpt, str(tmp_path / "notes.txt")]) == 1
    assert "is not an image Pillow can read" in capsys.readouterr().err


def test_predict_errors(trained, tmp_path):
    from seqtk.inference.loading import load_for_inference

    result, _, _ = trained
    loaded = load_for_inference(result.run_dir / "checkpoints" / "last.pt", device="cpu")
    task, model = loaded.task, loaded.model
    with pytest.raises(SeqtkError, match="does not exist"):
        task.predict(model, [str(tmp_path / "missing.png")], torch.device("cpu"))
    with pytest.raises(SeqtkError, match="is not a file"):
        task.predict(model, [str(tmp_path)], torch.device("cpu"))


# -- reading images for predict ---------------------------------------------------------------


def test_read_digit_keeps_mnist_images_and_inverts_light_ones(tmp_path):
    digit = pattern(4)
    assert torch.equal(read_digit(save_png(tmp_path / "a.png", digit)), digit)
    assert torch.equal(read_digit(save_png(tmp_path / "b.png", 255 - digit)), digit)
    rgb = torch.stack([255 - digit] * 3, dim=-1)  # (28, 28, 3) dark digit on white
    assert torch.equal(read_digit(save_png(tmp_path / "c.png", rgb, "RGB")), digit)


def test_read_digit_frames_a_large_image_like_mnist(tmp_path):
    page = torch.full((120, 90), 250, dtype=torch.uint8)  # light paper
    page[20:100, 60:70] = 10  # a dark vertical stroke (a "1"), far from the centre
    got = read_digit(save_png(tmp_path / "one.png", page))
    ys, xs = (got > 50).nonzero(as_tuple=True)
    assert got.shape == (28, 28)
    assert int(ys.max() - ys.min()) + 1 == 20  # the longer side is scaled to 20 pixels
    assert abs(float(xs.float().mean()) - 13.5) <= 1.0 and abs(float(ys.float().mean()) - 13.5) <= 1.0  # centred


def test_read_digit_on_a_transparent_canvas(tmp_path):
    rgba = torch.zeros(28, 28, 4, dtype=torch.uint8)  # transparent black
    rgba[5:20, 12:15] = torch.tensor([0, 0, 0, 255], dtype=torch.uint8)  # opaque black ink
    got = read_digit(save_png(tmp_path / "t.png", rgba, "RGBA"))
    assert int(got[10, 13]) == 255 and int(got[0, 0]) == 0


# -- model, IRNN, validation ----------------------------------------------------------------------


def test_irnn_init_sets_identity_and_zero_bias():
    layers = [LayerSpec("rnn", 8, nonlinearity="relu", init="irnn", bidirectional=True), LayerSpec("rnn", 6)]
    model = PixelClassifier(1, layers, num_classes=10)
    first, second = model.encoder.layers
    for name in ("weight_hh_l0", "weight_hh_l0_reverse"):
        assert torch.equal(getattr(first, name), torch.eye(8))
    assert all(float(p.detach().abs().sum()) == 0 for n, p in first.named_parameters() if n.startswith("bias"))
    assert float(first.weight_ih_l0.detach().abs().sum()) > 0 and first.nonlinearity == "relu"
    assert not torch.equal(second.weight_hh_l0, torch.eye(6))  # only layers that ask for it
    assert model(torch.rand(2, 784, 1)).shape == (2, 10)


@pytest.mark.parametrize(
    ("model", "message"),
    [
        ({"layers": [{"cell": "lstm", "init": "irnn"}]}, 'init = "irnn" needs cell = "rnn" and nonlinearity = "relu"'),
        ({"layers": [{"cell": "rnn", "init": "irnn"}]}, 'nonlinearity = "tanh"'),
        ({"layers": [{"cell": "gru", "return_sequences": False}, {"cell": "gru"}]}, "return_sequences"),
        ({"num_layers": 0}, "model.num_layers"),
        ({"cell": "lstm", "init": "irnn"}, 'model: init = "irnn" needs cell = "rnn"'),
        ({"layers": [{"cell": "gru"}], "init": "irnn"}, "model.init = 'irnn' would be ignored"),  # set it per table
        ({"dropout": 1.5}, "model.dropout"),
    ],
)
def test_validate_rejects_bad_models(tmp_path, model, message):
    with pytest.raises(SeqtkError, match=message):
        resolve(raw_recipe(tmp_path, model=model), "bad", PixelMnistTask)


def test_validate_rejects_bad_data_without_loading_it(tmp_path):
    with pytest.raises(SeqtkError, match="both set"):
        resolve(raw_recipe(tmp_path, data={"hf_dataset": "ylecun/mnist"}), "bad", PixelMnistTask)
    with pytest.raises(SeqtkError, match="val_fraction"):
        resolve(raw_recipe(tmp_path, data={"val_fraction": 0.0}), "bad", PixelMnistTask)
    resolve(raw_recipe(tmp_path / "not-there"), "ok", PixelMnistTask)  # the folder is checked at prepare()


def test_the_shorthand_builds_the_same_irnn_as_layer_tables(tmp_path):
    """The core's stack dialect: cell/num_layers/hidden_size/init, or one [[model.layers]] table per layer."""
    table = {"cell": "rnn", "hidden_size": 8, "nonlinearity": "relu", "init": "irnn", "bidirectional": True}
    forms = [{"layers": [table, table]},
             {"cell": "rnn", "num_layers": 2, "hidden_size": 8, "nonlinearity": "relu", "init": "irnn",
              "bidirectional": True}]
    models = []
    for model in forms:
        task = PixelMnistTask(resolve(raw_recipe(tmp_path, model=model), "pm", PixelMnistTask))
        torch.manual_seed(0)
        models.append(task.build_model())
    tables, shorthand = (m.state_dict() for m in models)
    assert tables.keys() == shorthand.keys() and all(torch.equal(tables[k], shorthand[k]) for k in tables)
    assert torch.equal(shorthand["encoder.layers.1.weight_hh_l0_reverse"], torch.eye(8))


def test_the_irnn_recipe_still_starts_from_the_identity():
    from seqtk.tasks.loading import load_recipe

    recipe = load_recipe("mnist_pixels_irnn")
    [spec] = recipe.model.stack()
    assert (spec.cell, spec.nonlinearity, spec.init, spec.hidden_size) == ("rnn", "relu", "irnn", 100)
    rnn = PixelMnistTask(recipe).build_model().encoder.layers[0]
    assert torch.equal(rnn.weight_hh_l0, torch.eye(100)) and float(rnn.bias_hh_l0.detach().abs().sum()) == 0


def test_a_checkpoint_with_the_old_model_keys_still_predicts_and_evaluates(trained, tmp_path, capsys):
    """Checkpoints written before [model] was the core's stack hold only layers (PixelLayer tables, init
    included) and dropout; they load for predict and eval and give the same answers."""
    import seqtk
    from seqtk.cli.main import main
    from seqtk.inference.checkpoint import load_checkpoint, save_checkpoint

    result, pngs, _ = trained
    payload = load_checkpoint(result.run_dir / "checkpoints" / "last.pt")
    model = payload["recipe"]["model"]
    assert model["layers"] == [] and model["cell"] == "gru"  # written by today's code: the shorthand's keys
    old_layer = dataclasses.asdict(LayerSpec("gru", 16))  # PixelLayer's keys: LayerSpec's and init
    payload["recipe"]["model"] = {"layers": [old_layer], "dropout": model["dropout"]}
    save_checkpoint(tmp_path / "old.pt", payload)
    assert seqtk.load(tmp_path / "old.pt", device="cpu").predict(pngs) == result.predictions
    capsys.readouterr()
    assert main(["eval", str(tmp_path / "old.pt"), "--json", "--device", "cpu"]) == 0
    assert json.loads(capsys.readouterr().out)["loss"] == pytest.approx(result.reloaded_val_loss, abs=1e-5)


def test_class_names_are_learned_on_a_fresh_run_and_a_checkpoints_are_kept(tmp_path):
    """No prepare() of its own: load_data reads the images, learn() names the classes (a checkpoint's are
    restored instead), encode_data reports the splits."""
    from seqtk.tasks.lifecycle import ready_task

    assert "prepare" not in vars(PixelMnistTask)
    recipe = resolve(raw_recipe(write_folder(tmp_path / "idx")), "pm", PixelMnistTask)
    quiet = Console(file=io.StringIO())
    assert ready_task(PixelMnistTask, recipe, console=quiet).class_names == tuple("0123456789")
    saved = tuple("abcdefghij")
    checkpoint = {"learned": {"class_names": {"tuple": list(saved)}}, "task_state": {}}
    task = ready_task(PixelMnistTask, recipe, checkpoint, console=quiet)
    assert task.class_names == saved and len(task.splits_data.val) > 0
    assert "pixel_mnist data" in quiet.file.getvalue()  # encode_data's report of the splits


def test_stacked_bidirectional_model_from_the_recipe(tmp_path):
    layers = [{"cell": "lstm", "hidden_size": 8, "bidirectional": True}, {"cell": "gru", "hidden_size": 4, "bidirectional": True}]
    task = prepared(write_folder(tmp_path / "idx"), model={"layers": layers}, data={"view": "columns"})
    model = task.build_model()
    x, y, index = next(iter(task.eval_batches("val")))
    assert x.shape == (len(y), 28, 28) and index.tolist() == list(range(len(y))) and model(x).shape == (len(y), 10)
    assert model.head.in_features == 8  # 2 directions x 4


# -- data wiring, evaluation, images ---------------------------------------------------------------


def test_prepare_is_reproducible_and_uses_t10k_as_test(tmp_path):
    folder = write_folder(tmp_path / "idx")
    one, two = prepared(folder), prepared(folder)
    assert torch.equal(one.splits_data.val.labels, two.splits_data.val.labels)
    assert (len(one.splits_data.train), len(one.splits_data.val), len(one.splits_data.test)) == (90, 30, 40)


def test_missing_fashion_folder_says_how_to_get_it(tmp_path):
    with pytest.raises(SeqtkError) as err:
        prepared(tmp_path / "fashion-mnist")
    assert "apt-get install -y dataset-fashion-mnist" in str(err.value) and "any folder" in str(err.value)


def test_training_batches_are_deterministic_with_shifts(tmp_path):
    task = prepared(write_folder(tmp_path / "idx"), data={"augment_shift": 2, "view": "pixels"})
    loader = task.train_loader()
    spec = loader.plan(3)[1]
    (x1, y1), (x2, y2) = loader.collate(spec), loader.collate(spec)
    assert torch.equal(x1, x2) and torch.equal(y1, y2) and x1.shape == (16, 784, 1)
    assert loader.plan(3) == loader.plan(3) and loader.plan(3) != loader.plan(4)


class ImageLog:
    def __init__(self):
        self.images = {}

    def log_image(self, tag, image, step):
        self.images[tag] = image


def test_evaluate_confusion_metrics_and_tensorboard_images(tmp_path):
    task = prepared(write_folder(tmp_path / "idx"), data={"classes": "fashion"})
    torch.manual_seed(0)
    model = task.build_model().eval()
    from seqtk.tasks.evaluation import evaluate

    result = evaluate(task, model, "test", torch.device("cpu"))  # the core loop, with the task's reducer
    metrics, record = result.metrics, result.details
    assert task.evaluate(model, "test", torch.device("cpu")) == metrics
    assert int(record.confusion.sum()) == 40 and record.confusion.shape == (10, 10)
    assert metrics["accuracy"] == pytest.approx(float(record.confusion.diag().sum()) / 40)
    assert metrics["accuracy_3"] == pytest.approx(float(record.confusion[3, 3]) / float(record.confusion[3].sum()))
    log = ImageLog()
    task.log_eval(model, log, step=1, result=result)
    confusion, wrong = log.images["test/confusion_matrix"], log.images["test/misclassified"]
    assert confusion.dtype == torch.uint8 and confusion.shape[0] == 3 and confusion.shape[1] > 300
    assert wrong.dtype == torch.uint8 and wrong.shape[0] == 3
    assert len(record.wrong_images) == min(32, 40 - int(record.confusion.diag().sum()))
    assert "per class" in task.final_report(model, torch.device("cpu"), result=result)
