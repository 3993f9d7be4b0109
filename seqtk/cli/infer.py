"""``seqtk eval``, ``seqtk generate`` and ``seqtk predict``: use a trained checkpoint."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console
from rich.table import Table

from seqtk.errors import SeqtkError
from seqtk.runtime.strict_json import json_text

CheckpointArg = Annotated[Path, typer.Argument(help="A checkpoint, e.g. runs/<recipe>/<time>/checkpoints/best.pt.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object instead of tables.")]
DeviceOpt = Annotated[Optional[str], typer.Option(help="auto, cpu, cuda, cuda:N or mps (default: auto).")]
Int8Opt = Annotated[bool, typer.Option("--int8", help="Run on int8 weights (CPU, onnxruntime): a language model's step, the seq2seq decoder's step, or the exported module of a task that has one. Their quality cost: docs/performance.md.")]


def eval_cmd(
    checkpoint: CheckpointArg,
    split: Annotated[Optional[str], typer.Option(help="Held-out split to evaluate: val or test (default: val).", show_default=False)] = None,
    file: Annotated[Optional[Path], typer.Option("--file", help="Score this file instead of a split, in a format the task reads: a labelled CSV/TSV/JSONL table (classify, sentiment), tagged sentences (tag), a text (textgen), ABC tunes (music). Reads no training data.", show_default=False)] = None,
    as_json: JsonOpt = False,
    device: DeviceOpt = None,
    max_batches: Annotated[int, typer.Option(help="Evaluate at most this many batches; 0 means all.")] = 0,
    beam: Annotated[Optional[int], typer.Option(help="Tasks that decode (seq2seq): the beam size instead of the recipe's model.beam (1: greedy).", show_default=False)] = None,
    int8: Int8Opt = False,
) -> None:
    """Evaluate a checkpoint on a held-out split (loads the recipe's data), or on a file it has not seen (--file)."""
    from seqtk.inference.predictor import load
    from seqtk.tasks.evaluation import check_eval_file

    if max_batches < 0:  # before the checkpoint is read: the mistake is in the command line
        raise SeqtkError(f"--max-batches must be 0 (all) or more, got {max_batches}", fix="use e.g. --max-batches 10")
    if file is not None:
        if split is not None:
            raise SeqtkError(f"--file and --split {split} were both given; seqtk eval scores a file or a split",
                             fix="drop --split to score the file, or drop --file to score the split")  # fmt: skip
        check_eval_file(file)
    predictor = load(checkpoint, device=device, quantize="int8" if int8 else None)
    result, text = predictor.evaluation(split, max_batches, beam=beam, file=file)
    if as_json:
        print(json_text(result))
        return
    scored = f"the file {file}, scored by {checkpoint}" if file is not None else f"{result['split']} split of {checkpoint}"
    console = Console()
    console.print(f"{predictor.task.name}: {scored}", highlight=False, soft_wrap=True)  # a title would wrap to the table's width
    table = Table()
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in result.items():
        if isinstance(value, (int, float, str)) or value is None:  # tables and matrices: the task's text below
            table.add_row(key, f"{value:.4f}" if isinstance(value, float) else str(value))
    console.print(table)
    if text:
        print(text)


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
    prompts_file: Annotated[Optional[Path], typer.Option("--prompts-file", help="Sample after each prompt in this file, all in one batch: one prompt per line, or a 'prompt' field per JSONL/CSV/TSV row (for prompts with line breaks). Prints one JSON line per prompt.", show_default=False)] = None,
    int8: Int8Opt = False,
    as_json: JsonOpt = False,
    device: DeviceOpt = None,
) -> None:
    """Sample from a generative checkpoint, streaming text as it is produced."""
    from seqtk.inference.predictor import load
    from seqtk.tasks.task import GenerateRequest

    if prompts_file is not None:
        prompts = _read_prompts(prompts_file, prompt, n)  # before the checkpoint is read
    predictor = load(checkpoint, device=device, quantize="int8" if int8 else None)
    length = predictor.task.generate_length if length is None else length
    extra = {"out": str(out) if out else None, "key": key, "meter": meter, "wav": wav, "musicxml": musicxml}
    if prompts_file is not None:
        texts = predictor.generate(prompts, length, temperature=temperature, top_k=top_k, top_p=top_p, seed=seed,
                                   **extra)  # fmt: skip
        for given, text in zip(prompts, texts):
            print(json_text({"prompt": given, "text": text}))
        return
    stream = not as_json and n == 1  # several samples may be produced in parallel: print them at the end
    request = GenerateRequest(
        prompt=prompt, length=length, temperature=temperature, top_k=top_k, top_p=top_p, n=n, seed=seed,
        extra=extra, on_text=_streamer(prompt, n) if stream else None,
    )
    samples = predictor.generate_request(request)
    if as_json:
        print(json_text({"samples": samples, **request.report}))
        return
    _print_samples(samples, prompt, streamed=stream)
    for name, value in request.report.items():
        if isinstance(value, (int, float, str)):  # rates and paths; lists (per-sample details) are for --json
            print(f"{name}: {value:.3f}" if isinstance(value, float) else f"{name}: {value}")


def _read_prompts(file: Path, prompt: str, n: int) -> list[str]:
    """The prompts of ``--prompts-file``: lines, or the ``prompt`` column of a table (JSONL, CSV, TSV)."""
    from seqtk.cli.inputs import PROMPTS, TABLE_SUFFIXES, read_inputs

    if prompt or n != 1:
        given = "--prompt" if prompt else f"--n {n}"
        raise SeqtkError(f"--prompts-file gives the prompts, one sample each, and {given} was passed too",
                         fix=f"drop {given}; repeat a prompt in the file to get several samples of it")  # fmt: skip
    return read_inputs(file, "prompt" if file.suffix.lower() in TABLE_SUFFIXES else None, PROMPTS)  # refuses an empty file


def _streamer(prompt: str, n: int) -> Callable[[int, str], None]:
    """The ``on_text`` callback that writes each sample's text to stdout as it is produced."""
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

    return on_text


def _print_samples(samples: list[str], prompt: str, streamed: bool) -> None:
    """End a streamed sample's line, or print the samples that were not streamed."""
    if streamed:
        sys.stdout.write("\n")
        return
    for i, sample in enumerate(samples):
        print(f"--- sample {i + 1} ---\n{prompt}{sample}\n")


def predict(
    checkpoint: CheckpointArg,
    inputs: Annotated[Optional[list[str]], typer.Argument(help="Inputs (texts, or file paths for image tasks).", show_default=False)] = None,
    file: Annotated[Optional[Path], typer.Option("--file", help="Read one input per line from this file, or a column of a CSV/TSV/JSONL file (--column).")] = None,
    column: Annotated[Optional[str], typer.Option(help="With --file: the column holding the inputs (CSV, TSV or JSONL files).")] = None,
    top_k: Annotated[Optional[int], typer.Option(help="Classifiers: also list the k most likely labels with their probabilities.", show_default=False)] = None,
    beam: Annotated[Optional[int], typer.Option(help="seq2seq: beam search with this beam size (1: greedy; default: the recipe's model.beam).", show_default=False)] = None,
    n_best: Annotated[Optional[int], typer.Option("--n-best", help="seq2seq: also list the n best outputs with their scores (at most --beam).", show_default=False)] = None,
    attention: Annotated[Optional[Path], typer.Option(help="seq2seq: write each input's attention map to this PNG (out.png; out-1.png, out-2.png, ... for several inputs).", show_default=False)] = None,
    out: Annotated[Optional[Path], typer.Option(help="With --file: stream the predictions to this JSONL file (one line per input, in order), with progress and flat memory.")] = None,
    int8: Int8Opt = False,
    as_json: JsonOpt = False,
    device: DeviceOpt = None,
) -> None:
    """Predict for each input with a trained checkpoint."""
    from seqtk.cli.inputs import read_inputs
    from seqtk.inference.predictor import load

    quantize = "int8" if int8 else None
    given = {"top_k": top_k, "beam": beam, "n_best": n_best, "attention": attention}
    options = {name: value for name, value in given.items() if value is not None}
    if out is not None:
        if file is None or inputs:
            raise SeqtkError("--out streams the inputs of --file", fix="pass --file FILE (and no inputs on the command line)")
        if attention is not None:
            raise SeqtkError("--attention draws one image per input, which does not suit a streamed file (--out)",
                             fix="drop --attention, or predict the inputs you want to see without --out")  # fmt: skip
        _predict_to_file(load(checkpoint, device=device, quantize=quantize), file, column, out, options)
        return
    items = list(inputs or []) + read_inputs(file, column)
    if not items:
        raise SeqtkError("predict got no input", fix="pass inputs as arguments or --file FILE with one per line")
    predictor = load(checkpoint, device=device, quantize=quantize)
    predictions = predictor.predict(items, **options)
    if as_json:
        print(json_text({"predictions": predictions}))
        return
    table = Table(title=f"{predictor.task.name} predictions")
    table.add_column("input", overflow="fold", max_width=60)
    keys = [key for key in dict.fromkeys(k for pred in predictions for k in pred) if key != "input"]
    for key in keys:
        table.add_column(key, overflow="fold")
    for item, pred in zip(items, predictions):
        table.add_row(_fmt(item), *(_fmt(pred.get(k, "")) for k in keys))
    Console().print(table)


CHUNK = 1024  # inputs predicted at a time when streaming: memory stays that of one chunk


def _predict_to_file(predictor: Any, file: Path, column: str | None, out: Path, options: dict[str, Any]) -> None:
    """Predict ``file``'s inputs chunk by chunk into ``out`` (JSONL), which appears only when all are done."""
    from itertools import islice

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from seqtk.cli.inputs import count_inputs, iter_inputs
    from seqtk.runtime.files import atomic_text_writer

    if out.resolve() == file.resolve():
        raise SeqtkError(f"--out '{out}' is the input file itself", fix="write the predictions to another file")
    if out.is_dir():
        raise SeqtkError(f"--out '{out}' is a folder; it must name the JSONL file to write",
                         fix=f"pass a file name, e.g. --out {out / 'predictions.jsonl'}")
    inputs, done = iter_inputs(file, column), 0
    columns = (TextColumn("predict"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar, atomic_text_writer(out) as stream:
        task = bar.add_task("predict", total=count_inputs(file) or None)
        while chunk := list(islice(inputs, CHUNK)):
            for item, pred in zip(chunk, predictor.predict(chunk, **options)):
                stream.write(json_text({"input": item} | pred) + "\n")
            done += len(chunk)
            bar.update(task, completed=done)
        if not done:  # inside the block: no empty file replaces the user's
            raise SeqtkError(f"the input file '{file}' has no non-empty inputs", fix="put one input per line (or per row)")
    Console(stderr=True).print(f"{done:,} predictions written to {out}", highlight=False)


def _fmt(value: Any) -> str:
    """A prediction's value for the table, as plain text (``[at, jj]`` is not rich markup)."""
    from rich.markup import escape

    return escape(_plain(value))


def _plain(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    if isinstance(value, list):
        return "[" + ", ".join(_plain(v) for v in value) + "]"
    if isinstance(value, dict) and value:  # an alternative such as {"output": ..., "score": ...}
        first, *rest = (_plain(v) for v in value.values())
        return f"{first} ({', '.join(rest)})" if rest else first
    return str(value)


def register(app: typer.Typer) -> None:
    app.command("eval")(eval_cmd)
    app.command()(generate)
    app.command()(predict)
