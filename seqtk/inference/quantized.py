"""A task's model on int8 weights, for ``seqtk.load(..., quantize="int8")`` and ``--int8``: its exported ONNX
module, checked against seqtk's, quantized, and run by onnxruntime in the model's place.

The task's :class:`~seqtk.tasks.task.ExportSpec` says how (``model_output``: the model's forward output made
from the exported outputs); predict and evaluate then call it as they call the model. The int8 model runs on
the CPU. What it costs in quality is measured in docs/performance.md.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from seqtk.errors import SeqtkError
from seqtk.nn.steppers import cpu_session
from seqtk.tasks.task import ExportSpec


class OnnxModel(nn.Module):
    """An onnxruntime session behind a model's forward: tensors in, the model's output out (on the CPU).

    # the model's inputs (ExportSpec.input_names, in order) -> the model's output (ExportSpec.model_output)
    """

    def __init__(self, session: Any, spec: ExportSpec) -> None:
        super().__init__()
        self.session, self.input_names, self.output_names = session, list(spec.input_names), list(spec.output_names)
        self.convert: Callable[[tuple[Tensor, ...]], Any] = spec.model_output  # type: ignore[assignment]
        self.register_buffer("anchor", torch.zeros(()), persistent=False)  # its device: the CPU

    def forward(self, *inputs: Tensor) -> Any:
        # the model's inputs, e.g. ids (B, T) and lengths (B,) -> its output, e.g. logits (B, C); the exported
        # module's further inputs (a streaming classifier's initial state) start at zero
        feeds = {name: value.detach().cpu().numpy() for name, value in zip(self.input_names, inputs)}
        batch = inputs[0].size(0)
        for extra in self.session.get_inputs()[len(inputs) :]:  # a recurrent state the forward does not take
            feeds[extra.name] = np.zeros((batch, *extra.shape[1:]), dtype=np.float32)  # zeros: a text's start
        outputs = self.session.run(self.output_names, feeds)
        return self.convert(tuple(torch.from_numpy(out) for out in outputs))


def int8_model(spec: ExportSpec, task_name: str, checkpoint: Path) -> OnnxModel:
    """``checkpoint``'s exported module as an int8 ONNX model under onnxruntime, standing in for the model.

    The ONNX file is written by a Python process of its own (``python -m seqtk.inference.quantized``): torch
    2.13's exporter fixes the sequence length of an LSTM or GRU exported a second time in one process, and a
    notebook may load a model on int8 more than once. There it is checked against seqtk's float32 model, then
    quantized."""
    import subprocess
    import sys

    if spec.model_output is None:
        raise SeqtkError(f"task '{task_name}' exports a module whose outputs are not its model's, so seqtk "
                         "cannot run the int8 model in its place",
                         fix="load it without quantize (drop --int8), or export it: seqtk export CKPT --format onnx "
                         "--quantize int8")  # fmt: skip
    from seqtk.inference import model_files

    model_files._need_onnx()

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.onnx"
        done = subprocess.run([sys.executable, "-m", "seqtk.inference.quantized", str(checkpoint), str(path)],
                              capture_output=True, text=True)  # fmt: skip
        if done.returncode != 0:
            raise SeqtkError(f"building the int8 model failed: {_last_line(done.stderr)}",
                             fix="load it without quantize (drop --int8) and report the message to the seqtk "
                             "developers with the recipe")  # fmt: skip
        session = cpu_session(str(path))
    return OnnxModel(session, spec)


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no message"


def write_int8(checkpoint: Path, path: Path) -> None:
    """The checkpoint's exported module, checked and quantized, written to ``path`` (in this process)."""
    from seqtk.inference import model_files
    from seqtk.inference.loading import load_for_inference

    loaded = load_for_inference(checkpoint, device="cpu")
    with torch.no_grad():
        spec = loaded.task.export_spec(loaded.model.eval())
        model_files._write_onnx(spec, path)
        model_files._check(spec, "onnx", path)
        model_files._quantize_int8(spec, path)


def replace_model(model: nn.Module, task: Any, checkpoint: Path) -> nn.Module:
    """``model`` (on the CPU, in eval mode, as loaded from ``checkpoint``) as its task's int8 ONNX model."""
    with torch.no_grad():
        spec = task.export_spec(model)
    return int8_model(spec, task.name, checkpoint).eval()


if __name__ == "__main__":  # python -m seqtk.inference.quantized CHECKPOINT OUT.onnx
    import sys

    write_int8(Path(sys.argv[1]), Path(sys.argv[2]))
