"""A reader for IDX files, the format of MNIST and Fashion-MNIST.

An IDX file is a 4-byte magic number, one big-endian 32-bit size per
dimension, then the data in row-major order::

    magic    0x00 0x00 <type> <ndim>     type 0x08 = unsigned byte
    sizes    ndim x uint32, big-endian
    data     prod(sizes) values

Images are ``*-images-idx3-ubyte`` (magic 2051: N x 28 x 28 bytes), labels
``*-labels-idx1-ubyte`` (magic 2049: N bytes), optionally gzipped (``.gz``).
The prefixes are ``train`` and ``t10k``; a few mirrors write ``.idx3-ubyte``
with a dot, which is accepted too. Every problem (bad magic number, a
truncated file, a count mismatch) raises :class:`SeqtkError` naming the file.
"""

from __future__ import annotations

import gzip
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import torch

from seqtk.errors import SeqtkError

IMAGES_MAGIC = 2051  # 0x00000803: unsigned bytes, 3 dimensions
LABELS_MAGIC = 2049  # 0x00000801: unsigned bytes, 1 dimension
SIDE = 28
PREFIXES = ("train", "t10k")


@dataclass(frozen=True)
class LabelledImages:
    """Images and their labels: ``images`` (N, 28, 28) uint8, ``labels`` (N,) int64."""

    images: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return int(self.labels.numel())

    def subset(self, index: torch.Tensor) -> LabelledImages:
        return LabelledImages(self.images[index], self.labels[index])


def read_bytes(path: Path) -> bytes:
    """The file's bytes, gunzipped when its name ends in ``.gz``."""
    try:
        if path.name.endswith(".gz"):
            with gzip.open(path, "rb") as f:
                return f.read()
        return path.read_bytes()
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise SeqtkError(
            f"the IDX file '{path}' is a damaged gzip file ({exc}); it may be truncated",
            fix="download or copy the file again",
        ) from None
    except OSError as exc:
        raise SeqtkError(f"cannot read the IDX file '{path}': {exc.strerror or exc}", fix="check the path and its permissions") from None


def parse_idx(data: bytes, path: Path, magic: int) -> torch.Tensor:
    """Parse IDX ``data`` (read from ``path``) whose magic number must be ``magic``; uint8 tensor."""
    kind = "images" if magic == IMAGES_MAGIC else "labels"
    if len(data) < 4:
        raise _bad(path, f"is truncated: {len(data)} bytes, fewer than the 4-byte magic number")
    got = struct.unpack(">I", data[:4])[0]
    if got != magic:
        hint = " (that is a labels file)" if got == LABELS_MAGIC else " (that is an images file)" if got == IMAGES_MAGIC else ""
        raise _bad(path, f"has the magic number {got} (0x{got:08x}){hint}, but IDX {kind} files start with {magic} (0x{magic:08x})")
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    if len(data) < header:
        raise _bad(path, f"is truncated: {len(data)} bytes, fewer than its {header}-byte header")
    shape = struct.unpack(f">{ndim}I", data[4:header])
    want = header + _prod(shape)
    if len(data) < want:
        raise _bad(path, f"is truncated: its header promises {'x'.join(map(str, shape))} values ({want:,} bytes) "
                         f"but the file holds {len(data):,} bytes")  # fmt: skip
    if len(data) > want:
        raise _bad(path, f"has {len(data) - want:,} bytes after the {'x'.join(map(str, shape))} values its header promises")
    if magic == IMAGES_MAGIC and tuple(shape[1:]) != (SIDE, SIDE):
        raise _bad(path, f"holds {shape[1]}x{shape[2]} images; this task reads 28x28 images (MNIST's format)")
    values = torch.frombuffer(bytearray(data[header:]), dtype=torch.uint8) if want > header else torch.zeros(0, dtype=torch.uint8)
    return values.reshape(shape)


def read_images(path: Path) -> torch.Tensor:
    """An images file as (N, 28, 28) uint8."""
    return parse_idx(read_bytes(path), path, IMAGES_MAGIC)


def read_labels(path: Path) -> torch.Tensor:
    """A labels file as (N,) int64, each in 0..9."""
    labels = parse_idx(read_bytes(path), path, LABELS_MAGIC).long()
    if labels.numel() and int(labels.max()) > 9:
        raise _bad(path, f"holds the label {int(labels.max())}; MNIST-style labels are 0..9")
    return labels


def read_pair(images_path: Path, labels_path: Path) -> LabelledImages:
    """An images file and its labels file, checked to hold the same number of items."""
    images, labels = read_images(images_path), read_labels(labels_path)
    if images.size(0) != labels.numel():
        raise SeqtkError(
            f"the IDX images file '{images_path}' holds {images.size(0):,} images but the labels file "
            f"'{labels_path}' holds {labels.numel():,} labels",
            fix="use an images file and the labels file that belongs to it (same prefix, same source)",
        )
    if not labels.numel():
        raise SeqtkError(f"the IDX files '{images_path}' and '{labels_path}' hold no images", fix="use non-empty IDX files")
    return LabelledImages(images, labels)


def find_file(folder: Path, prefix: str, kind: str) -> Path | None:
    """``<prefix>-<kind>-idx?-ubyte[.gz]`` (or ``.idx?-ubyte``) in ``folder``; None if absent.

    ``kind`` is ``images`` (idx3) or ``labels`` (idx1). An uncompressed file wins over a ``.gz``.
    """
    dims = 3 if kind == "images" else 1
    for sep in ("-", "."):
        for suffix in ("", ".gz"):
            path = folder / f"{prefix}-{kind}{sep}idx{dims}-ubyte{suffix}"
            if path.is_file():
                return path
    return None


def read_folder(folder: str | Path) -> dict[str, LabelledImages]:
    """The ``train`` (required) and ``t10k`` (optional, returned as ``test``) sets of an IDX folder."""
    root = Path(folder).expanduser()
    if not root.is_dir():
        what = "is a file, not a folder" if root.exists() else "does not exist"
        raise SeqtkError(f"data.path '{root}' {what}", fix=folder_fix(root))
    found: dict[str, LabelledImages] = {}
    for prefix in PREFIXES:
        images, labels = find_file(root, prefix, "images"), find_file(root, prefix, "labels")
        if images is None and labels is None:
            continue
        if images is None or labels is None:
            have, lack = (images, "labels") if labels is None else (labels, "images")
            raise SeqtkError(
                f"the folder '{root}' has '{have.name}' but no {prefix}-{lack}-idx{1 if lack == 'labels' else 3}-ubyte[.gz]",
                fix=f"add the {prefix} {lack} file beside it",
            )
        found["train" if prefix == "train" else "test"] = read_pair(images, labels)
    if "train" not in found:
        raise SeqtkError(f"the folder '{root}' has no train-images-idx3-ubyte[.gz] and train-labels-idx1-ubyte[.gz]", fix=folder_fix(root))
    return found


def folder_fix(root: Path) -> str:
    """How to get a folder of IDX files (named in every 'folder missing' error)."""
    fashion = "fashion" in str(root).lower()
    apt = (
        "install Debian's package, which puts the full Fashion-MNIST in /usr/share/datasets/fashion-mnist: "
        "sudo apt-get update && sudo apt-get install -y dataset-fashion-mnist; or "
        if fashion else ""
    )
    return (
        f"{apt}point data.path at any folder holding train-images-idx3-ubyte[.gz] and train-labels-idx1-ubyte[.gz] "
        "(plus optional t10k-* test files), e.g. the MNIST or Fashion-MNIST downloads; or remove data.path to use "
        "the 5,000 MNIST digits seqtk fetches itself"
    )


def write_idx(path: Path, values: torch.Tensor) -> None:
    """Write a uint8 tensor as an IDX file (gzipped if ``path`` ends in ``.gz``); for tests and exports."""
    values = values.to(torch.uint8).contiguous()
    header = struct.pack(">I", 0x0800 | values.dim()) + struct.pack(f">{values.dim()}I", *values.shape)
    payload = header + values.numpy().tobytes()
    if path.name.endswith(".gz"):
        path.write_bytes(gzip.compress(payload))
    else:
        path.write_bytes(payload)


def _prod(shape: tuple[int, ...]) -> int:
    out = 1
    for n in shape:
        out *= n
    return out


def _bad(path: Path, problem: str) -> SeqtkError:
    return SeqtkError(
        f"the IDX file '{path}' {problem}",
        fix="use the original MNIST/Fashion-MNIST IDX files (download them again if this one is damaged)",
    )
