"""Label names between the data and a trained model: re-indexing, and the error for a label the model never saw."""

from __future__ import annotations

from collections.abc import Sequence

from seqtk.errors import SeqtkError
from seqtk_plugins.classify.corpus import Label


def remap(labels: Sequence[Label], data_names: Sequence[str], model_names: Sequence[str], split: str,
          what: str = "") -> list[Label]:
    """``labels`` (indices into ``data_names``) as indices into ``model_names``.

    A checkpoint's label list wins over the one rebuilt from the data: the
    model's outputs mean its classes, in its order. ``what`` begins the error
    for a label the model does not know (default: "the {split} data have").

    >>> remap([0, 1, 1], ["sport", "tech"], ["business", "sport", "tech"], "val")
    [1, 2, 2]
    >>> remap([(0, 1)], ["a", "b"], ["b", "a"], "val")
    [(0, 1)]
    """
    position = {name: i for i, name in enumerate(model_names)}
    unseen = sorted({data_names[c] for label in labels for c in _classes(label)} - position.keys())
    if unseen:
        shown = ", ".join(repr(n) for n in unseen[:5]) + (f" and {len(unseen) - 5} more" if len(unseen) > 5 else "")
        raise SeqtkError(
            f"{what or f'the {split} data have'} the label(s) {shown}, which the model was never trained on "
            f"(it knows {len(model_names)}: {', '.join(repr(n) for n in list(model_names)[:10])}"
            f"{' ...' if len(model_names) > 10 else ''}), so it can never predict them",
            fix="evaluate on data labelled with the model's labels, or train a new model on data that include "
            "the new label(s)",
        )
    mapping = [position.get(name, -1) for name in data_names]  # -1: a name no kept text carries
    return [tuple(sorted(mapping[c] for c in label)) if isinstance(label, tuple) else mapping[label] for label in labels]


def _classes(label: Label) -> tuple[int, ...]:
    return label if isinstance(label, tuple) else (label,)
