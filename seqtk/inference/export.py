"""``seqtk export``: a trained model as TorchScript or ONNX, with its vocabulary, labels and a README.

The task says what it exports (:meth:`seqtk.tasks.task.Task.export_spec`: a
branch-free module, example inputs, the JSON files an application needs);
this module writes, into one folder::

    model.pt or model.onnx   the model, any batch size (and padded length, where it reads sequences)
                             (a task that exports several modules, :class:`~seqtk.tasks.task.ExportParts`,
                             gets one file per part instead: encoder.onnx, decoder_step.onnx, ...)
    vocab.json, labels.json  what turns text into input ids and outputs into labels (the task's files)
    README.md                the inputs and outputs, and Python that runs the model without seqtk

TorchScript is traced (``torch.jit.trace``); ONNX goes through PyTorch's
``torch.export``-based exporter, which needs ``onnx`` and ``onnxscript``
(``pip install 'seqtk[export]'``). Both files are then run again on inputs of
other sizes than the traced ones and compared with the task's module, so a
size frozen into the file is caught here rather than in the application.

    from seqtk.inference.export import export_checkpoint
    export_checkpoint("runs/classify_bbc/<time>/checkpoints/best.pt", "onnx", "exported/")
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from seqtk.errors import SeqtkError
from seqtk.inference.model_files import (  # noqa: F401 - TOLERANCE and the writers were defined here
    TOLERANCE,
    _check,
    _need_onnx,
    _quantize_int8,
    _quiet,
    _write_onnx,
    _write_torchscript,
)
from seqtk.tasks.task import ExportParts

if TYPE_CHECKING:  # pragma: no cover
    from seqtk.inference.predictor import Predictor
    from seqtk.tasks.task import ExportPart, ExportSpec

#: format -> the model's file name
FORMATS = {"torchscript": "model.pt", "onnx": "model.onnx"}
#: format -> the suffix of each part's file (``encoder.onnx``) when a task exports several modules
SUFFIXES = {"torchscript": ".pt", "onnx": ".onnx"}


@dataclass
class Exported:
    """What :func:`export` wrote: the folder, its files, and the check's largest difference (None: not run)."""

    out: Path
    format: str
    files: list[Path]
    max_difference: float | None
    check_shapes: str
    #: ``"int8"`` when the weights were quantized after the check; the int8 model's largest difference from
    #: the float32 one on the same inputs (what quantizing costs, not an error) is ``int8_difference``
    quantize: str | None = None
    int8_difference: float | None = None


def export_checkpoint(checkpoint: str | Path, fmt: str, out: str | Path, quantize: str | None = None) -> Exported:
    """Export a checkpoint (``best.pt``/``last.pt``) in ``fmt`` (``torchscript`` or ``onnx``) to the folder ``out``;
    ``quantize="int8"`` (ONNX) stores the matrix weights as int8."""
    from seqtk.inference.predictor import load

    check_format(fmt, quantize)
    return export(load(checkpoint, device="cpu"), fmt, Path(out), quantize)


def check_format(fmt: str, quantize: str | None = None) -> None:
    if fmt not in FORMATS:
        raise SeqtkError(f"unknown export format '{fmt}'", fix=f"use --format {' or --format '.join(FORMATS)}")
    if quantize not in (None, "int8"):
        raise SeqtkError(f"unknown quantization '{quantize}'", fix="use --quantize int8, or leave it out for float32")
    if quantize and fmt != "onnx":
        raise SeqtkError(f"--quantize {quantize} writes an ONNX model (onnxruntime runs int8 weights), and "
                         f"--format {fmt} was asked for", fix="use --format onnx --quantize int8")  # fmt: skip


def export(predictor: Predictor, fmt: str, out: Path, quantize: str | None = None) -> Exported:
    """Write ``predictor``'s model in ``fmt``, its task's files and a README into ``out`` (created if needed).

    The written model is checked against seqtk's before anything else; with ``quantize="int8"`` its matrix
    weights are then quantized (onnxruntime's dynamic quantization: int8 per output channel in 7 bits, the
    inputs quantized on the fly) and the cost is measured on the same inputs."""
    check_format(fmt, quantize)
    if out.exists() and not out.is_dir():
        raise SeqtkError(f"--out '{out}' is a file", fix="name a folder (it is created if it does not exist)")
    if fmt == "onnx":
        _need_onnx()
    predictor.to("cpu")
    model = predictor.model.eval()
    with torch.no_grad():
        spec = predictor.task.export_spec(model)
        files: list[Path] = []
        differences: list[float | None] = []
        int8_differences: list[float | None] = []
        out.mkdir(parents=True, exist_ok=True)
        for path, part in model_paths(spec, fmt, out):
            part.module.eval()
            (_write_torchscript if fmt == "torchscript" else _write_onnx)(part, path)
            differences.append(_check(part, fmt, path))
            int8_differences.append(_quantize_int8(part, path) if quantize else None)
            files.append(path)
    for name, data in spec.files.items():
        (out / name).write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        files.append(out / name)
    (out / "README.md").write_text(readme(predictor, spec, fmt, quantize), encoding="utf-8")
    files.append(out / "README.md")
    return Exported(out, fmt, files, _largest(differences), _check_shapes(spec), quantize, _largest(int8_differences))


def model_paths(spec: ExportSpec | ExportParts, fmt: str, out: Path) -> list[tuple[Path, ExportSpec | ExportPart]]:
    """Each model file the export writes into ``out``, with what goes in it: ``model.pt``/``model.onnx`` for an
    :class:`ExportSpec`, ``<part>.pt``/``<part>.onnx`` for each part of an :class:`ExportParts`."""
    if isinstance(spec, ExportParts):
        return [(out / f"{part.name}{SUFFIXES[fmt]}", part) for part in spec.parts]
    return [(out / FORMATS[fmt], spec)]  # type: ignore[list-item]


def _largest(differences: list[float | None]) -> float | None:
    """The largest of the parts' differences; None when none was measured (ONNX without onnxruntime)."""
    measured = [d for d in differences if d is not None]
    return max(measured) if measured else None


def _check_shapes(spec: ExportSpec | ExportParts) -> str:
    """The check's input shapes, for the command's report (each part's, named, for several)."""
    def shapes(part: ExportSpec | ExportPart) -> str:
        return ", ".join(f"{name} {tuple(t.shape)}" for name, t in zip(part.input_names, part.check_inputs))

    if isinstance(spec, ExportParts):
        return "; ".join(f"{part.name}: {shapes(part)}" for part in spec.parts)
    return shapes(spec)


def readme(predictor: Predictor, spec: ExportSpec | ExportParts, fmt: str, quantize: str | None = None) -> str:
    """The exported folder's README.md: what each file is, the inputs and outputs, and code that runs it."""
    from seqtk.version import __version__

    task = predictor.task.name
    step = predictor._loaded.payload.get("step")
    kind = "TorchScript (traced)" if fmt == "torchscript" else "ONNX" + (
        ", int8 weights (per output channel; inputs quantized on the fly)" if quantize else "")
    rows = [f"| `{path.name}` | {getattr(part, 'description', 'the model')}, {kind}; the inputs' batch and length "
            "axes are free |" for path, part in model_paths(spec, fmt, Path("."))]
    rows += [f"| `{name}` | {_describe_file(name)} |" for name in spec.files]
    needs = "`torch` and `numpy`" if fmt == "torchscript" else "`onnxruntime` and `numpy`"
    if "tokenizers" in spec.usage:
        needs += ", and `tokenizers` for the tokenizer"
    return "\n".join([
        f"# A `{task}` model exported from seqtk",
        "",
        f"Exported by seqtk {__version__} (torch {torch.__version__}) from `{predictor.source}` (step {step}) with",
        f"`seqtk export {predictor.source} --format {fmt}{' --quantize ' + quantize if quantize else ''} "
        "--out <this folder>`.",
        "",
        "| file | what it is |",
        "| --- | --- |",
        *rows,
        "| `README.md` | this file |",
        "",
        "## Inputs and outputs",
        "",
        spec.signature.strip(),
        "",
        "## Run it",
        "",
        f"This needs {needs}; not seqtk. Run it in this folder (or set `FOLDER`):",
        "",
        "```python",
        _prelude(fmt, spec).strip(),
        "",
        "",
        spec.usage.strip(),
        "```",
        "",
    ])


def _describe_file(name: str) -> str:
    return {
        "vocab.json": "the vocabulary: how text becomes input ids (tokenizer, tokens in id order, OOV buckets)",
        "labels.json": "the label of each output column",
        "tokenizer.json": "the trained BPE tokenizer, for `tokenizers.Tokenizer.from_file`",
        "view.json": "how a 28x28 image becomes the input sequence: the view, the pixel permutation, the scale",
        "scaler.json": "the normalisation learned from the training split (mean, std) and whether windows are relative",
        "problem.json": "the toy problem and its settings (steps, bits, delay, length), to build inputs and read outputs",
        "crf.json": "the CRF's scores: `transitions[i][j]` for tag i followed by tag j, `start` and `end` per tag",
        "decoding.json": "how seqtk decodes: the beam, the most output tokens, the length penalty, the state's parts",
        "source_tokenizer.json": "the source's trained BPE tokenizer, for `tokenizers.Tokenizer.from_file`",
        "target_tokenizer.json": "the target's trained BPE tokenizer, for `tokenizers.Tokenizer.from_file`",
    }.get(name, "written by the task")


def _prelude(fmt: str, spec: ExportSpec | ExportParts) -> str:
    """Python defining ``FOLDER`` and ``run(**inputs) -> {output name: numpy array}`` for the format
    (``run(part, **inputs)`` for an :class:`ExportParts`)."""
    if isinstance(spec, ExportParts):
        return _parts_prelude(fmt, spec)
    names = f"INPUTS, OUTPUTS = {list(spec.input_names)!r}, {list(spec.output_names)!r}"
    if fmt == "torchscript":
        return f'''
import numpy as np
import torch

FOLDER = "."
model = torch.jit.load(f"{{FOLDER}}/model.pt")
{names}


def run(**inputs):
    """The model's outputs, numpy arrays by name, for numpy inputs by name."""
    with torch.no_grad():
        outputs = model(*(torch.from_numpy(np.asarray(inputs[name])) for name in INPUTS))
    return {{name: out.numpy() for name, out in zip(OUTPUTS, outputs)}}
'''
    return f'''
import numpy as np
import onnxruntime

FOLDER = "."
session = onnxruntime.InferenceSession(f"{{FOLDER}}/model.onnx", providers=["CPUExecutionProvider"])
{names}


def run(**inputs):
    """The model's outputs, numpy arrays by name, for numpy inputs by name."""
    return dict(zip(OUTPUTS, session.run(OUTPUTS, {{name: np.asarray(inputs[name]) for name in INPUTS}})))
'''


def _parts_prelude(fmt: str, spec: ExportParts) -> str:
    """Python defining ``FOLDER`` and ``run(part, **inputs) -> {output name: numpy array}`` for the format."""
    parts = "PARTS = {\n" + "".join(
        f"    {part.name!r}: ({list(part.input_names)!r}, {list(part.output_names)!r}),\n" for part in spec.parts) + "}"
    if fmt == "torchscript":
        return f'''
import numpy as np
import torch

FOLDER = "."
{parts}  # each part's inputs and outputs, in order
models = {{name: torch.jit.load(f"{{FOLDER}}/{{name}}.pt") for name in PARTS}}


def run(part, **inputs):
    """The outputs of the model file `part`, numpy arrays by name, for numpy inputs by name."""
    names, outputs = PARTS[part]
    with torch.no_grad():
        got = models[part](*(torch.from_numpy(np.ascontiguousarray(inputs[name])) for name in names))
    return {{name: out.numpy() for name, out in zip(outputs, got)}}
'''
    return f'''
import numpy as np
import onnxruntime

FOLDER = "."
{parts}  # each part's inputs and outputs, in order
sessions = {{name: onnxruntime.InferenceSession(f"{{FOLDER}}/{{name}}.onnx", providers=["CPUExecutionProvider"])
            for name in PARTS}}


def run(part, **inputs):
    """The outputs of the model file `part`, numpy arrays by name, for numpy inputs by name."""
    names, outputs = PARTS[part]
    return dict(zip(outputs, sessions[part].run(outputs, {{name: np.asarray(inputs[name]) for name in names}})))
'''
