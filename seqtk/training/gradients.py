"""The gradient through time: how much of ∂L reaches each time step t of every recurrent layer.

The lectures' vanishing-gradient argument, measured: back-propagating from a
loss at step T to step t multiplies by ``diag(1 - h²) W`` once per step, so
in an Elman RNN the gradient reaching early steps shrinks geometrically, while
the LSTM's and GRU's additive state updates keep it.

A fused kernel (cuDNN, oneDNN) keeps its states h_t inside, so the tensor of
its outputs carries only the loss's *direct* dependence on each h_t, not the
part that flows back through time. What does show from outside is the
gradient at the layer's input, ``∂L/∂x_t = U^T ∂L/∂a_t`` with ``a_t`` the
pre-activation at step t: the same back-propagated signal as
``∂L/∂h_{t-1} = W^T ∂L/∂a_t`` (+ the direct part), so it shrinks at the same
rate. For layer l > 1, x_t is layer l-1's output h_t, and the curve is
``‖∂L/∂h_t‖`` of that layer along the path through layer l.

:class:`GradientThroughTime` hooks the input of every layer of every
:class:`~seqtk.nn.encoders.StackedEncoder` inside a model (through
:meth:`StackedEncoder.observe`, so any task whose model uses one works) and
records, per layer, the mean over the batch of each example's ‖∂L/∂x_t‖ at every t.

>>> from seqtk.nn.encoders import LayerSpec, StackedEncoder
>>> enc = StackedEncoder(1, [LayerSpec("rnn", 8)])
>>> recorder = GradientThroughTime(enc)
>>> with recorder.recording():
...     enc(torch.randn(4, 10, 1))[:, -1].sum().backward()
>>> recorder.curves["layer 1"].shape
torch.Size([10])
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn

from seqtk.errors import SeqtkError

if TYPE_CHECKING:  # pragma: no cover
    from seqtk.runtime.loggers import Logger
    from seqtk.tasks.task import Task

#: where along the sequence the trainer logs scalars: name -> fraction of T - 1
POSITIONS = {"start": 0.0, "q1": 0.25, "mid": 0.5, "q3": 0.75, "end": 1.0}


class GradientThroughTime:
    """Per-step gradient norms of every encoder layer's output, recorded inside :meth:`recording`."""

    def __init__(self, model: nn.Module) -> None:
        from seqtk.nn.encoders import StackedEncoder

        encoders = [(name, m) for name, m in model.named_modules() if isinstance(m, StackedEncoder)]
        if not encoders:
            raise SeqtkError(
                f"log.grad_through_time needs a model with a seqtk StackedEncoder; {type(model).__name__} has none",
                fix="set log.grad_through_time = false, or build the model's recurrent layers with seqtk.nn.encoders",
            )
        several = len(encoders) > 1
        self._handles = [enc.observe(self._observer(f"{name} " if several else "")) for name, enc in encoders]
        self.active = False
        self.curves: dict[str, Tensor] = {}  # "layer 1" -> (T,)

    def _observer(self, prefix: str) -> Any:
        def observe(index: int, x: Tensor) -> Tensor | None:
            # x: (B, T, F), the layer's input
            if not self.active or not torch.is_grad_enabled():
                return None
            if not x.requires_grad:  # input data: a leaf of its own, so that dL/dx_t exists (nothing else changes)
                x = x.detach().requires_grad_()
            name = f"{prefix}layer {index + 1}"
            x.register_hook(lambda grad: self._store(name, grad))
            return x

        return observe

    def _store(self, name: str, grad: Tensor) -> None:
        # (B, T, F) -> (T,): each example's norm over the features, averaged over the batch
        self.curves[name] = grad.detach().float().norm(dim=-1).mean(dim=0).cpu()

    def start(self) -> None:
        """Forget the last curves; record the forward and backward passes from now on."""
        self.curves = {}
        self.active = True

    def stop(self) -> None:
        self.active = False

    @contextmanager
    def recording(self) -> Iterator[GradientThroughTime]:
        """Record the gradients of the forward and backward passes run inside the block."""
        self.start()
        try:
            yield self
        finally:
            self.stop()

    def close(self) -> None:
        """Remove the hooks from the model."""
        for handle in self._handles:
            handle.remove()
        self._handles = []


class GradientLog:
    """The trainer's side: record every ``every`` steps, then log an image and a few scalars."""

    def __init__(self, model: nn.Module, every: int) -> None:
        self.recorder = GradientThroughTime(model)
        self.every = every
        self._due = False

    def before_step(self, step: int) -> None:
        self._due = step % self.every == 0
        if self._due:
            self.recorder.start()

    def after_backward(self, step: int, logger: Logger, scale: float = 1.0) -> None:
        """Log what the step recorded; ``scale``: the loss scale of fp16 training, divided out."""
        if not self._due:
            return
        self.recorder.stop()
        self._due = False
        curves = {name: curve / scale for name, curve in self.recorder.curves.items()}
        if curves:
            logger.log_scalars(step, curve_scalars(curves))
            logger.log_image("gradients/through_time", plot_curves(curves, f"step {step}"), step)

    def close(self) -> None:
        self.recorder.close()


def curve_scalars(curves: dict[str, Tensor]) -> dict[str, float]:
    """``gradients/layer1_start`` ... ``_end`` and ``_start_over_end`` (how much reaches step 0, relative to T-1).

    >>> curve_scalars({"layer 1": torch.tensor([0.5, 1.0, 2.0])})["gradients/layer1_start_over_end"]
    0.25
    """
    out: dict[str, float] = {}
    for name, curve in curves.items():
        key = "gradients/" + name.replace(" ", "")
        last = len(curve) - 1
        for label, fraction in POSITIONS.items():
            out[f"{key}_{label}"] = float(curve[round(fraction * last)])
        out[f"{key}_start_over_end"] = float(curve[0] / curve[last]) if float(curve[last]) > 0 else float("nan")
    return out


def plot_curves(curves: dict[str, Tensor], title: str = "", path: str | None = None) -> Tensor:
    """A log-scale line plot of the curves as a uint8 (3, H, W) tensor (and a PNG file at ``path``)."""
    from seqtk.runtime.plots import image_tensor, line_plot

    image = line_plot({k: v.tolist() for k, v in curves.items()}, title=f"gradient reaching each step  {title}".strip(),
                      xlabel="time step t", ylabel="||dL/dx_t||", log_y=True)
    if path is not None:
        image.save(path)
    return image_tensor(image)


def measure(task: Task, model: nn.Module, batches: Iterable[Any], device: torch.device) -> dict[str, Tensor]:
    """Mean gradient-through-time curves of ``model`` over ``batches`` (the weights are not changed).

    Runs in eval mode (no dropout) with gradients, calling ``task.step`` with
    ``train=False`` so that no training state (a carried stream) changes;
    batches whose length differs from the first one's are skipped so the
    curves line up.
    """
    from seqtk.data.batches import move_to
    from seqtk.runtime.device import eval_mode

    recorder, sums, count = GradientThroughTime(model), dict[str, Tensor](), 0
    with eval_mode(model):
        try:
            for batch in batches:
                with recorder.recording():
                    task.step(model, move_to(batch, device), train=False).loss.backward()
                if sums and any(sums[k].shape != v.shape for k, v in recorder.curves.items() if k in sums):
                    continue
                for name, curve in recorder.curves.items():
                    sums[name] = sums.get(name, 0) + curve
                count += 1
        finally:
            recorder.close()
            model.zero_grad(set_to_none=True)
    return {name: total / max(count, 1) for name, total in sums.items()}
