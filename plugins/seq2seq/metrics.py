"""Scores of generated sequences against every acceptable target: word and phoneme error rates, BLEU, chrF.

:class:`Seq2SeqMetrics` is the seq2seq task's reducer for
:func:`seqtk.tasks.evaluation.evaluate`. Each example's hypothesis (a list of
target tokens) is scored against the closest of its targets
(:func:`seqtk.text.edit_distance.best_match`: the fewest edits, ties to the
longer target):

- ``wer``: the fraction of examples whose hypothesis equals none of the
  targets (the G2P "word error rate": one word is one example);
- ``exact_match``: ``1 - wer``;
- ``per``: edits to the closest target over that target's length, summed
  over the examples (the G2P "phoneme error rate"; a token error rate in
  general, and it can exceed 1 when hypotheses run long);
- ``chrf`` and ``bleu`` (0-100, corpus level, every target a reference):
  only when the optional library ``sacrebleu`` is installed, else they are
  left out. Both read the target's text (``detokenize``: the task's
  tokenizer puts the tokens back together, characters joined, phonemes
  spaced), BLEU with sacreBLEU's default 13a tokenization, as papers report
  it.

>>> from seqtk_plugins.seq2seq.pairs import Example
>>> scores = Seq2SeqMetrics()
>>> scores.add_many([["R", "EH1", "D"], ["L", "IY1", "D", "Z"]],
...                 [Example("read", ("R IY1 D", "R EH1 D")), Example("lead", ("L IY1 D", "L EH1 D"))], str.split)
>>> {k: round(v, 3) for k, v in scores.metrics().items() if k in ("wer", "per", "exact_match")}
{'wer': 0.5, 'per': 0.167, 'exact_match': 0.5}
>>> scores.mistakes(1)
[Mistake(source='lead', hypothesis='L IY1 D Z', references=('L IY1 D', 'L EH1 D'), distance=1)]
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from seqtk.errors import SeqtkValueError
from seqtk.text.edit_distance import best_match
from seqtk_plugins.seq2seq.pairs import Example

Tokenize = Callable[[str], list[str]]


@dataclass(frozen=True)
class Mistake:
    """One example the model got wrong: its hypothesis and targets as space-joined tokens."""

    source: str
    hypothesis: str
    references: tuple[str, ...]
    distance: int  # edits to the closest reference


class Seq2SeqMetrics:
    """Accumulates hypotheses against targets; :meth:`metrics` gives the scores (see the module).

    ``target_tokenize`` splits a target string into the tokens the model
    emits (used by :meth:`add`); ``keep`` is how many mistakes are kept, the
    first ones seen, for :meth:`mistakes`.
    """

    def __init__(self, target_tokenize: Tokenize = str.split, keep: int = 100,
                 detokenize: Callable[[list[str]], str] = " ".join) -> None:  # fmt: skip
        self.target_tokenize = target_tokenize
        self.detokenize = detokenize  # tokens -> the target's text, which chrF and BLEU score
        self.keep = keep
        self.examples = 0
        self.wrong = 0
        self.edits = 0
        self.ref_tokens = 0
        self.hypotheses: list[str] = []  # space-joined, for sacrebleu
        self.references: list[tuple[str, ...]] = []
        self._mistakes: list[Mistake] = []

    def add(self, batch: Any, out: Any) -> None:
        """The :class:`seqtk.tasks.evaluation.Reducer` hook: ``out.outputs["hypotheses"]`` against ``batch.examples``."""
        self.add_many(out.outputs["hypotheses"], batch.examples, self.target_tokenize)

    def add_many(self, hyps: Sequence[Sequence[str]], examples: Sequence[Example], target_tokenize: Tokenize) -> None:
        """Score ``hyps[i]`` (a token list) against ``examples[i].targets``, split with ``target_tokenize``."""
        if len(hyps) != len(examples):
            raise SeqtkValueError(
                f"{len(hyps)} hypotheses for {len(examples)} examples",
                fix="return one hypothesis (a list of tokens) per example of the batch, in the batch's order",
            )
        for hyp, example in zip(hyps, examples):
            refs = [list(target_tokenize(t)) for t in example.targets]
            distance, length = best_match(list(hyp), refs)
            self.examples += 1
            self.edits += distance
            self.ref_tokens += length
            hypothesis, references = " ".join(hyp), tuple(" ".join(r) for r in refs)
            self.hypotheses.append(self.detokenize(list(hyp)))
            self.references.append(tuple(self.detokenize(r) for r in refs))
            if distance:
                self.wrong += 1
                if len(self._mistakes) < self.keep:
                    self._mistakes.append(Mistake(example.source, hypothesis, references, distance))

    def metrics(self) -> dict[str, float]:
        """``wer``, ``per``, ``exact_match`` (fractions), and ``chrf``, ``bleu`` with sacrebleu; ``{}`` before any example."""
        if not self.examples:
            return {}
        wer = self.wrong / self.examples
        scores = {"wer": wer, "per": self.edits / max(self.ref_tokens, 1), "exact_match": 1.0 - wer}
        if has_sacrebleu():
            scores |= corpus_chrf_bleu(self.hypotheses, self.references)
        return scores

    def mistakes(self, n: int) -> list[Mistake]:
        """The first ``n`` examples scored wrong (at most ``keep`` are kept)."""
        return self._mistakes[:n]


def has_sacrebleu() -> bool:
    """Whether the optional ``sacrebleu`` is installed (for chrF and BLEU)."""
    return importlib.util.find_spec("sacrebleu") is not None


def corpus_chrf_bleu(hypotheses: list[str], references: list[tuple[str, ...]]) -> dict[str, float]:
    """Corpus chrF and BLEU (0-100) of space-joined token strings, each example with its own number of
    references (needs ``sacrebleu``)."""
    from sacrebleu.metrics import BLEU, CHRF

    most = max((len(r) for r in references), default=0)
    streams = [[refs[k] if k < len(refs) else None for refs in references] for k in range(most)]  # None: no k-th reference
    bleu = BLEU(effective_order=True).corpus_score(hypotheses, streams)  # sacreBLEU's default 13a tokenizer
    chrf = CHRF().corpus_score(hypotheses, streams)
    return {"chrf": float(chrf.score), "bleu": float(bleu.score)}
