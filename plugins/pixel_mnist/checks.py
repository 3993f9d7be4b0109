"""Recipe checks for the pixel_mnist task, run before any data is loaded.

They do not look at ``data.path`` on disk: a recipe for a folder this machine
lacks still validates, and the missing folder is reported (with how to get
it) when training starts.
"""

from __future__ import annotations

from seqtk.config import checks
from seqtk.errors import SeqtkError
from seqtk_plugins.pixel_mnist.config import PixelMnistData, PixelMnistModel


def check_data(data: PixelMnistData) -> None:
    """Raise :class:`SeqtkError` for ``[data]`` values that cannot work."""
    if data.path and data.hf_dataset:
        raise SeqtkError(
            "data.path and data.hf_dataset are both set; the images can come from one source only",
            fix="remove one of them",
        )
    checks.split_fractions(data.val_fraction, data.test_fraction, max_held=0.8, example=(0.1, 0.2))
    if not 0 <= data.augment_shift <= 8:
        raise SeqtkError(f"data.augment_shift must be in 0..8 pixels, not {data.augment_shift}", fix="use e.g. augment_shift = 2, or 0 for off")
    checks.at_least("data.max_train", data.max_train, 0, fix="set data.max_train = 0 to use every image")


def check_model(model: PixelMnistModel) -> None:
    """Raise :class:`SeqtkError` for a ``[model]`` section that cannot be built (the stack itself is checked
    once, by the core's ``StackConfig.check``)."""
    checks.dropout("model.dropout", model.dropout, example=0.2)
