"""How :meth:`seqtk.nn.encoder_decoder.EncoderDecoder.step` takes a step at inference: the onnxruntime step or
the eager one.

On a CPU, in eval mode without gradients, the step runs as one onnxruntime call on the graph of
:mod:`seqtk.nn.decoder_graph` (float32, or int8 with ``decoding.quantize``), built once per model and weights
and kept until a weight changes, as the language model's step is (:mod:`seqtk.nn.steppers`). Elsewhere (training,
a GPU, ``route="eager"``, onnxruntime not installed) the eager step runs; asking for int8 or the onnx route
where it cannot run is refused with the fix.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from seqtk.errors import SeqtkError
from seqtk.nn.decode_fallback import fallback_fix
from seqtk.nn.steppers import DecodeSettings, cpu_session
from seqtk.nn.weights_cache import cached, keep


class OnnxDecoderStep:
    """One decoding step as one onnxruntime call.

    # state (N rows), tokens (N,) -> logits (N, V), rnn state (L, N, H) [each], feed (N, H) or None, weights (N, S)
    """

    def __init__(self, session: Any, parts: tuple[str, ...]) -> None:
        self.session, self.parts = session, parts
        self.outputs = ["logits", *(f"{name}_out" for name in parts), "weights"]

    def __call__(self, state: Any, tokens: Tensor) -> tuple[Tensor, Any, Tensor | None, Tensor]:
        rnn = state.rnn if isinstance(state.rnn, tuple) else (state.rnn,)
        values = dict(zip(("h", "c"), rnn))
        if state.feed is not None:
            values["feed"] = state.feed
        feeds = {name: _array(values[name]) for name in self.parts}
        memory = state.memory
        feeds.update(tokens=_array(tokens), keys=_array(memory.keys), projected=_array(memory.projected),
                     mask=_array(memory.mask))  # fmt: skip
        logits, *new, weights = (torch.from_numpy(out) for out in self.session.run(self.outputs, feeds))
        feed = new.pop() if state.feed is not None else None
        return logits, (tuple(new) if len(new) == 2 else new[0]), feed, weights


def decoder_stepper(model: nn.Module, settings: DecodeSettings) -> OnnxDecoderStep | None:
    """The onnxruntime step for ``model`` (in eval mode, without gradients), or None for the eager step."""
    why = _no_onnx(model) if settings.route in ("auto", "onnx") else f"route={settings.route!r}"
    if why is None:
        return OnnxDecoderStep(_session(model, settings.quantize), _parts(model))
    if settings.quantize or settings.route == "onnx":
        what = "int8 weights need" if settings.quantize else "route='onnx' needs"
        raise SeqtkError(f"{what} the onnxruntime decoding step, which this model cannot take: {why}",
                         fix=_fix_for(why, settings))  # fmt: skip
    return None


def _fix_for(why: str, settings: DecodeSettings) -> str:
    if "autocast" in why:
        return "decode outside torch.autocast, or drop " + ("the int8 option" if settings.quantize else "route='onnx'")
    if "weights are" in why:
        return "convert the model to float32 first (model.float())"
    return fallback_fix(why, settings.quantize)  # the CPU, onnxruntime, as for the language model's step


def _no_onnx(model: nn.Module) -> str | None:
    device = model.output.weight.device
    if device.type != "cpu":
        return f"the model is on {device.type}, and the onnxruntime step runs on the CPU"
    if model.output.weight.dtype != torch.float32:
        return f"the model's weights are {model.output.weight.dtype}, and the step is built from float32 ones"
    if torch.is_autocast_enabled("cpu"):  # the state would come from the encoder in bfloat16 (validation under bf16)
        return "CPU autocast is on, and the step computes in float32"
    try:
        import onnx  # noqa: F401 - the graph is built with it
        import onnxruntime  # noqa: F401 - the session runs on it
    except ImportError as err:
        return f"{err.name} is not installed"
    return None


def _parts(model: nn.Module) -> tuple[str, ...]:
    from seqtk.nn.decoder_graph import state_parts

    return state_parts(model)


def _session(model: nn.Module, quantize: str | None) -> Any:
    """The session of ``model``'s step: built on first use, kept until a weight or the thread count changes."""
    slot = ("decoder", quantize, max(1, torch.get_num_threads()))
    hit = cached(model, slot)
    if hit is not None:
        return hit
    from seqtk.nn.decoder_graph import decoder_step_graph

    return keep(model, slot, cpu_session(decoder_step_graph(model, quantize).SerializeToString()))


def _array(value: Tensor) -> np.ndarray:
    return np.ascontiguousarray(value.detach().numpy())

