"""Recipe checks for the pixel_mnist task, run before any data is loaded.

They do not look at ``data.path`` on disk: a recipe for a folder this machine
lacks still validates, and the missing folder is reported (with how to get
it) when training starts.
"""

from __future__ import annotations

from seqtk.errors import SeqtkError
from seqtk_plugins.pixel_mnist.config import PixelMnistData, PixelMnistModel


def check_data(data: PixelMnistData) -> None:
    """Raise :class:`SeqtkError` for ``[data]`` values that cannot work."""
    if data.path and data.hf_dataset:
        raise SeqtkError(
            "data.path and data.hf_dataset are both set; the images can come from one source only",
            fix="remove one of them",
        )
    if not 0 < data.val_fraction < 1 or not 0 <= data.test_fraction < 1:
        raise SeqtkError(
            f"data.val_fraction ({data.val_fraction}) must be in (0, 1) and data.test_fraction "
            f"({data.test_fraction}) in [0, 1)",
            fix="use e.g. val_fraction = 0.1 and test_fraction = 0.2",
        )
    if data.val_fraction + data.test_fraction >= 0.9:
        raise SeqtkError(
            f"data.val_fraction + data.test_fraction = {data.val_fraction + data.test_fraction:g} leaves "
            "almost nothing to train on",
            fix="hold out less, e.g. val_fraction = 0.1 and test_fraction = 0.2",
        )
    if not 0 <= data.augment_shift <= 8:
        raise SeqtkError(f"data.augment_shift must be in 0..8 pixels, not {data.augment_shift}", fix="use e.g. augment_shift = 2, or 0 for off")
    if data.max_train < 0:
        raise SeqtkError(f"data.max_train must be 0 (all) or positive, not {data.max_train}", fix="set data.max_train = 0")


def check_model(model: PixelMnistModel) -> None:
    """Raise :class:`SeqtkError` for a ``[model]`` section that cannot be built."""
    from seqtk.encoders import check_stack

    check_stack(model.layers)
    if not 0 <= model.dropout < 1:
        raise SeqtkError(f"model.dropout must be in [0, 1), not {model.dropout}", fix="use e.g. dropout = 0.2")
