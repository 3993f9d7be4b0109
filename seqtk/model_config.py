"""The ``[model]`` sections the core owns: a recurrent stack, and a language model on one.

A task whose model is "a stack of recurrent layers and a head" declares a
subclass of :class:`StackConfig` (its own defaults and extra keys on top);
character and token language models use :class:`CharLMConfig` and its
:meth:`~CharLMConfig.build`. Every such ``[model]`` section speaks one
dialect:

- the uniform shorthand ``cell``, ``num_layers``, ``hidden_size`` (and
  ``nonlinearity``, ``dropout``): ``num_layers`` equal layers;
- or ``[[model.layers]]`` tables, one :class:`~seqtk.layers.LayerSpec` each,
  for a stack whose layers differ (a bidirectional one, a reference cell
  under a fused one, a per-layer kernel).

The checks are here, once, and :func:`seqtk.config.check_recipe` runs them,
so ``seqtk recipes validate`` reports a bad stack for every task before any
data is read.

>>> CharLMConfig(num_layers=3, hidden_size=32, dropout=0.2).stack()[-1]
LayerSpec(cell='lstm', hidden_size=32, bidirectional=False, dropout=0.0, return_sequences=True, nonlinearity='tanh', kernel='auto')
>>> len(StackConfig(layers=[LayerSpec("gru", 8), LayerSpec("lstm", 4)]).stack())
2
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from seqtk import checks
from seqtk.config import ModelConfig, hfield
from seqtk.errors import SeqtkError
from seqtk.layers import LayerSpec, check_stack

if TYPE_CHECKING:
    from seqtk.lm import CharLM


@dataclass(frozen=True)
class StackConfig(ModelConfig):
    """A stack of recurrent layers: the uniform shorthand, or ``[[model.layers]]`` tables."""

    cell: str = hfield(
        "lstm",
        help="Recurrent cell of every layer: lstm, gru or rnn (fused kernels), or a reference cell (ref_lstm, "
        "peephole_lstm, coupled_lstm, ref_gru, cho_gru, elman, irnn; docs/cells.md).",
    )
    num_layers: int = hfield(1, help="Number of stacked recurrent layers.")
    hidden_size: int = hfield(128, help="Hidden units per layer.")
    nonlinearity: Literal["tanh", "relu"] = hfield(
        "tanh", help="tanh or relu, for rnn and the reference cells (the fused lstm and gru have tanh built in)."
    )
    dropout: float = hfield(0.0, help="Dropout on each recurrent layer's output while training.")
    layers: list[LayerSpec] = hfield(
        default_factory=list,
        help="Instead of the shorthand above, the layers one by one: a [[model.layers]] table each (cell, "
        "hidden_size, bidirectional, dropout, nonlinearity, kernel; see seqtk.layers.LayerSpec), bottom first.",
    )

    #: the keys that ``layers`` replaces; setting one of them as well is refused, not ignored
    shorthand: ClassVar[tuple[str, ...]] = ("cell", "num_layers", "hidden_size", "nonlinearity", "dropout")

    def stack(self) -> list[LayerSpec]:
        """The layers, bottom first: ``layers`` if given, else ``num_layers`` equal ones."""
        if self.layers:
            return list(self.layers)
        spec = LayerSpec(self.cell, self.hidden_size, dropout=self.dropout, nonlinearity=self.nonlinearity)
        return [spec] * self.num_layers

    def check(self) -> None:
        """Raise :class:`SeqtkError` naming the ``model.`` key when the stack cannot be built."""
        if self.layers:
            self._check_no_shorthand()
        else:
            checks.at_least("model.num_layers", self.num_layers, 1)
            checks.at_least("model.hidden_size", self.hidden_size, 1)
            checks.dropout("model.dropout", self.dropout)
        try:
            check_stack(self.stack())
        except SeqtkError as exc:
            where = "model.layers" if self.layers else "model"
            raise SeqtkError(f"{where}: {exc.problem}", fix=exc.fix) from None

    def _check_no_shorthand(self) -> None:
        defaults = {f.name: f.default for f in fields(self)}
        given = [key for key in self.shorthand if getattr(self, key) != defaults[key]]
        if given:
            key = given[0]
            raise SeqtkError(
                f"model.layers lists the layers one by one, so model.{key} = {getattr(self, key)!r} would be ignored",
                fix=f"set {key} in each [[model.layers]] table, or remove model.layers to use the shorthand",
            )


@dataclass(frozen=True)
class CharLMConfig(StackConfig):
    """A language model (:class:`seqtk.lm.CharLM`): embedding, a stack of recurrent layers, a softmax head."""

    num_layers: int = hfield(2, help="Number of stacked recurrent layers.")
    hidden_size: int = hfield(256, help="Hidden units per layer.")
    dropout: float = hfield(0.1, help="Dropout on the embedding, between layers and before the head.")
    embedding_dim: int = hfield(64, help="Token embedding size (= the last hidden_size when tie_weights).")
    tie_weights: bool = hfield(False, help="Share the embedding and output matrices (needs embedding_dim = hidden_size).")

    #: with ``layers``, ``dropout`` still acts on the embedding and before the head
    shorthand: ClassVar[tuple[str, ...]] = ("cell", "num_layers", "hidden_size", "nonlinearity")

    def stack(self) -> list[LayerSpec]:
        """As :meth:`StackConfig.stack`; the shorthand's last layer has no dropout of its own, because
        CharLM's ``dropout`` already acts on the head's input (two would drop ``1 - (1 - p)^2``)."""
        from seqtk.lm import uniform_layers

        if self.layers:
            return list(self.layers)
        return uniform_layers(self.cell, self.hidden_size, self.num_layers, self.dropout, self.nonlinearity)

    def check(self) -> None:
        from seqtk.lm import check_causal

        super().check()
        checks.at_least("model.embedding_dim", self.embedding_dim, 1)
        checks.dropout("model.dropout", self.dropout)
        try:
            check_causal(self.stack())
        except SeqtkError as exc:
            raise SeqtkError(f"model.layers: {exc.problem}", fix=exc.fix) from None
        top = self.stack()[-1].output_dim
        if self.tie_weights and self.embedding_dim != top:
            raise SeqtkError(
                f"model.tie_weights needs embedding_dim = the last layer's hidden_size, but they are "
                f"{self.embedding_dim} and {top}",
                fix=f"set model.embedding_dim = {top}, or tie_weights = false",
            )

    def build(self, vocab_size: int, **kwargs: Any) -> CharLM:
        """The model this section describes, for ``vocab_size`` ids (``kwargs``: CharLM's, e.g. ``pad_id``)."""
        from seqtk.lm import CharLM

        return CharLM(vocab_size, self.embedding_dim, self.stack(), dropout=self.dropout,
                      tie_weights=self.tie_weights, **kwargs)
