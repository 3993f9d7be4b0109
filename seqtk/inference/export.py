"""``seqtk export``: a trained model as TorchScript or ONNX, with its vocabulary, labels and a README.

The task says what it exports (:meth:`seqtk.tasks.task.Task.export_spec`: a
branch-free module, example inputs, the JSON files an application needs);
this module writes, into one folder::

    model.pt or model.onnx   the model, any batch size (and padded length, where it reads sequences)
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

import contextlib
import inspect
import io
import json
import logging
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from seqtk.errors import SeqtkError
from seqtk.runtime.files import atomic_write_bytes

if TYPE_CHECKING:  # pragma: no cover
    from seqtk.inference.predictor import Predictor
    from seqtk.tasks.task import ExportSpec

#: format -> the model's file name
FORMATS = {"torchscript": "model.pt", "onnx": "model.onnx"}
#: the largest difference between the written model and the task's module that the check accepts
TOLERANCE = 1e-5


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
        spec.module.eval()
        out.mkdir(parents=True, exist_ok=True)
        path = out / FORMATS[fmt]
        (_write_torchscript if fmt == "torchscript" else _write_onnx)(spec, path)
        difference = _check(spec, fmt, path)
        int8_difference = _quantize_int8(spec, path) if quantize else None
    files = [path]
    for name, data in spec.files.items():
        (out / name).write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        files.append(out / name)
    (out / "README.md").write_text(readme(predictor, spec, fmt, quantize), encoding="utf-8")
    files.append(out / "README.md")
    shapes = ", ".join(f"{name} {tuple(t.shape)}" for name, t in zip(spec.input_names, spec.check_inputs))
    return Exported(out, fmt, files, difference, shapes, quantize, int8_difference)


def _quantize_int8(spec: ExportSpec, path: Path) -> float | None:
    """Replace the checked float32 ONNX file by its int8 form; the largest output difference it makes on
    ``spec.check_inputs`` (None without onnxruntime to run it)."""
    try:
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError as err:
        raise SeqtkError("--quantize int8 needs onnxruntime, which is not installed",
                         fix="pip install onnxruntime (it comes with seqtk; a trimmed environment may lack it)") from err  # fmt: skip
    import onnxruntime

    quantized = path.with_name(path.name + ".int8.tmp")
    try:
        with _quiet():
            quantize_dynamic(str(path), str(quantized), weight_type=QuantType.QInt8, per_channel=True, reduce_range=True)
        feeds = {n: t.numpy() for n, t in zip(spec.input_names, spec.check_inputs)}
        full = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        small = onnxruntime.InferenceSession(str(quantized), providers=["CPUExecutionProvider"])
        names = list(spec.output_names)
        difference = max(float(abs(a - b).max()) for a, b in zip(full.run(names, feeds), small.run(names, feeds)))
        atomic_write_bytes(path, quantized.read_bytes())
    finally:
        quantized.unlink(missing_ok=True)
    return difference


def _need_onnx() -> None:
    try:
        import onnx  # noqa: F401
        import onnxscript  # noqa: F401
    except ImportError as err:
        raise SeqtkError(
            f"ONNX export needs the onnx and onnxscript packages, and {err.name} is not installed",
            fix="pip install 'seqtk[export]' (onnx, onnxscript and onnxruntime), or export with --format torchscript",
        ) from None


@contextlib.contextmanager
def _quiet() -> Any:
    """Keep the exporters' progress lines and advice (meant for PyTorch developers) off the user's terminal."""
    chatty = logging.getLogger("torch.onnx")
    level = chatty.level
    chatty.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")  # TracerWarnings included: _check() compares other sizes instead
            yield
    finally:
        chatty.setLevel(level)


def _write_torchscript(spec: ExportSpec, path: Path) -> None:
    with _quiet():
        traced = torch.jit.trace(spec.module, spec.example_inputs, check_trace=False)
    buffer = io.BytesIO()  # TorchScript's own file writer aborts the process on a full disk (c10::Error)
    torch.jit.save(traced, buffer)
    atomic_write_bytes(path, buffer.getvalue())  # plain writes: a full disk is an OSError, no half-written file


def _write_onnx(spec: ExportSpec, path: Path) -> None:
    dims: dict[str, Any] = {}
    per_input = [
        {axis: dims.setdefault(name, torch.export.Dim(name)) for axis, name in spec.input_axes.get(inp, {}).items()} or None
        for inp in spec.input_names
    ]
    shapes: list[Any] = []  # shaped like forward's parameters: a *args parameter takes a tuple of the rest
    for n, parameter in enumerate(inspect.signature(spec.module.forward).parameters.values()):
        if parameter.kind is inspect.Parameter.VAR_POSITIONAL:
            shapes.append(tuple(per_input[n:]))
            break
        shapes.append(per_input[n])
    with _quiet():
        program = torch.onnx.export(
            spec.module, spec.example_inputs, input_names=list(spec.input_names), output_names=list(spec.output_names),
            dynamic_shapes=tuple(shapes), dynamo=True, verbose=False, external_data=False,
        )
        program.save(str(path), external_data=False)


def _check(spec: ExportSpec, fmt: str, path: Path) -> float | None:
    """The largest difference between the written model and ``spec.module`` on ``spec.check_inputs``;
    None for ONNX without onnxruntime."""
    expected = spec.module(*spec.check_inputs)
    if fmt == "torchscript":
        with _quiet():  # torch 2.13 calls TorchScript deprecated; it still loads and runs
            loaded = torch.jit.load(str(path))
        got = [t.numpy() for t in loaded(*spec.check_inputs)]
    else:
        try:
            import onnxruntime
        except ImportError:
            return None
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        feeds = {n: t.numpy() for n, t in zip(spec.input_names, spec.check_inputs)}
        try:
            got = session.run(list(spec.output_names), feeds)
        except onnxruntime.capi.onnxruntime_pybind11_state.InvalidArgument as err:
            path.unlink(missing_ok=True)  # a model fixed to the traced sizes is no use to anyone
            raise SeqtkError(
                f"the exported ONNX model kept the traced input sizes and refuses others ({str(err).splitlines()[0]})."
                " torch 2.13's exporter does this to an LSTM or GRU exported a second time in one Python process",
                fix="export it again from a new process (seqtk export on the command line does); in a notebook, "
                "restart the kernel before the second export",
            ) from err
    difference = max(float(abs(torch.as_tensor(g) - e).max()) for g, e in zip(got, expected))
    if not difference <= TOLERANCE:
        raise SeqtkError(
            f"the exported {fmt} model differs from seqtk's by {difference:.3g} (more than {TOLERANCE:g}) on inputs of "
            "other sizes than the traced ones, so it would give wrong results",
            fix="report it to the seqtk developers with the recipe; meanwhile use the other --format or seqtk.load()",
        )
    return difference


def readme(predictor: Predictor, spec: ExportSpec, fmt: str, quantize: str | None = None) -> str:
    """The exported folder's README.md: what each file is, the inputs and outputs, and code that runs it."""
    from seqtk.version import __version__

    task = predictor.task.name
    step = predictor._loaded.payload.get("step")
    model_file = FORMATS[fmt]
    kind = "TorchScript (traced)" if fmt == "torchscript" else "ONNX" + (
        ", int8 weights (per output channel; inputs quantized on the fly)" if quantize else "")
    rows = [f"| `{model_file}` | the model, {kind}; the inputs' batch and length axes are free |"]
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
    }.get(name, "written by the task")


def _prelude(fmt: str, spec: ExportSpec) -> str:
    """Python defining ``FOLDER`` and ``run(**inputs) -> {output name: numpy array}`` for the format."""
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
