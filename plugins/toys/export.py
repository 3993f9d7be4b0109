"""What ``seqtk export`` writes for the toy problems: :class:`.model.ToyNet` as the task calls it.

The regression problems (one_to_many, many_to_one, many_to_many) take the
numbers as steps (B, T, 1) and return the predicted numbers; binary_addition
takes two bits per step (B, T, 2) and returns a logit per step (the sum bit
``delay`` steps earlier); first_bit takes a string of ±1 steps (B, T, 1) and
returns the logit of its first bit. The classification problems return the
sigmoid too. ``problem.json`` holds what the README's Python needs to build
the inputs and read the outputs as ``seqtk predict`` does.

A stack of reference cells (the lectures' ``ref_lstm`` with ReLU) runs as a
loop over the steps and exports at the problem's one length; a fused stack
exports first_bit for any length, as ``seqtk predict`` takes it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn

from seqtk.nn.traceable import WholeEncoder
from seqtk.tasks.task import ExportSpec
from seqtk_plugins.toys.problems import PROBES, REGRESSION, input_steps

if TYPE_CHECKING:  # pragma: no cover
    from seqtk_plugins.toys.model import ToyNet
    from seqtk_plugins.toys.task import ToySequencesTask


class ExportedToyNet(nn.Module):
    """:class:`ToyNet`'s forward, branch-free; with ``probabilities``, its sigmoid too.

    # x (B, T, F) -> output (B, K), or (B, T) per step; (+ probabilities of the same shape)
    """

    def __init__(self, model: ToyNet, probabilities: bool) -> None:
        super().__init__()
        self.encoder, self.head = WholeEncoder(model.encoder), model.head
        self.per_step, self.probabilities = model.per_step, probabilities

    def forward(self, x: Tensor) -> tuple[Tensor, ...]:
        out = self.head(self.encoder(x))  # (B, T, F) -> (B, H) or (B, T, H) -> (B, K) or (B, T, 1)
        if self.per_step:
            out = out.squeeze(-1)  # (B, T)
        return (out, torch.sigmoid(out)) if self.probabilities else (out,)


def export_spec(task: ToySequencesTask, model: ToyNet) -> ExportSpec:
    """The network, the problem's settings, and the README's text and code."""
    problem, cfg = task.problem, task.recipe.data
    module = ExportedToyNet(model, probabilities=problem not in REGRESSION).eval()
    steps, features = _input_shape(problem, cfg)
    free_time = problem == "first_bit" and not module.encoder.fixed_length
    example = (_example(problem, 3, steps, features),)
    check = (_example(problem, 5, steps + 3 if free_time else steps, features),)
    names = ("output",) if problem in REGRESSION else ("logits", "probabilities")
    files = {"problem.json": {"problem": problem, "steps": steps, "features": features, "bits": cfg.bits,
                              "delay": cfg.delay, "length": cfg.length, "any_length": free_time}}
    return ExportSpec(
        module=module, example_inputs=example, check_inputs=check, input_names=("x",), output_names=names,
        input_axes={"x": {0: "batch", 1: "time"} if free_time else {0: "batch"}}, files=files,
        signature=_signature(problem, steps, features, free_time, model.head.out_features), usage=_usage(problem),
        model_output=_output,
    )


def _input_shape(problem: str, cfg: Any) -> tuple[int, int]:
    """(steps, features) of the problem's inputs."""
    if problem == "binary_addition":
        return cfg.bits + 1 + cfg.delay, 2
    if problem == "first_bit":
        return cfg.length, 1
    return input_steps(problem), 1


def _example(problem: str, batch: int, steps: int, features: int) -> Tensor:
    """Inputs such as the problem's: numbers of the lectures' size, bits, or ±1."""
    if problem in REGRESSION:
        return 50 * torch.rand(batch, steps, features)
    bits = torch.randint(0, 2, (batch, steps, features)).float()
    return bits if problem == "binary_addition" else 2 * bits - 1


def _output(outputs: tuple[Tensor, ...]) -> Tensor:
    return outputs[0]  # what the model's forward returns


def _signature(problem: str, steps: int, features: int, free_time: bool, outputs: int) -> str:
    length = "any number of steps T" if free_time else f"T = {steps} steps, and the model reads no other length"
    if problem in REGRESSION:
        return f"""\
Inputs: `x` (B, {steps}, 1) float32: the numbers, one per step; {length}.

Outputs: `output` (B, {outputs}) float32: the predicted numbers."""
    if problem == "first_bit":
        return f"""\
Inputs: `x` (B, T, 1) float32: a bit string, each bit as -1.0 (0) or 1.0 (1); {length}.

Outputs: `logits` (B, 1) float32 and `probabilities` (B, 1), its sigmoid: the probability that the first bit is 1."""
    return f"""\
Inputs: `x` (B, {steps}, 2) float32: two numbers of `bits` bits (`problem.json`), a column per step from the
right: step t holds bit t of each (0.0 or 1.0); the steps from `bits` on are zero.

Outputs: `logits` (B, {steps}) float32 and `probabilities` (B, {steps}), its sigmoid: step t's is the sum's bit
t - `delay` (the first `delay` steps mean nothing). A logit above 0 is a 1."""


_HEAD = '''\
import json

PROBLEM = json.load(open(f"{FOLDER}/problem.json", encoding="utf-8"))
'''

_USAGE = {
    "regression": '''

def predict(text):
    """What `seqtk predict` reports for numbers separated by spaces or commas."""
    values = [float(v) for v in text.replace(",", " ").split()]
    assert len(values) == PROBLEM["steps"], f"pass {PROBLEM['steps']} numbers"
    x = np.array(values, dtype=np.float32).reshape(1, -1, 1)
    return {"input": values, "output": run(x=x)["output"][0].tolist()}


print(predict("EXAMPLE"))
''',
    "first_bit": '''

def predict(text):
    """What `seqtk predict` reports for a bit string such as "1001011"."""
    x = (2.0 * np.array([[float(c) for c in text]], dtype=np.float32) - 1.0)[:, :, None]
    p = float(run(x=x)["probabilities"][0, 0])
    return {"input": text, "output": [p], "first_bit": int(p > 0.5)}


print(predict("1" + "0" * (PROBLEM["length"] - 1)))
''',
    "binary_addition": '''

def predict(text):
    """What `seqtk predict` reports for an addition such as "13+6"."""
    a, b = (int(v) for v in text.split("+"))
    bits, delay = PROBLEM["bits"], PROBLEM["delay"]
    steps = np.arange(bits + 1 + delay)
    x = np.stack([(a >> steps) & 1, (b >> steps) & 1], axis=-1).astype(np.float32)[None]  # (1, T, 2)
    x[:, bits:] = 0
    sum_bits = (run(x=x)["logits"][0, delay:] > 0).astype(int)  # least significant first
    total = sum(int(v) << i for i, v in enumerate(sum_bits))
    return {"input": text, "output": [total], "bits": "".join(str(v) for v in sum_bits[::-1]), "expected": a + b}


print(predict("13+6"))
''',
}


def _usage(problem: str) -> str:
    """Python (after the README's ``run``) that predicts as ``seqtk predict`` does, for the problem."""
    if problem in REGRESSION:
        example = " ".join(f"{v:g}" for v in PROBES[problem].inputs)
        return _HEAD + _USAGE["regression"].replace("EXAMPLE", example)
    return _HEAD + _USAGE[problem]
