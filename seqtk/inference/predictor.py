"""A trained model from Python: ``seqtk.load(checkpoint)`` and the :class:`Predictor` it returns.

What ``seqtk predict``, ``seqtk generate`` and ``seqtk eval`` do, as methods,
on the same lifecycle path as the CLI (:mod:`seqtk.tasks.lifecycle`): the
checkpoint's vocabulary and labels are restored before anything else, and
``predict``/``generate`` need no training data. The CLI commands are thin
wrappers around this class, so the two give the same results::

    import seqtk
    p = seqtk.load("runs/classify_bbc/<time>/checkpoints/best.pt")
    p.predict(["Shares fell sharply in early trading"], top_k=3)
    p.evaluate("test")          # the dict seqtk eval --json prints
    p.evaluate(file="news.csv") # a labelled file the model has not seen (seqtk eval --file)
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping, Sequence, Set
from contextlib import contextmanager
from dataclasses import fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from seqtk.errors import SeqtkError

if TYPE_CHECKING:  # pragma: no cover
    from torch import nn

    from seqtk.config.schema import Recipe
    from seqtk.inference.loading import Loaded
    from seqtk.tasks.task import GenerateRequest, Task


def load(path: str | Path, device: str | torch.device | None = None, quantize: str | None = None) -> Predictor:
    """The predictor of a seqtk checkpoint (``best.pt`` or ``last.pt``), on ``device`` (None: the best there is).

    ``quantize="int8"``: the model's language models decode and score on int8 weights (onnxruntime, on the
    CPU; :meth:`Predictor.quantize`, and their quality cost in docs/performance.md).

    ``"hf://user/name"`` (or ``"hf://user/name@revision"``) is a model shared with ``seqtk push``: it is
    downloaded into the Hugging Face cache, then loaded as a local file is."""
    from seqtk.inference.loading import load_for_inference

    if str(path).startswith("hf://"):
        from seqtk.inference.hub import download

        path = download(str(path))
    predictor = Predictor(load_for_inference(path, device=device), Path(path))
    return predictor.quantize(quantize) if quantize else predictor


class Predictor:
    """A checkpoint's task and model, ready to predict, generate and evaluate."""

    def __init__(self, loaded: Loaded, source: Path) -> None:
        self._loaded, self.source = loaded, source
        self._prepared = False  # evaluate() reads the data once, on first use
        self._float_model: nn.Module | None = None  # the float32 model while an int8 one stands in (quantize)

    @property
    def task(self) -> Task:
        return self._loaded.task

    @property
    def model(self) -> nn.Module:
        return self._loaded.model

    @property
    def recipe(self) -> Recipe:
        return self._loaded.recipe

    @property
    def device(self) -> torch.device:
        return self._loaded.device

    def to(self, device: str | torch.device) -> Predictor:
        """Move the model (``"cpu"``, ``"cuda"``, ``"cuda:1"``); returns ``self``."""
        from seqtk.runtime.device import select_device

        target = select_device(str(device))
        if self._float_model is not None and target.type != "cpu":
            raise SeqtkError(f"this predictor runs on int8 weights, which run on the CPU, and {target} was asked for",
                             fix="call .quantize(None) first to move the float32 model")  # fmt: skip
        self._loaded.model.to(target)
        self._loaded.device = target
        return self

    def quantize(self, kind: str | None = "int8") -> Predictor:
        """Run on int8 weights (``kind="int8"``), or on float32 ones again (None); returns ``self``.

        A language model (:class:`~seqtk.nn.lm.CharLM`) decodes and scores through its int8 onnxruntime step
        (``generate``, and ``eval``/``predict`` scoring), an encoder-decoder through its int8 decoder step
        (:mod:`seqtk.nn.decoder_step`). Another task's model is replaced by the checkpoint's
        exported module, quantized and run by onnxruntime (:mod:`seqtk.inference.quantized`), on the CPU. A
        task that has neither refuses, naming what to do instead."""
        from seqtk.nn.steppers import DecodeSettings
        from seqtk.tasks.task import Task

        settings = DecodeSettings(quantize=kind)  # checks the value
        if kind is not None and self.device.type != "cpu":
            raise SeqtkError(f"int8 weights run on the CPU, and this model is on {self.device}",
                             fix='load it with device="cpu" (--device cpu) to use int8 weights')  # fmt: skip
        if self._float_model is not None:  # back to the float32 model first
            self._loaded.model, self._float_model = self._float_model, None
        targets = [m for m in self.model.modules() if isinstance(getattr(type(m), "decoding", None), DecodeSettings)]
        for module in targets:
            module.decoding = settings
        if targets or kind is None:
            return self
        if type(self.task).export_spec is Task.export_spec:
            raise SeqtkError(
                f"int8 weights are not available for task '{self.task.name}': its model has no language model "
                "that decodes on them and the task exports no module to quantize",
                fix="load it without quantize (drop --int8); docs/performance.md lists what runs on int8",
            )
        from seqtk.inference.quantized import replace_model

        self._float_model = self._loaded.model
        self._loaded.model = replace_model(self._float_model.eval(), self.task, self.source)
        return self

    def predict(self, inputs: Any, **options: Any) -> list[dict[str, Any]]:
        """One dict per input, as ``seqtk predict --json`` prints them; ``options`` are the task's
        ``predict_options`` (``top_k=3`` for classifiers).

        An input is a string, as the CLI reads it (a text, or an image file's path; a ``Path`` will do), or
        what the task reads besides (its ``predict_takes``): a token list for a tagger, a tensor, numpy array
        or PIL image for pixel_mnist, a window of numbers for forecast. One input gives a list of one
        prediction; a list of inputs, or a batch as one tensor or array (N x ...), one per input. Anything
        else is refused in one paragraph naming what the task takes (docs/deploy.md)."""
        from seqtk.tasks.step import check_predictions

        items = predict_items(self.task, inputs)
        if not items:
            raise SeqtkError("predict() got no input", fix='pass a text or a list of texts, e.g. p.predict(["hello"])')
        check_options(self.task, options)
        raw = self.task.predict(self.model, items, self.device, **options)
        return check_predictions(self.task, raw, len(items))

    def generate(self, prompt: str | Sequence[str] = "", length: int | None = None, *, temperature: float = 1.0,
                 top_k: int = 0, top_p: float = 1.0, n: int = 1, seed: int = 0, **extra: Any) -> str | list[str]:
        """Sampled text after ``prompt`` (the prompt included), as ``seqtk generate`` prints it: one string,
        or a list of ``n``. The same seed gives the same text as the CLI's, character for character.

        A list of prompts is sampled in one batch (each row with its own state; tasks with
        ``batched_prompts``) and gives one text per prompt, as ``seqtk generate --prompts-file`` does."""
        from seqtk.tasks.task import GenerateRequest

        many = not isinstance(prompt, str)
        if many and (not prompt or not all(isinstance(p, str) for p in prompt)):
            raise SeqtkError("generate() takes one prompt (a string) or a non-empty list of strings",
                             fix='pass e.g. p.generate("To be") or p.generate(["To be", "ROMEO:"])')  # fmt: skip
        request = GenerateRequest(
            prompt="" if many else prompt, prompts=tuple(prompt) if many else (),
            length=self.task.generate_length if length is None else length, temperature=temperature,
            top_k=top_k, top_p=top_p, n=n, seed=seed, extra=extra,
        )
        samples = self.generate_request(request)
        if many:
            return [p + sample for p, sample in zip(prompt, samples)]
        texts = [prompt + sample for sample in samples]
        return texts[0] if n == 1 else texts

    def generate_request(self, request: GenerateRequest) -> list[str]:
        """The task's samples (without the prompt) for a full request (streaming through ``request.on_text``)."""
        check_sampling(request)
        if request.prompts:
            self._check_batched(request)
        unused = [f"--{name}" for name, value in request.extra.items() if value and name not in self.task.generate_options]
        if unused:
            reads = ", ".join(f"--{name}" for name in sorted(self.task.generate_options))
            raise SeqtkError(
                f"task '{self.task.name}' does not use {', '.join(unused)}",
                fix=f"drop {'it' if len(unused) == 1 else 'them'}" + (f"; this task reads only {reads}" if reads else ""),
            )
        return self.task.generate(self.model, request, self.device)

    def _check_batched(self, request: GenerateRequest) -> None:
        if not self.task.batched_prompts:
            raise SeqtkError(f"task '{self.task.name}' generates from one prompt at a time",
                             fix="call generate() once per prompt (seqtk generate --prompt ...)")  # fmt: skip
        if request.n != 1:
            raise SeqtkError(f"several prompts give one sample each, and n={request.n} was asked for",
                             fix="repeat a prompt in the list to get several samples of it")  # fmt: skip
        if request.seeds and len(request.seeds) != len(request.prompts):
            raise SeqtkError(f"{len(request.seeds)} seeds were given for {len(request.prompts)} prompts",
                             fix="give one seed per prompt, or none (then all rows draw from seed)")  # fmt: skip

    def evaluate(self, split: str | None = None, max_batches: int = 0, *, beam: int | None = None,
                 file: str | os.PathLike[str] | None = None) -> dict[str, Any]:
        """The metrics on a held-out split (``"val"`` unless given; reading the recipe's data once), as
        ``seqtk eval --json``; or, with ``file``, on a file the model has not seen, in a format the task reads
        (a labelled table for a classifier, tagged sentences for a tagger, a text for a language model), as
        ``seqtk eval --file F --json``: the same keys, with ``"file"`` instead of ``"split"``. A file needs no
        training data: the checkpoint's vocabulary and labels encode it.

        ``beam``: for a task that decodes (seq2seq), the beam size instead of the recipe's ``model.beam``."""
        return self.evaluation(split, max_batches, beam=beam, file=file)[0]

    def evaluation(self, split: str | None = None, max_batches: int = 0, *, beam: int | None = None,
                   file: str | os.PathLike[str] | None = None) -> tuple[dict[str, Any], str | None]:
        """:meth:`evaluate`'s dict, and the task's text for the console (a per-class table, say)."""
        if beam is None:
            return self._evaluation(split, max_batches, file)
        with self._model_keys(beam=beam):
            return self._evaluation(split, max_batches, file)

    @contextmanager
    def _model_keys(self, **values: Any) -> Iterator[None]:
        """The task's recipe with these ``[model]`` keys replaced, for the block (decoding settings)."""
        recipe = self.task.recipe
        missing = [key for key in values if key not in {f.name for f in fields(recipe.model)}]
        if missing:
            raise SeqtkError(f"task '{self.task.name}' has no model.{missing[0]} to set at evaluation",
                             fix=f"drop --{missing[0].replace('_', '-')}: only tasks that decode (seq2seq) take it")  # fmt: skip
        self.task.recipe = replace(recipe, model=replace(recipe.model, **values))
        try:
            yield
        finally:
            self.task.recipe = recipe

    def _evaluation(self, split: str | None, max_batches: int, file: str | os.PathLike[str] | None,
                    ) -> tuple[dict[str, Any], str | None]:  # fmt: skip
        from seqtk.tasks.evaluation import evaluate
        from seqtk.tasks.task import Task

        if max_batches < 0:
            raise SeqtkError(f"max_batches must be 0 (all) or more, got {max_batches}", fix="use e.g. 10")
        step = self._loaded.payload.get("step")
        if file is None:
            split = self._held_out(split)
            out: dict[str, Any] = {"split": split, "step": step}
        else:
            split = self._file_split(split, file)
            out = {"file": os.fspath(file), "step": step}
        if type(self.task).evaluate is not Task.evaluate:  # a plugin that kept its own evaluate(): numbers only
            metrics = self.task.evaluate(self.model, split, self.device, max_batches)
            return out | _split_loss(out, metrics) | metrics, None
        result = evaluate(self.task, self.model, split, self.device, max_batches, model_metrics=file is None)
        out |= _split_loss(out, result.metrics) | result.metrics
        return out | self.task.eval_details(result), self.task.eval_text(result)

    def _held_out(self, split: str | None) -> str:
        """The split to evaluate (val by default), once the recipe's data are read."""
        from seqtk.tasks.lifecycle import prepare_keeping_state

        split = "val" if split is None else split
        if not self._prepared:
            prepare_keeping_state(self.task, True, self._loaded.payload["task_state"])
            self._prepared = True
        if split not in self.task.splits():
            raise SeqtkError(f"task '{self.task.name}' has no split '{split}'", fix=f"use {' or '.join(self.task.splits())}")
        return split

    def _file_split(self, split: str | None, file: str | os.PathLike[str]) -> str:
        """The split the task made of ``file`` (read without the recipe's data)."""
        from seqtk.tasks.evaluation import check_eval_file
        from seqtk.tasks.task import EVAL_FILE, Task

        if split is not None:
            raise SeqtkError(f"evaluate() got a split ('{split}') and a file to score; it scores one of them",
                             fix="drop split to score the file (seqtk eval CKPT --file F), or drop file to score the split")  # fmt: skip
        if type(self.task).read_eval_file is Task.read_eval_file:
            self.task.read_eval_file(Path(file))  # the default refuses, whatever the file, naming what to do instead
        self.task.read_eval_file(check_eval_file(Path(file)))
        return EVAL_FILE

    def __repr__(self) -> str:
        return f"Predictor(task={self.task.name!r}, source='{self.source}', device={self.device})"


def _split_loss(out: dict[str, Any], metrics: dict[str, float]) -> dict[str, float]:
    """``val_loss`` for a split (as training logs name it); nothing for a file, which has only ``loss``."""
    return {f"{out['split']}_loss": metrics["loss"]} if "split" in out else {}


def predict_items(task: Task, inputs: Any) -> list[Any]:
    """``inputs`` as the list of inputs the task's predict() reads: strings (one string or path: a list of one),
    and what the task's :meth:`~seqtk.tasks.task.Task.predict_inputs` makes of anything else.

    An iterable of strings and paths is read as before, for every task (``seqtk predict`` passes a list of
    strings). Anything else goes to the task's hook whole (a tensor, an array, an image; a list of numbers may
    be one input), then, for an iterable the hook did not take, element by element; a task without the hook
    refuses it. Checked here because a tensor or a number that reached a task failed inside it as a
    TypeError (pixel_mnist), or a text task read its printed form as a text; a dict or a set would give the
    predictions of its keys, or in no set order.
    """
    from seqtk.tasks.predict_inputs import is_array

    if isinstance(inputs, (str, os.PathLike)):
        return [os.fspath(inputs)]
    whole_only = isinstance(inputs, (bytes, bytearray, Mapping, Set, torch.Tensor)) or not isinstance(inputs, Iterable)
    if whole_only or (is_array(inputs) and inputs.ndim == 0):  # a 0-d numpy array is Iterable, yet cannot be listed
        return task_items(task, inputs, "the input given")
    items = list(inputs)
    if all(isinstance(item, (str, os.PathLike)) for item in items):
        return [os.fspath(item) for item in items]
    whole = task.predict_inputs(items if isinstance(inputs, Iterator) else inputs)  # an iterator is read once
    if whole is not None:
        return list(whole)
    if is_array(inputs):  # a numpy array the task does not read: named whole, not by its first number
        raise unreadable_input(task, "the input given", inputs)
    return [one_item(task, item, f"input {n} of {len(items)}") for n, item in enumerate(items, start=1)]


def task_items(task: Task, value: Any, which: str) -> list[Any]:
    """What the task's predict_inputs() makes of ``value``, or the error naming what it takes."""
    items = task.predict_inputs(value)
    if items is None:
        raise unreadable_input(task, which, value)
    return list(items)


def one_item(task: Task, item: Any, which: str) -> Any:
    """One element of a list given to predict(): a string or path as it is, else the one input the task reads."""
    if isinstance(item, (str, os.PathLike)):
        return os.fspath(item)
    items = task_items(task, item, which)
    if len(items) != 1:
        raise SeqtkError(
            f"{which} given to task '{task.name}' predict() holds {len(items)} inputs ({describe(item)}), and each "
            "element of a list is one input",
            fix="pass the batch on its own (p.predict(batch)), or list its inputs one per element",
        )
    return items[0]


def unreadable_input(task: Task, which: str, value: Any) -> SeqtkError:
    """The error for an input a task's predict() cannot read: what it takes, and how to pass it."""
    if task.predict_reads == "file":  # such tasks read files, as `seqtk predict` passes them
        takes, example = "the path of a file (a string)", '["digit.png"]'
        fix = "save each input as a file the task reads (an image as PNG, say) and pass the paths"
    else:
        takes, example = "a text (a string)", '["first text", "second text"]'
        fix = "pass the texts as strings"
    if task.predict_takes:
        takes, example = f"{takes} or {task.predict_takes}", task.predict_example or example
        fix = "pass each input as one of these"
    only = "" if task.predict_takes else f"; task '{task.name}' reads no tensors, arrays or other objects"
    return SeqtkError(
        f"task '{task.name}' predict() takes {takes}, or a list of these, one per input; {which} is {describe(value)}",
        fix=f"{fix}, e.g. p.predict({example}){only}",
    )


def describe(value: Any) -> str:
    """What a value is, for a message.

    >>> describe(torch.zeros(1, 28, 28)), describe(3), describe(None), describe({"a": 1})
    ('a torch.Tensor of shape (1, 28, 28)', 'an int', 'None', 'a dict')
    """
    if value is None:
        return "None"
    kind = type(value)
    module = kind.__module__.split(".")[0]
    name = kind.__qualname__ if module == "builtins" else f"{module}.{kind.__qualname__}"
    shape = getattr(value, "shape", None)  # tensors and arrays
    shown = f" of shape {tuple(shape)}" if isinstance(shape, tuple) else ""
    return ("an " if name[0] in "aeiou" else "a ") + name + shown


def check_options(task: Task, options: dict[str, Any]) -> None:
    """Refuse predict options the task does not read, and a ``top_k`` below 1."""
    unused = sorted(set(options) - set(task.predict_options))
    if unused:
        reads = ", ".join(sorted(task.predict_options))
        raise SeqtkError(
            f"task '{task.name}' does not read the predict option(s) {', '.join(unused)}"
            + (f"; it reads only {reads}" if reads else ""),
            fix=f"drop {', '.join(unused)}",
        )
    for name in COUNT_OPTIONS:  # a float or a bool here reached the task as a TypeError, or as 1
        value = options.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise SeqtkError(f"{name} must be a whole number, not {value!r}", fix=f"pass e.g. {name}=3")
    if options.get("top_k") is not None and options["top_k"] < 1:
        raise SeqtkError(f"--top-k must be at least 1, not {options['top_k']}", fix="use e.g. --top-k 3 (top_k=3)")


#: the predict options that count something (labels, hypotheses): whole numbers only
COUNT_OPTIONS = ("top_k", "beam", "n_best")


def check_sampling(request: GenerateRequest) -> None:
    """The sampling options must make sense before any model runs."""
    if request.length < 1 or request.n < 1:
        raise SeqtkError("--length and --n must be at least 1", fix="pass positive values")
    if request.temperature < 0:
        raise SeqtkError(f"--temperature must be 0 (greedy) or positive, not {request.temperature}", fix="use e.g. --temperature 0.8")
    if request.top_k < 0 or not 0 < request.top_p <= 1:
        raise SeqtkError(f"--top-k must be >= 0 and --top-p in (0, 1], not {request.top_k} and {request.top_p}",
                         fix="use e.g. --top-k 0 --top-p 0.95")
