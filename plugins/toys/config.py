"""The toy_sequences task's recipe sections: ``[data]`` and ``[model]``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from seqtk.config.model_config import StackConfig
from seqtk.config.schema import DataConfig, hfield

Problem = Literal["one_to_many", "many_to_one", "many_to_many", "binary_addition", "first_bit"]


@dataclass(frozen=True)
class ToyData(DataConfig):
    """Which worked example to generate (no files: ``path`` must stay unset)."""

    problem: Problem = hfield(
        "many_to_one",
        help="one_to_many (x -> the next two numbers), many_to_one (three steps -> their sum), many_to_many "
        "(three multiples of 5 -> the next three), binary_addition (two bits per step -> the sum bit, delayed), "
        "first_bit (a long bit string -> its first bit: a vanishing-gradient test).",
    )
    val_fraction: float = hfield(
        0.2,
        help="The lectures' problems: hold out the last fraction of the examples, as Keras' validation_split does.",
        sources=("one_to_many", "many_to_one", "many_to_many"),
    )
    examples: int = hfield(2000, help="binary_addition and first_bit: training sequences (val and test get a quarter each).", sources=("binary_addition", "first_bit"))
    bits: int = hfield(8, help="binary_addition: bits per number (the sum has one more).", sources=("binary_addition",))
    delay: int = hfield(2, help="binary_addition: the target at step t is the sum bit of column t - delay.", sources=("binary_addition",))
    length: int = hfield(60, help="first_bit: bits per sequence (the distance the first bit must be carried).", sources=("first_bit",))

    def chosen_source(self) -> str:
        """The problem: it decides which of the keys below are read."""
        return self.problem

    def source_choice(self, source: str) -> str:
        return f"data.problem={source}"

    def describe_source(self, source: str) -> str:
        return f'the problem data.problem = "{source}"'


@dataclass(frozen=True)
class ToyModel(StackConfig):
    """A recurrent stack (the core's StackConfig) and a linear head (Dense), as in the lectures' Keras models."""

    cell: str = hfield(
        "ref_lstm",
        help="Recurrent cell (any LayerSpec cell). The lectures' LSTM(50, activation='relu') needs a reference "
        "cell (ref_lstm, peephole_lstm, ...): the fused nn.LSTM has tanh built in.",
    )
    hidden_size: int = hfield(50, help="Hidden units per layer.")
    nonlinearity: Literal["tanh", "relu"] = hfield(
        "relu", help="Activation of the cell (Keras activation=): relu for the lectures' regression examples."
    )
    init: Literal["keras", "torch"] = hfield(
        "keras",
        help="keras: glorot-uniform, orthogonal recurrent weights, unit forget bias (reference cells only); "
        "torch: PyTorch's uniform init.",
    )
