"""pixel_mnist: the IDX reader, on plain and gzipped files written here, good and malformed."""

from __future__ import annotations

import gzip
import struct

import pytest
import torch

from seqtk.errors import SeqtkError
from seqtk_plugins.pixel_mnist.idx import find_file, read_folder, read_images, read_labels, read_pair, write_idx


def images(n: int = 5) -> torch.Tensor:
    return (torch.arange(n * 28 * 28) % 251).to(torch.uint8).reshape(n, 28, 28)


def write_set(folder, prefix: str, n: int = 5, gz: bool = False, n_labels: int | None = None) -> None:
    suffix = ".gz" if gz else ""
    write_idx(folder / f"{prefix}-images-idx3-ubyte{suffix}", images(n))
    write_idx(folder / f"{prefix}-labels-idx1-ubyte{suffix}", torch.arange(n if n_labels is None else n_labels) % 10)


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gz"])
def test_reads_what_was_written(tmp_path, gz):
    write_set(tmp_path, "train", n=7, gz=gz)
    suffix = ".gz" if gz else ""
    got = read_images(tmp_path / f"train-images-idx3-ubyte{suffix}")
    assert got.dtype == torch.uint8 and torch.equal(got, images(7))
    labels = read_labels(tmp_path / f"train-labels-idx1-ubyte{suffix}")
    assert labels.dtype == torch.long and labels.tolist() == [0, 1, 2, 3, 4, 5, 6]


def test_header_layout_is_the_standard_one(tmp_path):
    path = tmp_path / "x-images-idx3-ubyte"
    write_idx(path, images(2))
    assert path.read_bytes()[:16] == struct.pack(">IIII", 2051, 2, 28, 28)
    assert len(path.read_bytes()) == 16 + 2 * 784


def test_folder_with_train_and_t10k(tmp_path):
    write_set(tmp_path, "train", n=6, gz=True)
    write_set(tmp_path, "t10k", n=3)
    sets = read_folder(tmp_path)
    assert sorted(sets) == ["test", "train"]
    assert len(sets["train"]) == 6 and len(sets["test"]) == 3


def test_dotted_names_are_found_and_plain_wins_over_gz(tmp_path):
    write_idx(tmp_path / "train-images.idx3-ubyte", images(2))
    assert find_file(tmp_path, "train", "images").name == "train-images.idx3-ubyte"
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", torch.zeros(2))
    write_idx(tmp_path / "train-labels-idx1-ubyte", torch.zeros(2))
    assert find_file(tmp_path, "train", "labels").name == "train-labels-idx1-ubyte"


def test_bad_magic_names_the_file_and_the_numbers(tmp_path):
    write_set(tmp_path, "train")
    labels = tmp_path / "train-labels-idx1-ubyte"
    with pytest.raises(SeqtkError) as err:
        read_images(labels)  # a labels file where images belong
    msg = str(err.value)
    assert str(labels) in msg and "magic number 2049" in msg and "labels file" in msg and "2051" in msg
    junk = tmp_path / "junk-images-idx3-ubyte"
    junk.write_bytes(b"PK\x03\x04" + bytes(100))
    with pytest.raises(SeqtkError, match=r"junk-images-idx3-ubyte' has the magic number 1347093252"):
        read_images(junk)


def test_truncated_file(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte"
    write_idx(path, images(3))
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(SeqtkError) as err:
        read_images(path)
    assert str(path) in str(err.value) and "truncated" in str(err.value) and "3x28x28" in str(err.value)
    path.write_bytes(b"\x00\x00")
    with pytest.raises(SeqtkError, match="truncated: 2 bytes"):
        read_images(path)


def test_truncated_gzip(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte.gz"
    write_idx(path, images(3))
    path.write_bytes(path.read_bytes()[:-30])
    with pytest.raises(SeqtkError, match=r"train-images-idx3-ubyte.gz' is a damaged gzip file"):
        read_images(path)


def test_gzip_of_a_truncated_file(tmp_path):
    raw = struct.pack(">IIII", 2051, 10, 28, 28) + bytes(784 * 4)  # header promises 10 images, data has 4
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(raw))
    with pytest.raises(SeqtkError, match="truncated: its header promises 10x28x28 values"):
        read_images(path)


def test_count_mismatch(tmp_path):
    write_set(tmp_path, "train", n=5, n_labels=4)
    with pytest.raises(SeqtkError) as err:
        read_folder(tmp_path)
    msg = str(err.value)
    assert "holds 5 images" in msg and "holds 4 labels" in msg and "train-labels-idx1-ubyte" in msg


def test_wrong_image_size_and_bad_labels(tmp_path):
    odd = tmp_path / "a-images-idx3-ubyte"
    write_idx(odd, torch.zeros(2, 32, 32))
    with pytest.raises(SeqtkError, match="holds 32x32 images"):
        read_images(odd)
    labels = tmp_path / "a-labels-idx1-ubyte"
    write_idx(labels, torch.tensor([1, 12]))
    with pytest.raises(SeqtkError, match="the label 12"):
        read_labels(labels)


def test_missing_partner_and_missing_folder(tmp_path):
    write_idx(tmp_path / "train-images-idx3-ubyte", images(2))
    with pytest.raises(SeqtkError, match="no train-labels-idx1-ubyte"):
        read_folder(tmp_path)
    with pytest.raises(SeqtkError) as err:
        read_folder(tmp_path / "fashion-mnist")
    assert "does not exist" in str(err.value) and "apt-get install -y dataset-fashion-mnist" in str(err.value)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(SeqtkError, match="has no train-images-idx3-ubyte"):
        read_folder(empty)


def test_read_pair_refuses_empty_files(tmp_path):
    write_idx(tmp_path / "i", torch.zeros(0, 28, 28))
    write_idx(tmp_path / "l", torch.zeros(0))
    with pytest.raises(SeqtkError, match="hold no images"):
        read_pair(tmp_path / "i", tmp_path / "l")
