"""What the classify task shows: the vocabulary line, the confusion image, the per-class table, the worst mistakes.

Every function takes the evaluation reducer (``task.EvalCounts``) and the label
names; nothing here trains or changes state.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

from seqtk_plugins.classify.metrics import Confusion, LabelCounts, class_table, confident_mistakes, confusion_text, mistakes_text

if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Sequence

    from seqtk.runtime.loggers import Logger
    from seqtk.text.vocab import Vocab
    from seqtk_plugins.classify.corpus import LabeledTexts

MISTAKES = 5  # confidently wrong val texts logged at each evaluation


def vocab_line(vocab: Vocab, val_tokens: list[list[str]], kind: str) -> str:
    """Vocabulary size and the share of validation tokens that fall in an OOV bucket."""
    total = sum(len(t) for t in val_tokens)
    oov = sum(1 for t in val_tokens for w in t if w not in vocab)
    unit = {"word": "words", "char": "characters", "bpe": "subwords"}[kind]
    return (
        f"vocabulary: {len(vocab):,} ids ({vocab.num_known - 1:,} {unit}, <pad>, {vocab.num_oov_buckets} OOV "
        f"buckets); {oov / max(total, 1):.1%} of validation tokens fall in an OOV bucket"
    )


def log_confusion(logger: Logger, result: Any, names: Sequence[str], step: int) -> None:
    """The confusion matrix (or, multi-label, per-label F1) as a TensorBoard image."""
    from seqtk.runtime.plots import heatmap, image_tensor

    counts = result.counts
    title = f"validation, step {step}: accuracy {counts.metrics()['accuracy']:.1%}"
    if isinstance(counts, Confusion):
        matrix = counts.matrix
        shares = matrix.float() / matrix.sum(dim=1, keepdim=True).clamp(min=1)  # of each true class
        labels = [[f"{v:,}" for v in row] for row in matrix.tolist()]
        image = heatmap(shares, names, names, labels=labels, title=f"{title} (rows true, columns predicted)")
    else:
        rows = counts.per_class()
        shades = torch.tensor([[r["precision"], r["recall"], r["f1"]] for r in rows])
        labels = [[f"{v:.2f}" for v in row] for row in shades.tolist()]
        image = heatmap(shades, names, ["precision", "recall", "f1"], labels=labels, title=title)
    logger.log_image("val/confusion_matrix", image_tensor(image), step)


def mistakes(part: LabeledTexts, result: Any, names: Sequence[str]) -> str:
    """The most confidently wrong texts of a single-label split."""
    labels = torch.tensor([part.labels[i] for i in result.index.tolist()], dtype=torch.long)
    rows = []
    for k in confident_mistakes(result.probs, labels, MISTAKES):
        i = int(result.index[k])
        confidence, predicted = result.probs[k].max(dim=0)
        rows.append((part.texts[i], names[part.labels[i]], names[int(predicted)], float(confidence)))
    return mistakes_text(rows)


def final_report(part: LabeledTexts, result: Any, names: Sequence[str]) -> str:
    """Per-class table, confusion matrix and the worst mistakes of the last validation pass."""
    counts = result.counts
    text = f"Validation, per class:\n{class_table(counts.per_class(), names)}"
    if isinstance(counts, Confusion):
        text += f"\n\nConfusion matrix (rows: true, columns: predicted):\n{confusion_text(counts.matrix, names)}"
        text += f"\n\nThe {MISTAKES} most confidently wrong validation texts:\n{mistakes(part, result, names)}"
    return text


def details(result: Any, names: Sequence[str]) -> dict[str, Any]:
    """JSON-ready: the per-class table, and the confusion matrix of a single-label task."""
    counts: Confusion | LabelCounts = result.counts
    out: dict[str, Any] = {"per_class": dict(zip(names, counts.per_class()))}
    if isinstance(counts, Confusion):
        out["confusion_matrix"] = {"labels": list(names), "rows_true_columns_predicted": counts.matrix.tolist()}
    return out


def details_text(result: Any, names: Sequence[str]) -> str:
    """The per-class table (and confusion matrix) as plain text, for ``seqtk eval``'s console output."""
    counts = result.counts
    text = class_table(counts.per_class(), names)
    if isinstance(counts, Confusion):
        text += f"\n\nconfusion matrix (rows: true, columns: predicted):\n{confusion_text(counts.matrix, names)}"
    return text
