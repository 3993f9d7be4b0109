"""What a task exports (:meth:`seqtk.tasks.task.Task.export_spec`): one module (:class:`ExportSpec`) or several
model files called in turn (:class:`ExportParts`); :mod:`seqtk.inference.export` writes and checks them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn


@dataclass(frozen=True)
class ExportSpec:
    """What a task exports (:meth:`Task.export_spec`); :mod:`seqtk.inference.export` traces or exports it and writes the files.

    ``module`` is an eval-mode module whose forward takes ``input_names`` tensors, in order, and returns a tuple
    of ``output_names`` tensors, with no branch on the values or sizes of its inputs (TorchScript tracing and
    ``torch.export`` record one path). ``example_inputs`` and ``check_inputs`` are two sets of inputs with
    different sizes: the second checks that the written model follows the sizes it is given.
    """

    module: nn.Module
    example_inputs: tuple[torch.Tensor, ...]
    check_inputs: tuple[torch.Tensor, ...]
    input_names: tuple[str, ...]
    output_names: tuple[str, ...]
    #: the variable axes of each input: name -> {axis: "batch" | "time"}; the others are fixed
    input_axes: dict[str, dict[int, str]]
    #: JSON files written next to the model (``vocab.json``, ``labels.json``): file name -> JSON-ready data
    files: dict[str, Any]
    #: Markdown for the README: the inputs and outputs, and how to make the inputs from text
    signature: str
    #: Python that runs the model through ``run(**inputs) -> dict of numpy outputs`` (defined before it in
    #: the README for each format); it imports neither seqtk nor torch, and the tests execute it
    usage: str
    #: when the model's own forward takes the same inputs, what it returns made from the exported outputs
    #: (``seqtk.load(..., quantize="int8")`` then runs the int8 ONNX model in its place); None: it cannot
    model_output: Callable[[tuple[torch.Tensor, ...]], Any] | None = None
    #: the (B,) input that every LSTM node of an ONNX file takes as its ``sequence_lens``, so that its final
    #: state is each row's own (:class:`seqtk.nn.traceable.StreamingEncoder`); None: the nodes take none
    sequence_lengths: str | None = None


@dataclass(frozen=True)
class ExportPart:
    """One model file of an :class:`ExportParts`: ``name`` is its file's stem (``encoder`` -> ``encoder.onnx``),
    ``description`` what it computes (a line of the README's table); the other fields mean what they mean in
    :class:`ExportSpec`."""

    name: str
    description: str
    module: nn.Module
    example_inputs: tuple[torch.Tensor, ...]
    check_inputs: tuple[torch.Tensor, ...]
    input_names: tuple[str, ...]
    output_names: tuple[str, ...]
    input_axes: dict[str, dict[int, str]]
    sequence_lengths: str | None = None


@dataclass(frozen=True)
class ExportParts:
    """What a task exports as several model files that an application calls in turn (a seq2seq model's encoder,
    then its decoder step once per token); :mod:`seqtk.inference.export` writes and checks each part as it does
    an :class:`ExportSpec`'s module.

    ``files`` and ``signature`` as in :class:`ExportSpec`; ``usage`` is Python that runs the parts through
    ``run(part_name, **inputs) -> dict of numpy outputs`` (defined before it in the README for each format).
    """

    parts: tuple[ExportPart, ...]
    files: dict[str, Any]
    signature: str
    usage: str
    #: a multi-file export never stands in for the model's own forward (``seqtk.load(..., quantize="int8")``)
    model_output: None = None
