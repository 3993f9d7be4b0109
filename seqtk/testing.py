"""A test harness for task plugin authors.

One call exercises a task the way ``seqtk run``, ``seqtk eval`` and
``seqtk predict`` will::

    from seqtk.testing import check_task

    def test_my_task(tmp_path):
        check_task(MyTask, {"data": {...}, "model": {"hidden": 8}}, tmp_path,
                   predict_inputs=["some input"])

It trains a few steps on the CPU, checks that the training loss fell,
reloads ``last.pt`` the way inference does, and checks that the reloaded
model evaluates to the recorded validation loss and predicts exactly what the
in-memory model predicts. A failed check raises ``AssertionError``.

For a task that exports (``Task.export_spec``), :func:`export_in_new_process`
runs ``seqtk export`` on a checkpoint and :func:`run_exported_readme` runs the
exported folder's README Python, then a check of yours, in a process that
cannot import seqtk.
"""

from __future__ import annotations

import copy
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from seqtk.config.conversion import resolve
from seqtk.config.schema import Recipe
from seqtk.inference.loading import Loaded, load_for_inference
from seqtk.runtime.device import autocast
from seqtk.tasks.lifecycle import same
from seqtk.tasks.registry import default_registry, get_task
from seqtk.tasks.task import Task
from seqtk.training.train import TrainResult, run_training


@dataclass
class CheckResult:
    """What :func:`check_task` measured."""

    run_dir: Path
    first_loss: float  # mean of the first 3 logged training losses
    last_loss: float  # mean of the last 3
    val_loss: float  # recorded at the end of training
    reloaded_val_loss: float  # from the reloaded last.pt
    predictions: list[dict[str, Any]] | None
    log: str  # what training printed


def check_task(
    task_cls_or_name: type[Task] | str, recipe: dict[str, Any], tmp_path: str | Path, steps: int = 30,
    predict_inputs: list[str] | None = None,
) -> CheckResult:
    """Train ``steps`` steps on the CPU into ``tmp_path`` and cross-check the result.

    ``recipe`` is a raw TOML-like mapping (``task.name`` may be left out); the
    harness sets ``train.device = "cpu"``, ``train.max_steps = steps`` and
    ``log.every = 1`` (and one CPU thread unless ``train.num_threads`` is given).
    """
    task_cls = _task_class(task_cls_or_name)
    if steps < 6:
        raise ValueError("check_task needs steps >= 6 to compare the first and last 3 training losses")
    resolved = _harness_recipe(task_cls, recipe, steps, Path(tmp_path))
    console = Console(file=io.StringIO(), width=120)
    result = run_training(resolved, out=Path(tmp_path) / "run", console=console, command="seqtk.testing.check_task")
    log = console.file.getvalue()
    first, last = _loss_trend(result.run_dir / "metrics.jsonl", log)
    loaded = load_for_inference(result.run_dir / "checkpoints" / "last.pt", device="cpu")
    _check_learned(loaded, result)
    reloaded = _reloaded_val_loss(loaded)
    assert abs(reloaded - result.metrics["loss"]) <= 1e-5, (
        f"the reloaded last.pt evaluates to val loss {reloaded}, but training recorded {result.metrics['loss']}: "
        "something the model needs is missing from the checkpoint (see Task.state_dict)"
    )
    predictions = _check_predictions(loaded, result, predict_inputs) if predict_inputs is not None else None
    return CheckResult(result.run_dir, first, last, result.metrics["loss"], reloaded, predictions, log)


def train_recipe(folder: str | Path, name: str, toml: str) -> Path:
    """Write ``toml`` as ``folder/<name>.toml``, train it with ``seqtk run`` into ``folder/<name>``, and
    return the path of its ``last.pt``: a real checkpoint for tests of predict, export or load."""
    from seqtk.cli.main import main

    recipe = Path(folder) / f"{name}.toml"
    recipe.write_text(toml, encoding="utf-8")
    code = main(["run", str(recipe), "--out", str(Path(folder) / name)])
    assert code == 0, f"seqtk run {recipe} exited with {code}"
    return Path(folder) / name / "checkpoints" / "last.pt"


#: Python run first in a fresh process: importing seqtk or its plugins then fails, so an exported folder's README
#: code cannot lean on them
NO_SEQTK = """\
import sys
class _NoSeqtk:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("seqtk", "seqtk_plugins"):
            raise ImportError("the exported model must run without seqtk")
sys.meta_path.insert(0, _NoSeqtk())
"""


def export_in_new_process(checkpoint: str | Path, fmt: str, out: str | Path) -> str:
    """``seqtk export CHECKPOINT --format FMT --out OUT`` in a process of its own, its stdout: torch 2.13's ONNX
    exporter fixes the sizes of an LSTM/GRU exported a second time in one process, so each test export starts
    afresh."""
    import subprocess
    import sys

    command = [sys.executable, "-m", "seqtk", "export", str(checkpoint), "--format", fmt, "--out", str(out)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def run_exported_readme(folder: str | Path, check: str, data: dict[str, Any]) -> str:
    """An exported folder's README Python, then ``check`` (which reads ``DATA``, the JSON of ``data``), in a new
    interpreter that cannot import seqtk; its stdout. Fails if the code failed or imported seqtk."""
    import re
    import subprocess
    import sys

    folder = Path(folder)
    code = "\n".join(re.findall(r"```python\n(.*?)```", (folder / "README.md").read_text(encoding="utf-8"), re.S))
    (folder / "expected.json").write_text(json.dumps(data), encoding="utf-8")
    script = NO_SEQTK + code + "\nimport json\nDATA = json.load(open('expected.json'))\n" + check
    script += '\nassert not any(m.split(".")[0] in ("seqtk", "seqtk_plugins") for m in sys.modules)\nprint("checked")\n'
    done = subprocess.run([sys.executable, "-c", script], cwd=folder, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.rstrip().endswith("checked"), done.stdout[-2000:]
    return done.stdout


def _task_class(task: type[Task] | str) -> type[Task]:
    """Look a name up; register a class so that ``run_training`` finds it by name (a class the registry
    already holds under its name keeps its entry, so the harness leaves the process's registry as it was)."""
    if isinstance(task, str):
        return get_task(task)
    registry = default_registry().load()
    held = registry.tasks.get(task.name)
    if held is None or held.cls is not task:
        registry.register(task, f"seqtk.testing.check_task ({task.__module__})")
    return task


def _harness_recipe(task_cls: type[Task], raw: dict[str, Any], steps: int, tmp_path: Path) -> Recipe:
    raw = copy.deepcopy(raw)
    fixed = {
        "task": {"name": task_cls.name},
        "train": {"device": "cpu", "max_steps": steps},
        "log": {"every": 1, "out_dir": str(tmp_path)},
    }
    for section, values in fixed.items():
        table = raw.setdefault(section, {})
        if isinstance(table, dict):  # anything else: resolve() explains the mistake
            table.update(values)
            if section == "train":
                table.setdefault("num_threads", 1)  # tiny models run fastest (and steadiest) on one thread
    return resolve(raw, f"check_{task_cls.name}", task_cls)


def _loss_trend(metrics: Path, log: str) -> tuple[float, float]:
    records = [json.loads(line) for line in metrics.read_text(encoding="utf-8").splitlines()]
    losses = [r["train_loss"] for r in records if "train_loss" in r]
    first, last = sum(losses[:3]) / 3, sum(losses[-3:]) / 3
    assert last < first, (
        f"the training loss did not fall: mean of the first 3 steps {first:.6g}, of the last 3 {last:.6g} "
        f"(all: {[round(v, 6) for v in losses]}); try more steps or a higher train.lr\n{log}"
    )
    return first, last


def _check_learned(loaded: Loaded, result: TrainResult) -> None:
    """What ``Task.learned`` names comes back from the checkpoint alone, before any data is read
    (``seqtk predict`` never reads data)."""
    for name in type(loaded.task).learned:
        trained, restored = getattr(result.task, name, None), getattr(loaded.task, name, None)
        assert same(restored, trained), (
            f"self.{name} is {restored!r} after loading the checkpoint but was {trained!r} in training: "
            "it is missing from the checkpoint, or load_state_dict() overwrote it (seqtk saves what Task.learned "
            "names; check the value's to_dict()/from_dict())"
        )


def _reloaded_val_loss(loaded: Loaded) -> float:
    """Evaluate the reloaded model as ``seqtk eval`` would (data prepared, task state restored)."""
    from seqtk.tasks.lifecycle import prepare_keeping_state

    task, recipe = loaded.task, loaded.recipe  # the checkpoint's task state is already restored, as for eval
    prepare_keeping_state(task, True, loaded.payload["task_state"])
    with autocast(loaded.device, recipe.train.precision):
        metrics = task.evaluate(loaded.model, "val", loaded.device, recipe.train.eval_batches)
    return float(metrics["loss"])


def _check_predictions(loaded: Loaded, result: TrainResult, inputs: list[str]) -> list[dict[str, Any]]:
    from seqtk.tasks.contract import check_predictions

    once = check_predictions(loaded.task, loaded.task.predict(loaded.model, inputs, loaded.device), len(inputs))
    twice = loaded.task.predict(loaded.model, inputs, loaded.device)
    assert same(once, twice), f"predicting twice with the reloaded model differs:\n{once}\n{twice}"
    assert result.model is not None and result.task is not None
    result.model.eval()
    in_memory = result.task.predict(result.model, inputs, loaded.device)
    assert same(once, in_memory), (
        f"the reloaded model predicts differently from the trained one:\nreloaded: {once}\nin memory: {in_memory}"
    )
    return once
