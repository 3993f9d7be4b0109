"""The model file of an :class:`~seqtk.tasks.task.ExportSpec`: written (TorchScript or ONNX), checked against
seqtk's module on inputs of other sizes, and, for ONNX, quantized to int8. ``seqtk export``
(:mod:`seqtk.inference.export`) and int8 models (:mod:`seqtk.inference.quantized`) share it.
"""

from __future__ import annotations

import contextlib
import inspect
import io
import logging
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from seqtk.errors import SeqtkError
from seqtk.runtime.files import atomic_write_bytes

if TYPE_CHECKING:  # pragma: no cover
    from seqtk.tasks.task import ExportPart, ExportSpec

#: the largest difference between the written model and the task's module that the check accepts
TOLERANCE = 1e-5


def _quantize_int8(spec: ExportSpec | ExportPart, path: Path) -> float | None:
    """Replace the checked float32 ONNX file by its int8 form; the largest output difference it makes on
    ``spec.check_inputs``. Without onnxruntime it stops with the fix."""
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
        pairs = zip(full.run(names, feeds), small.run(names, feeds))
        difference = max(_difference(torch.as_tensor(a), torch.as_tensor(b)) for a, b in pairs)
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
    # torch.onnx's progress, and onnxruntime's quantizer advice on the root logger ("consider pre-processing")
    chatty = [logging.getLogger("torch.onnx"), logging.getLogger()]
    levels = [logger.level for logger in chatty]
    for logger in chatty:
        logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")  # TracerWarnings included: _check() compares other sizes instead
            yield
    finally:
        for logger, level in zip(chatty, levels):
            logger.setLevel(level)


def _write_torchscript(spec: ExportSpec | ExportPart, path: Path) -> None:
    with _quiet():
        traced = torch.jit.trace(spec.module, spec.example_inputs, check_trace=False)
    buffer = io.BytesIO()  # TorchScript's own file writer aborts the process on a full disk (c10::Error)
    torch.jit.save(traced, buffer)
    atomic_write_bytes(path, buffer.getvalue())  # plain writes: a full disk is an OSError, no half-written file


def _write_onnx(spec: ExportSpec | ExportPart, path: Path) -> None:
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
    if spec.sequence_lengths is not None:
        _lstm_sequence_lens(path, spec.sequence_lengths)
    _free_output_sizes(spec, path)


def _lstm_sequence_lens(path: Path, lengths: str) -> None:
    """Give every LSTM node of the file the input ``lengths`` (cast to int32) as its ``sequence_lens``.

    A fused LSTM on a right-padded batch ends in the padding's state; ONNX's LSTM takes each row's length and
    then returns its ``Y_h`` and ``Y_c`` at that row's own last step (and zeros past it in ``Y``). The module
    computes the same in PyTorch (:class:`seqtk.nn.traceable.StreamingEncoder`), and ``_check`` compares the two.
    """
    import onnx
    from onnx import TensorProto, helper

    model = onnx.load(str(path))
    if lengths not in {inp.name for inp in model.graph.input}:
        raise SeqtkError(f"the export names {lengths!r} as its LSTM nodes' sequence lengths, but the exported model "
                         f"has no input of that name (its inputs: {', '.join(i.name for i in model.graph.input)})",
                         fix="set the task's ExportSpec.sequence_lengths to one of its input_names, or to None")  # fmt: skip
    nodes = [node for node in model.graph.node if node.op_type == "LSTM"]
    as_int32 = f"{lengths}_as_int32"
    for node in nodes:
        while len(node.input) < 5:
            node.input.append("")
        node.input[4] = as_int32
    if nodes:
        model.graph.node.insert(0, helper.make_node("Cast", [lengths], [as_int32], to=TensorProto.INT32))
        atomic_write_bytes(path, model.SerializeToString())


def _free_output_sizes(spec: ExportSpec | ExportPart, path: Path) -> None:
    """Mark as free the output sizes that follow the inputs' free sizes but that the file records as fixed.

    torch 2.13's exporter writes an LSTM's or GRU's sequence length from the example into the shapes of the
    outputs computed from it (an encoder's (B, S, K) memory as (B, 5, K)). onnxruntime computes them right for
    any length but warns on every call; the sizes that differ between the module's outputs on the example and
    check inputs are named here instead (after the input axis of that size, as in ``input_axes``). A file whose
    outputs are all right (every single-file export so far) is left as written."""
    import onnx

    names = {int(t.size(axis)): name for inp, t in zip(spec.input_names, spec.check_inputs)
             for axis, name in spec.input_axes.get(inp, {}).items()}  # fmt: skip
    example, check = (_as_tuple(spec.module(*inputs)) for inputs in (spec.example_inputs, spec.check_inputs))
    model = onnx.load(str(path))
    changed = False
    for output, first, second in zip(model.graph.output, example, check):
        for axis, dim in enumerate(output.type.tensor_type.shape.dim):
            if dim.HasField("dim_value") and first.size(axis) != second.size(axis):
                dim.dim_param = names.get(int(second.size(axis)), f"{output.name}_{axis}")
                changed = True
    if changed:  # the intermediate shapes the exporter recorded hold the same fixed length: onnxruntime infers them
        del model.graph.value_info[:]
        atomic_write_bytes(path, model.SerializeToString())


def _as_tuple(outputs: Any) -> tuple[torch.Tensor, ...]:
    return (outputs,) if isinstance(outputs, torch.Tensor) else tuple(outputs)


def _difference(got: torch.Tensor, expected: torch.Tensor) -> float:
    """The largest absolute difference; equal values count 0, so that an output holding -inf where seqtk's does
    (a log-probability of a token that is never emitted) is no difference."""
    if got.numel() == 0:
        return 0.0
    gap = (got.double() - expected.double()).abs()
    return float(torch.where(got == expected, torch.zeros_like(gap), gap).max())


def _check(spec: ExportSpec | ExportPart, fmt: str, path: Path) -> float | None:
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
            if any(type(m) is torch.nn.RNN for m in spec.module.modules()):
                raise SeqtkError(
                    f"the exported ONNX model kept the traced input sizes and refuses others ({str(err).splitlines()[0]})."
                    " torch 2.13's ONNX exporter fixes the sequence length of a plain rnn layer (nn.RNN), in every "
                    "process",
                    fix="export it with --format torchscript, or train with gru or lstm layers for ONNX",
                ) from err
            raise SeqtkError(
                f"the exported ONNX model kept the traced input sizes and refuses others ({str(err).splitlines()[0]})."
                " torch 2.13's exporter does this to an LSTM or GRU exported a second time in one Python process",
                fix="export it again from a new process (seqtk export on the command line does); in a notebook, "
                "restart the kernel before the second export",
            ) from err
    difference = max(_difference(torch.as_tensor(g), e) for g, e in zip(got, expected))
    if not difference <= TOLERANCE:
        raise SeqtkError(
            f"the exported {fmt} model differs from seqtk's by {difference:.3g} (more than {TOLERANCE:g}) on inputs of "
            "other sizes than the traced ones, so it would give wrong results",
            fix="report it to the seqtk developers with the recipe; meanwhile use the other --format or seqtk.load()",
        )
    return difference
