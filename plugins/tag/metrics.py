"""The evaluation reducer: token accuracy over a whole split, and span P/R/F1 for chunk schemes.

It compares the predicted tags with the split's gold tags as read (not as
encoded), so a held-out token whose tag never occurs in training counts as an
error, as it should, instead of being dropped.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from seqtk.errors import SeqtkError
from seqtk.tasks.step import StepOutput
from seqtk_plugins.tag.readers import Sentence
from seqtk_plugins.tag.spans import SpanCounts


class TagCounts:
    """Sees every evaluation batch (``add``); gives token_accuracy (and span_* metrics) over the split."""

    def __init__(self, gold: Sequence[Sentence], tags: Sequence[str], scheme: str) -> None:
        self.gold, self.tags, self.scheme = gold, list(tags), scheme
        self.tokens = 0
        self.correct = 0
        self.spans = SpanCounts()
        self.confusions: Counter[tuple[str, str]] = Counter()  # (gold, predicted) of the errors
        self.gold_counts: Counter[str] = Counter()  # tokens per gold tag
        self.predicted_counts: Counter[str] = Counter()  # tokens per predicted tag
        self.hits: Counter[str] = Counter()  # tokens per tag predicted right

    def add(self, batch: Any, out: StepOutput) -> None:
        if "tags" not in out.outputs:
            raise SeqtkError(
                "the tag task's step() returned no outputs['tags'], which its evaluation needs",
                fix="return StepOutput(..., outputs={'tags': predicted_ids}) from an overriding step(), as the "
                "tag task's own step() does",
            )
        predicted = out.outputs["tags"].tolist()  # (B, T) ids
        for row, index in zip(predicted, batch.index.tolist()):
            gold = self.gold[index].tags
            self.add_sentence(gold, [self.tags[i] for i in row[: len(gold)]])

    def add_sentence(self, gold: Sequence[str], predicted: Sequence[str]) -> None:
        """Count one sentence (tags as strings)."""
        self.tokens += len(gold)
        self.gold_counts.update(gold)
        self.predicted_counts.update(predicted[: len(gold)])
        for g, p in zip(gold, predicted):
            if g == p:
                self.correct += 1
                self.hits[g] += 1
            else:
                self.confusions[(g, p)] += 1
        if self.scheme != "none":
            self.spans.add(gold, predicted)

    def metrics(self) -> dict[str, float]:
        out = {"token_accuracy": self.correct / self.tokens if self.tokens else 0.0}
        if self.scheme != "none":
            out |= self.spans.metrics()
        return out

    def per_tag(self) -> dict[str, dict[str, float]]:
        """Precision, recall, F1 and support (gold count) of every tag seen, most frequent first.

        >>> c = TagCounts([], ["N", "V"], "none")
        >>> c.add_sentence(["N", "V", "N"], ["N", "N", "N"])
        >>> c.per_tag()["N"]
        {'precision': 0.6666666666666666, 'recall': 1.0, 'f1': 0.8, 'support': 2}
        """
        out = {}
        for tag, support in sorted((self.gold_counts | self.predicted_counts).items(), key=lambda kv: -self.gold_counts[kv[0]]):
            hits, predicted = self.hits[tag], self.predicted_counts[tag]
            p = hits / predicted if predicted else 0.0
            r = hits / self.gold_counts[tag] if self.gold_counts[tag] else 0.0
            out[tag] = {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0,
                        "support": self.gold_counts[tag]}
        return out

    def confusion_matrix(self, top: int = 20) -> tuple[list[str], list[list[int]]]:
        """Token counts of (gold, predicted) for the ``top`` most frequent gold tags, the rest as ``(other)``.

        >>> c = TagCounts([], ["N", "V", "X"], "none")
        >>> c.add_sentence(["N", "V", "N", "X"], ["N", "N", "N", "V"])
        >>> c.confusion_matrix(top=2)
        (['N', 'V', '(other)'], [[2, 0, 0], [1, 0, 0], [0, 1, 0]])
        """
        names = [tag for tag, _ in self.gold_counts.most_common(top)]
        at = {tag: i for i, tag in enumerate(names)}
        other = len(names)
        size = other + (len(self.gold_counts | self.predicted_counts) > len(names))
        matrix = [[0] * size for _ in range(size)]
        for tag, n in self.hits.items():
            i = at.get(tag, other)
            matrix[i][i] += n
        for (gold, pred), n in self.confusions.items():
            matrix[at.get(gold, other)][at.get(pred, other)] += n
        return names + ["(other)"] * (size - len(names)), matrix

    def top_confusions(self, n: int = 10) -> str:
        """The ``n`` most frequent errors as text lines: gold -> predicted, count."""
        if not self.confusions:
            return "no errors"
        rows = [f"{gold:>10} -> {pred:<10} {count:,}" for (gold, pred), count in self.confusions.most_common(n)]
        return "\n".join(rows)
