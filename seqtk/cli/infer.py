"""``seqtk eval``, ``seqtk generate`` and ``seqtk predict``: use a trained checkpoint."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console
from rich.table import Table

from seqtk.errors import SeqtkError

CheckpointArg = Annotated[Path, typer.Argument(help="A checkpoint, e.g. runs/<recipe>/<time>/checkpoints/best.pt.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object instead of tables.")]
DeviceOpt = Annotated[Optional[str], typer.Option(help="auto, cpu, cuda, cuda:N or mps (default: auto).")]


def eval_cmd(
    checkpoint: CheckpointArg,
    split: Annotated[str, typer.Option(help="Held-out split to evaluate: val or test.")] = "val",
    as_json: JsonOpt = False,
    device: DeviceOpt = None,
    max_batches: Annotated[int, typer.Option(help="Evaluate at most this many batches; 0 means all.")] = 0,
) -> None:
    """Evaluate a checkpoint on a held-out split (loads the recipe's data)."""
    from seqtk.training.checkpoint import load_for_inference

    if max_batches < 0:
        raise SeqtkError(f"--max-batches must be 0 (all) or more, got {max_batches}", fix="use e.g. --max-batches 10")
    from seqtk.lifecycle import prepare_keeping_state

    loaded = load_for_inference(checkpoint, device=device)  # the checkpoint's task state is restored first
    task = loaded.task
    prepare_keeping_state(task, True, loaded.payload["task_state"])
    if split not in task.splits():
        raise SeqtkError(f"task '{task.name}' has no split '{split}'", fix=f"use --split {' or '.join(task.splits())}")
    metrics, details, text = _evaluate(task, loaded, split, max_batches)
    result: dict[str, Any] = {"split": split, "step": loaded.payload.get("step")}
    result[f"{split}_loss"] = metrics["loss"]
    result.update(metrics)
    if as_json:
        print(json_text(result | details))
        return
    console = Console()
    console.print(f"{task.name}: {split} split of {checkpoint}", highlight=False, soft_wrap=True)  # a title would wrap to the table's width
    table = Table()
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in result.items():
        table.add_row(key, f"{value:.4f}" if isinstance(value, float) else str(value))
    console.print(table)
    if text:
        print(text)


def _evaluate(task: Any, loaded: Any, split: str, max_batches: int) -> tuple[dict[str, float], dict[str, Any], str | None]:
    """Metrics, and the task's details (JSON data, console text) when it uses the core's evaluation loop."""
    from seqtk.evaluation import evaluate
    from seqtk.task import Task

    if type(task).evaluate is not Task.evaluate:  # a plugin that kept its own evaluate(): numbers only
        return task.evaluate(loaded.model, split, loaded.device, max_batches), {}, None
    result = evaluate(task, loaded.model, split, loaded.device, max_batches)
    return result.metrics, task.eval_details(result), task.eval_text(result)


def generate(
    checkpoint: CheckpointArg,
    prompt: Annotated[str, typer.Option(help="Text to start from.")] = "",
    length: Annotated[
        Optional[int], typer.Option(help="New tokens (characters) per sample; default: the task's (200 for text).", show_default=False)
    ] = None,
    temperature: Annotated[float, typer.Option(help="Sampling temperature; 0 is greedy.")] = 1.0,
    top_k: Annotated[int, typer.Option(help="Sample from the k most likely tokens; 0 turns it off.")] = 0,
    top_p: Annotated[float, typer.Option(help="Nucleus sampling mass; 1.0 turns it off.")] = 1.0,
    seed: Annotated[int, typer.Option(help="Seed: the same seed gives the same text.")] = 0,
    n: Annotated[int, typer.Option(help="Number of samples.")] = 1,
    out: Annotated[Optional[Path], typer.Option(help="Folder to write the samples to (tasks that write files, e.g. music); files already there are kept.")] = None,
    key: Annotated[Optional[str], typer.Option(help="Music: the key every tune is in, e.g. G, Em, Ador.")] = None,
    meter: Annotated[Optional[str], typer.Option(help="Music: the metre of every tune, e.g. 6/8.")] = None,
    wav: Annotated[bool, typer.Option("--wav", help="Music: also render .wav audio (needs fluidsynth and a GM soundfont).")] = False,
    musicxml: Annotated[bool, typer.Option("--musicxml", help="Music: also write .musicxml files.")] = False,
    as_json: JsonOpt = False,
    device: DeviceOpt = None,
) -> None:
    """Sample from a generative checkpoint, streaming text as it is produced."""
    from seqtk.training.checkpoint import load_for_inference
    from seqtk.task import GenerateRequest

    loaded = load_for_inference(checkpoint, device=device)
    length = loaded.task.generate_length if length is None else length
    _check_sampling(length, temperature, top_k, top_p, n)
    stream = not as_json and n == 1  # several samples may be produced in parallel: print them at the end
    current = {"i": -1}

    def on_text(i: int, text: str) -> None:
        if i != current["i"]:
            if current["i"] >= 0:
                sys.stdout.write("\n\n")
            current["i"] = i
            if n > 1:
                sys.stdout.write(f"--- sample {i + 1} ---\n")
            sys.stdout.write(prompt)
        sys.stdout.write(text)
        sys.stdout.flush()

    extra = {"out": str(out) if out else None, "key": key, "meter": meter, "wav": wav, "musicxml": musicxml}
    unused = [f"--{name}" for name, value in extra.items() if value and name not in loaded.task.generate_options]
    if unused:
        raise SeqtkError(
            f"task '{loaded.task.name}' does not use {', '.join(unused)}",
            fix=f"drop {'it' if len(unused) == 1 else 'them'}"
            + (f"; this task reads only --{', --'.join(sorted(loaded.task.generate_options))}" if loaded.task.generate_options else ""),
        )
    request = GenerateRequest(
        prompt=prompt, length=length, temperature=temperature, top_k=top_k, top_p=top_p, n=n, seed=seed,
        extra=extra, on_text=on_text if stream else None,
    )
    samples = loaded.task.generate(loaded.model, request, loaded.device)
    if as_json:
        print(json_text({"samples": samples, **request.report}))
        return
    if stream:
        sys.stdout.write("\n")
    else:
        for i, sample in enumerate(samples):
            print(f"--- sample {i + 1} ---\n{prompt}{sample}\n")
    for name, value in request.report.items():
        if isinstance(value, (int, float, str)):  # rates and paths; lists (per-sample details) are for --json
            print(f"{name}: {value:.3f}" if isinstance(value, float) else f"{name}: {value}")


def _check_sampling(length: int, temperature: float, top_k: int, top_p: float, n: int) -> None:
    if length < 1 or n < 1:
        raise SeqtkError("--length and --n must be at least 1", fix="pass positive values")
    if temperature < 0:
        raise SeqtkError(f"--temperature must be 0 (greedy) or positive, not {temperature}", fix="use e.g. --temperature 0.8")
    if top_k < 0 or not 0 < top_p <= 1:
        raise SeqtkError(f"--top-k must be >= 0 and --top-p in (0, 1], not {top_k} and {top_p}", fix="use e.g. --top-k 0 --top-p 0.95")


def predict(
    checkpoint: CheckpointArg,
    inputs: Annotated[Optional[list[str]], typer.Argument(help="Inputs (texts, or file paths for image tasks).", show_default=False)] = None,
    file: Annotated[Optional[Path], typer.Option("--file", help="Read one input per line from this file, or a column of a CSV/TSV/JSONL file (--column).")] = None,
    column: Annotated[Optional[str], typer.Option(help="With --file: the column holding the inputs (CSV, TSV or JSONL files).")] = None,
    top_k: Annotated[Optional[int], typer.Option(help="Classifiers: also list the k most likely labels with their probabilities.", show_default=False)] = None,
    as_json: JsonOpt = False,
    device: DeviceOpt = None,
) -> None:
    """Predict for each input with a trained checkpoint."""
    from seqtk.cli.inputs import read_inputs
    from seqtk.training.checkpoint import load_for_inference

    items = list(inputs or []) + read_inputs(file, column)
    if not items:
        raise SeqtkError("predict got no input", fix="pass inputs as arguments or --file FILE with one per line")
    loaded = load_for_inference(checkpoint, device=device)
    options = _predict_options(loaded.task, top_k=top_k)
    from seqtk.contract import check_predictions

    raw = loaded.task.predict(loaded.model, items, loaded.device, **options)
    predictions = check_predictions(loaded.task, raw, len(items))
    if as_json:
        print(json_text({"predictions": predictions}))
        return
    table = Table(title=f"{loaded.task.name} predictions")
    table.add_column("input", overflow="fold", max_width=60)
    keys = [key for key in dict.fromkeys(k for pred in predictions for k in pred) if key != "input"]
    for key in keys:
        table.add_column(key, overflow="fold")
    for item, pred in zip(items, predictions):
        table.add_row(_fmt(item), *(_fmt(pred.get(k, "")) for k in keys))
    Console().print(table)


def _predict_options(task: Any, **given: Any) -> dict[str, Any]:
    """The options that were given, refused when the task does not read them."""
    options = {name: value for name, value in given.items() if value is not None}
    unused = sorted(set(options) - set(task.predict_options))
    if unused:
        flags = ", ".join("--" + name.replace("_", "-") for name in unused)
        reads = ", ".join("--" + n.replace("_", "-") for n in sorted(task.predict_options))
        raise SeqtkError(
            f"task '{task.name}' does not read {flags}" + (f"; it reads only {reads}" if reads else ""),
            fix=f"remove {flags}",
        )
    if options.get("top_k") is not None and options["top_k"] < 1:
        raise SeqtkError(f"--top-k must be at least 1, not {options['top_k']}", fix="use e.g. --top-k 3")
    return options


def json_text(obj: Any) -> str:
    """Strict JSON: NaN and infinities (a diverged model's loss, say) become null, which every parser reads.

    >>> json_text({"loss": float("nan"), "rates": [1.5, float("inf")]})
    '{"loss": null, "rates": [1.5, null]}'
    """
    return json.dumps(_finite(obj), allow_nan=False)


def _finite(obj: Any) -> Any:
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {key: _finite(value) for key, value in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(value) for value in obj]
    return obj


def _fmt(value: Any) -> str:
    """A prediction's value for the table, as plain text (``[at, jj]`` is not rich markup)."""
    from rich.markup import escape

    return escape(_plain(value))


def _plain(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    if isinstance(value, list):
        return "[" + ", ".join(_plain(v) for v in value) + "]"
    return str(value)


def register(app: typer.Typer) -> None:
    app.command("eval")(eval_cmd)
    app.command()(generate)
    app.command()(predict)
