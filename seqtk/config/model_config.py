"""The ``[model]`` sections the core owns: a recurrent stack, and a language model on one.

A task whose model is "a stack of recurrent layers and a head" declares a
subclass of :class:`StackConfig` (its own defaults and extra keys on top);
character and token language models use :class:`CharLMConfig` and its
:meth:`~CharLMConfig.build`. Every such ``[model]`` section speaks one
dialect:

- the uniform shorthand ``cell``, ``num_layers``, ``hidden_size`` (and
  ``nonlinearity``, ``dropout``): ``num_layers`` equal layers;
- or ``[[model.layers]]`` tables, one :class:`~seqtk.nn.layers.LayerSpec` each,
  for a stack whose layers differ (a bidirectional one, a reference cell
  under a fused one, a per-layer kernel).

The checks are here, once, and :func:`seqtk.config.checks.check_recipe` runs them,
so ``seqtk recipes validate`` reports a bad stack for every task before any
data is read.

>>> last = CharLMConfig(num_layers=3, hidden_size=32, dropout=0.2).stack()[-1]
>>> last.cell, last.hidden_size, last.dropout, last.return_sequences
('lstm', 32, 0.0, True)
>>> len(StackConfig(layers=[LayerSpec("gru", 8), LayerSpec("lstm", 4)]).stack())
2
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from seqtk.config import checks
from seqtk.config.schema import ModelConfig, hfield
from seqtk.errors import SeqtkError
from seqtk.nn.layers import LayerSpec, check_stack

if TYPE_CHECKING:
    from seqtk.nn.lm import CharLM


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
        "hidden_size, bidirectional, dropout, nonlinearity, kernel, init; see seqtk.nn.layers.LayerSpec), bottom first.",
    )

    #: the keys that ``layers`` replaces; setting one of them as well is refused, not ignored
    shorthand: ClassVar[tuple[str, ...]] = ("cell", "num_layers", "hidden_size", "nonlinearity", "dropout")
    #: check() stacks ``layers``, so check_recipe does not again
    stacks_checked: ClassVar[tuple[str, ...]] = ("layers",)

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


_INIT_FIX = "set model.embedding_init_range to e.g. 0.1, or 0 for N(0, 1)"


@dataclass(frozen=True)
class CharLMConfig(StackConfig):
    """A language model (:class:`seqtk.nn.lm.CharLM`): embedding, a stack of recurrent layers, a softmax head."""

    num_layers: int = hfield(2, help="Number of stacked recurrent layers.")
    hidden_size: int = hfield(256, help="Hidden units per layer.")
    dropout: float = hfield(0.1, help="Dropout on the embedding, between layers and before the head.")
    embedding_dim: int = hfield(64, help="Token embedding size (= the last hidden_size when tie_weights).")
    tie_weights: bool = hfield(False, help="Share the embedding and output matrices (needs embedding_dim = hidden_size, or tie_projection).")
    tie_projection: bool = hfield(
        False, help="With tie_weights and a last hidden_size other than embedding_dim: tie through a learned "
        "projection from the hidden size to the embedding size (seqtk.nn.lm.ProjectedHead).",
    )
    embedding_dropout: float = hfield(
        0.0, help="AWD-LSTM's embedding dropout: drop whole words (rows of the embedding matrix, the rest scaled "
        "by 1/(1 - p)) while training; 0 turns it off.",
    )
    ar_alpha: float = hfield(
        0.0, help="Activation regularisation: add ar_alpha * mean(h^2) of the last layer's outputs after dropout "
        "to the training loss (AWD-LSTM: 2); 0 turns it off.",
    )
    tar_beta: float = hfield(
        0.0, help="Temporal activation regularisation: add tar_beta * mean((h_t+1 - h_t)^2) of the last layer's "
        "outputs before dropout to the training loss (AWD-LSTM: 1); 0 turns it off.",
    )
    adaptive_cutoffs: list[int] = hfield(
        default_factory=list, help="An adaptive softmax head (torch.nn.AdaptiveLogSoftmaxWithLoss) with these "
        "cutoffs, e.g. [2000, 10000], for large vocabularies (ids most frequent first); [] is a plain softmax.",
    )
    adaptive_div_value: float = hfield(
        4.0, help="With adaptive_cutoffs: each later cluster of the adaptive softmax gets the hidden size divided "
        "by this once more (Grave et al. 2017's factor, PyTorch's div_value); 1 keeps the full size everywhere.",
    )
    embedding_init_range: float = hfield(
        0.0, help="Start the embedding at uniform(-r, r), as Zaremba et al. 2014 and PyTorch's word_language_model "
        "do (0.1); 0 keeps torch.nn.Embedding's N(0, 1), which starts a tied softmax saturated.",
    )

    #: with ``layers``, ``dropout`` still acts on the embedding and before the head
    shorthand: ClassVar[tuple[str, ...]] = ("cell", "num_layers", "hidden_size", "nonlinearity")

    def stack(self) -> list[LayerSpec]:
        """As :meth:`StackConfig.stack`; the shorthand's last layer has no dropout of its own, because
        CharLM's ``dropout`` already acts on the head's input (two would drop ``1 - (1 - p)^2``)."""
        from seqtk.nn.lm import uniform_layers

        if self.layers:
            return list(self.layers)
        return uniform_layers(self.cell, self.hidden_size, self.num_layers, self.dropout, self.nonlinearity)

    def check(self) -> None:
        from seqtk.nn.lm import check_causal

        super().check()
        checks.at_least("model.embedding_dim", self.embedding_dim, 1)
        checks.dropout("model.dropout", self.dropout)
        checks.dropout("model.embedding_dropout", self.embedding_dropout)
        checks.at_least("model.ar_alpha", self.ar_alpha, 0, fix="set model.ar_alpha to e.g. 2, or 0 to turn AR off")
        checks.at_least("model.tar_beta", self.tar_beta, 0, fix="set model.tar_beta to e.g. 1, or 0 to turn TAR off")
        checks.at_least("model.embedding_init_range", self.embedding_init_range, 0, fix=_INIT_FIX)
        checks.finite("model.embedding_init_range", self.embedding_init_range, fix=_INIT_FIX)
        checks.at_least("model.adaptive_div_value", self.adaptive_div_value, 1,
                        fix="set model.adaptive_div_value to 4 (PyTorch's default), or 1 for full-size clusters")  # fmt: skip
        if self.adaptive_cutoffs and (self.tie_weights or self.adaptive_cutoffs != sorted(set(self.adaptive_cutoffs))
                                      or self.adaptive_cutoffs[0] < 1):  # fmt: skip
            raise SeqtkError(
                f"model.adaptive_cutoffs = {self.adaptive_cutoffs} " + ("cannot go with model.tie_weights"
                if self.tie_weights else "must be positive and increase strictly"),
                fix="give increasing ids such as [2000, 10000] without tie_weights, or [] for a plain softmax",
            )
        try:
            check_causal(self.stack())
        except SeqtkError as exc:
            raise SeqtkError(f"model.layers: {exc.problem}", fix=exc.fix) from None
        top = self.stack()[-1].output_dim
        self._check_clusters(top)
        if self.tie_weights and self.embedding_dim != top and not self.tie_projection:
            raise SeqtkError(
                f"model.tie_weights needs embedding_dim = the last layer's hidden_size, but they are "
                f"{self.embedding_dim} and {top}",
                fix=f"set model.embedding_dim = {top}, model.tie_projection = true (a projection between them), "
                "or tie_weights = false",
            )

    def _check_clusters(self, hidden: int) -> None:
        from seqtk.nn.lm_heads import empty_cluster

        empty = empty_cluster(hidden, len(self.adaptive_cutoffs), self.adaptive_div_value)
        if empty:
            raise SeqtkError(
                f"model.adaptive_cutoffs = {self.adaptive_cutoffs} with model.adaptive_div_value = "
                f"{self.adaptive_div_value:g} leaves cluster {empty} no dimensions ({hidden} // "
                f"{self.adaptive_div_value:g}^{empty} is 0): every id in it would get the same score",
                fix="lower model.adaptive_div_value (1 keeps the full size), use fewer cutoffs, or a larger hidden size",
            )

    def build(self, vocab_size: int, **kwargs: Any) -> CharLM:
        """The model this section describes, for ``vocab_size`` ids (``kwargs``: CharLM's, e.g. ``pad_id``)."""
        from seqtk.nn.lm import CharLM

        return CharLM(vocab_size, self.embedding_dim, self.stack(), dropout=self.dropout,
                      tie_weights=self.tie_weights, tie_projection=self.tie_projection,
                      embedding_dropout=self.embedding_dropout, ar_alpha=self.ar_alpha, tar_beta=self.tar_beta,
                      adaptive_cutoffs=tuple(self.adaptive_cutoffs), adaptive_div_value=self.adaptive_div_value,
                      embedding_init_range=self.embedding_init_range, **kwargs)  # fmt: skip


@dataclass(frozen=True)
class BidirectionalStackConfig(StackConfig):
    """A stack that reads in both directions by default (taggers, encoders of encoder-decoders): the
    shorthand's layers take ``bidirectional``; ``[[model.layers]]`` tables set it per layer."""

    hidden_size: int = hfield(128, help="Hidden units per layer and direction.")
    bidirectional: bool = hfield(True, help="Read each sequence in both directions (the shorthand's layers).")

    #: with ``layers``, these are set per layer instead
    shorthand: ClassVar[tuple[str, ...]] = ("cell", "num_layers", "hidden_size", "nonlinearity", "dropout", "bidirectional")

    def stack(self) -> list[LayerSpec]:
        """The layers, bottom first: ``layers`` if given, else ``num_layers`` equal (bidirectional) ones."""
        if self.layers:
            return list(self.layers)
        return [replace(spec, bidirectional=self.bidirectional) for spec in super().stack()]


@dataclass(frozen=True)
class EncoderDecoderConfig(BidirectionalStackConfig):
    """An encoder-decoder with attention (:class:`seqtk.nn.encoder_decoder.EncoderDecoder`).

    The shorthand (``cell``, ``num_layers``, ``hidden_size``, ``bidirectional``) or ``[[model.layers]]``
    describes the encoder; the ``decoder_*`` keys the decoder.
    """

    cell: str = hfield("lstm", help="Recurrent cell of every encoder layer (see StackConfig.cell).")
    num_layers: int = hfield(1, help="Number of stacked encoder layers.")
    hidden_size: int = hfield(256, help="Hidden units per encoder layer and direction.")
    bidirectional: bool = hfield(True, help="Read each source in both directions (the shorthand's layers).")
    embedding_dim: int = hfield(128, help="Source token embedding size.")
    target_embedding_dim: int = hfield(0, help="Target token embedding size; 0: embedding_dim.")
    decoder_cell: Literal["lstm", "gru"] = hfield("lstm", help="The decoder's recurrent cell (fused kernel).")
    decoder_layers: int = hfield(1, help="Number of stacked decoder layers.")
    decoder_hidden_size: int = hfield(0, help="Decoder hidden units; 0: the encoder's output size (x2 if bidirectional).")
    attention: Literal["additive", "general", "dot"] = hfield(
        "general",
        help="The attention score (seqtk.nn.attention): additive, Bahdanau's v.tanh(Wq + Uk); general, Luong's q.Wk; "
        "dot, Luong's q.k (decoder_hidden_size must equal the encoder's output size).",
    )
    attention_dim: int = hfield(0, help="additive attention: the size of its hidden layer; 0: decoder_hidden_size.")
    input_feeding: bool = hfield(
        True,
        help="Feed each step's attentional vector into the next step's input (Luong et al. 2015), so the decoder "
        "knows what it attended to. Training then runs the decoder step by step; false runs it over the whole "
        "target at once (faster training, usually a little less accurate).",
    )
    tie_embeddings: bool = hfield(
        False, help="Share the target embedding and the output matrix (needs target_embedding_dim = decoder_hidden_size)."
    )
    embedding_dropout: float = hfield(0.1, help="Dropout on the source and target embeddings while training.")
    output_dropout: float = hfield(0.2, help="Dropout on the attentional vector before the output layer.")
    label_smoothing: float = hfield(0.0, help="Label smoothing of the training loss (0: plain cross-entropy).")

    @property
    def target_dim(self) -> int:
        return self.target_embedding_dim or self.embedding_dim

    @property
    def decoder_dim(self) -> int:
        return self.decoder_hidden_size or self.stack()[-1].output_dim

    def check(self) -> None:
        super().check()
        checks.at_least("model.embedding_dim", self.embedding_dim, 1)
        checks.at_least("model.target_embedding_dim", self.target_embedding_dim, 0)
        checks.at_least("model.decoder_layers", self.decoder_layers, 1)
        checks.at_least("model.decoder_hidden_size", self.decoder_hidden_size, 0)
        checks.at_least("model.attention_dim", self.attention_dim, 0)
        for key in ("embedding_dropout", "output_dropout"):
            checks.dropout(f"model.{key}", getattr(self, key))
        if not 0.0 <= self.label_smoothing < 1.0:
            raise SeqtkError(f"model.label_smoothing must be in [0, 1), got {self.label_smoothing}",
                             fix="use 0 (off) or a small value such as 0.1")  # fmt: skip
        if self.stack()[-1].return_sequences is False:
            raise SeqtkError("model.layers: the encoder's last layer must return sequences (attention reads every step)",
                             fix="remove return_sequences = false from the last [[model.layers]] table")  # fmt: skip
        if self.stack()[-1].cell == "mlstm":
            raise SeqtkError(
                "model.layers: the encoder's last layer is mlstm, whose state is a matrix memory (C, n, m), not the "
                "vector h the decoder's bridge starts from",
                fix="end the encoder with another cell (lstm, ln_lstm, slstm, ...) after the mlstm layers",
            )
        top = self.stack()[-1].output_dim
        if self.attention == "dot" and self.decoder_dim != top:
            raise SeqtkError(
                f"model.attention = 'dot' needs decoder_hidden_size = the encoder's output size ({top}), "
                f"got {self.decoder_dim}",
                fix=f"set model.decoder_hidden_size = 0 (or {top}), or attention = 'general'",
            )
        if self.tie_embeddings and self.target_dim != self.decoder_dim:
            raise SeqtkError(
                f"model.tie_embeddings needs target_embedding_dim = decoder_hidden_size, but they are "
                f"{self.target_dim} and {self.decoder_dim}",
                fix=f"set model.target_embedding_dim = {self.decoder_dim}, or tie_embeddings = false",
            )
