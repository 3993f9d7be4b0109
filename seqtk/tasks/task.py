"""The Task interface: what a plugin implements to plug into the trainer.

A task owns its data, its vocabulary and how its model is built (the fairseq
boundary). The trainer owns everything else: devices, precision, optimiser,
schedules, checkpoints, logging and the CLI. A task has a handful of members:

- ``name`` and its config classes (``data_config``, ``vocab_config``,
  ``model_config``) — the recipe sections it reads;
- :meth:`Task.load_data`, :meth:`Task.learn` and :meth:`Task.encode_data` —
  read the data, build the vocabulary and labels from the training split,
  encode the data with them (the core calls :meth:`Task.learn` only for what
  a checkpoint did not restore); or, as before, one :meth:`Task.prepare`;
- :meth:`Task.build_model`;
- :meth:`Task.train_loader` and :meth:`Task.eval_batches`;
- :meth:`Task.step` — loss and metrics for one batch;
- optionally :meth:`Task.fetch_pretrained` and :meth:`Task.init_model` (a
  fresh run's initialisation: pretrained vectors), :meth:`Task.eval_reducer`
  (metrics that are not means), :meth:`Task.model_metrics` (metrics of the
  model itself: sampled outputs, scored), :meth:`Task.predict`,
  :meth:`Task.generate`, :meth:`Task.log_eval`, :meth:`Task.export_spec`
  (what ``seqtk export`` writes), :meth:`Task.read_eval_file` (a file the
  model has not seen, scored as a split: ``seqtk eval --file``).

What a task learns from its training data (its vocabulary, label names) is
named in :attr:`Task.learned`, and seqtk saves and restores it
(:mod:`seqtk.tasks.learned`); anything else inference needs goes into
:meth:`Task.state_dict`. Both are stored in each checkpoint, so that predict
and generate work without the training data. The order in which seqtk calls
these methods is :mod:`seqtk.tasks.lifecycle`'s.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import torch
from torch import nn

from seqtk.config.schema import DataConfig, ModelConfig, Recipe, VocabConfig
from seqtk.errors import SeqtkError
from seqtk.tasks.export_spec import ExportPart, ExportParts, ExportSpec  # noqa: F401 - importable from here as before
from seqtk.tasks.generate_request import GenerateRequest
from seqtk.tasks.step import (
    StepOutput,  # the task/trainer boundary; importable from here as before
)

if TYPE_CHECKING:
    from pathlib import Path

    from rich.console import Console

    from seqtk.data.batches import ResumableLoader
    from seqtk.runtime.loggers import Logger
    from seqtk.tasks.evaluation import EvalResult, Reducer


#: the held-out split a file the model has not seen becomes (:meth:`Task.read_eval_file`)
EVAL_FILE = "file"


class Task:
    """Base class of every task plugin. Subclass it and register it under the
    ``seqtk.tasks`` entry-point group (see ``docs/plugins.md``)."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    data_config: ClassVar[type[DataConfig]] = DataConfig
    vocab_config: ClassVar[type[VocabConfig]] = VocabConfig
    model_config: ClassVar[type[ModelConfig]] = ModelConfig
    #: the validation metric that picks ``best.pt`` (a key of :meth:`evaluate`)
    main_metric: ClassVar[str] = "loss"
    main_metric_mode: ClassVar[str] = "min"
    #: attributes holding what the task learns from its training data (a Vocab, label names, normalisation
    #: statistics): restored from a checkpoint before prepare(), else built from learn()'s result by the
    #: core; seqtk checks that an overridden prepare() kept restored ones (seqtk.tasks.lifecycle)
    learned: ClassVar[tuple[str, ...]] = ()
    #: state that an overridden prepare() rebuilds from the data on purpose (learned attributes, or
    #: state_dict() keys for a task without ``learned``): after a checkpoint restored it, seqtk keeps what
    #: prepare() built instead of stopping the command (seqtk.tasks.lifecycle)
    rebuilt_by_prepare: ClassVar[tuple[str, ...]] = ()
    #: what ``StepOutput.count`` counts, for the throughput display
    unit: ClassVar[str] = "examples"
    #: ``seqtk generate --length`` when not given (new tokens per sample)
    generate_length: ClassVar[int] = 200
    #: the ``seqtk generate`` options this task reads from ``GenerateRequest.extra`` (out, key, meter, wav,
    #: musicxml); the CLI refuses the others instead of ignoring them
    generate_options: ClassVar[frozenset[str]] = frozenset()
    #: whether :meth:`generate` samples ``GenerateRequest.prompts`` (many prompts, one batch)
    batched_prompts: ClassVar[bool] = False
    #: the ``seqtk predict`` options this task's :meth:`predict` takes as keywords (``top_k``); the CLI
    #: refuses the others instead of ignoring them
    predict_options: ClassVar[frozenset[str]] = frozenset()
    #: what one input of :meth:`predict` is, for the error when something else is passed: ``"text"`` (a string
    #: the task reads) or ``"file"`` (the path of a file it reads, such as an image)
    predict_reads: ClassVar[Literal["text", "file"]] = "text"
    #: what else one input of :meth:`predict` may be, besides that string, for the error when something else
    #: is passed (``"a list of tokens (a list of strings)"``): what :meth:`predict_inputs` reads; "" for none
    predict_takes: ClassVar[str] = ""
    #: the argument of a ``p.predict(...)`` call that the same error shows (``'["The dog", ["A", "cat"]]'``)
    predict_example: ClassVar[str] = ""
    #: where :meth:`report_console` prints; set it (on the class or an instance) to capture or silence reports
    console: Console | None = None

    def __init__(self, recipe: Recipe) -> None:
        self.recipe = recipe

    def __setattr__(self, name: str, value: Any) -> None:
        # ``self.splits = {...}`` in prepare() would silently replace the method seqtk calls later;
        # a callable (a bound method, a partial, a test's monkeypatch) still works as the method
        if name in TASK_METHODS and not callable(value):
            raise SeqtkError(
                f"task '{self.name}' sets self.{name}, which would hide the Task method {name}() that seqtk calls",
                fix=f"rename the attribute (self._{name}, say); docs/plugins.md lists the Task members",
            )
        super().__setattr__(name, value)

    def report_console(self) -> Console:
        """The rich Console for data reports (corpus sizes, splits): ``console``, else one on stderr,
        so that stdout stays clean for ``--json`` output."""
        if self.console is None:
            from rich.console import Console

            self.console = Console(stderr=True)
        return self.console

    # -- static checks ------------------------------------------------------
    @classmethod
    def validate(cls, recipe: Recipe) -> None:
        """Check the recipe before any data is loaded; raise SeqtkError."""

    # -- data ----------------------------------------------------------------
    def prepare(self) -> None:
        """Read the data, put in place what :attr:`learned` names, encode the data with it.

        The core's order: :meth:`load_data`; then :meth:`learn`, whose result sets each :attr:`learned`
        attribute a checkpoint did not restore (a restored one is kept: the model's ids mean it); then
        :meth:`encode_data`. A task written before these hooks overrides this method instead, and must
        then build a learned attribute only while it is None (seqtk checks it kept restored ones).
        """
        from seqtk.tasks.learned import fill

        self.load_data()
        fill(self, self.learn)
        self.encode_data()

    def load_data(self) -> None:
        """Read and split the data (nothing learned from it yet); raise SeqtkError for bad data."""
        raise NotImplementedError(f"task '{self.name}' implements neither prepare() nor load_data()")

    def learn(self) -> dict[str, Any]:
        """What :attr:`learned` names, built from the training data :meth:`load_data` read:
        ``{"vocab": Vocab.build(...), "labels": [...]}``. Called only when a name is not restored."""
        return {}

    def encode_data(self) -> None:
        """Encode the data with the learned vocabulary and labels; report sizes. Optional."""

    def need(self, name: str) -> Any:
        """The learned attribute ``name``, or a clear error when neither prepare() nor a checkpoint set it."""
        value = getattr(self, name, None)
        if value is None:
            raise SeqtkError(
                f"task '{self.name}' has no {name} yet: it is learned from the training data",
                fix="call prepare() (training, evaluation) or load a checkpoint (inference) first",
            )
        return value

    def train_loader(self) -> ResumableLoader:
        """The endless training loader; its position is checkpointed."""
        raise NotImplementedError

    def eval_batches(self, split: str) -> Iterable[Any]:
        """The batches of a held-out split (``val`` or ``test``), in a fixed order."""
        raise NotImplementedError

    def splits(self) -> list[str]:
        """Held-out splits this task has."""
        return ["val", "test"]

    def read_eval_file(self, path: Path) -> None:
        """Read ``path``, a file the model has not seen, as the held-out split :data:`EVAL_FILE`, so that
        ``eval_batches(EVAL_FILE)`` and ``eval_reducer(EVAL_FILE)`` serve it as they serve ``val``: the same
        step, reducer and metrics score it (``seqtk eval CKPT --file F``, ``Predictor.evaluate(file=F)``).

        Read it in a format the task's data are read in, and encode it with the learned vocabulary and labels;
        no training data are read (it is called on a restored checkpoint without :meth:`prepare`). Raise
        SeqtkError for a file the task cannot read, or labels the model does not know. The core has already
        checked that the file exists and is not empty. The default refuses: the task scores its splits only.
        """
        raise SeqtkError(
            f"task '{self.name}' cannot score a file: it evaluates only the held-out splits of its recipe's data "
            f"(not '{path}')",
            fix="evaluate a split with seqtk eval CKPT --split val (or test), or get the model's outputs for the "
            "file's inputs with seqtk predict CKPT --file F; docs/deploy.md lists the tasks that score a file",
        )

    # -- model ----------------------------------------------------------------
    def build_model(self) -> nn.Module:
        """The model, its sizes from the recipe and the learned vocabulary and labels. Called by every command
        (a checkpoint's weights are loaded into it); what only a fresh run does goes into :meth:`init_model`."""
        raise NotImplementedError

    def fetch_pretrained(self) -> None:
        """Find or download what :meth:`init_model` will copy into the model (pretrained vectors, say), and
        refuse a missing one. Optional.

        Called on a fresh ``seqtk run`` only, before :meth:`load_data`: a misspelt name or a missing file stops
        the run before a large corpus is read. Never called on ``--resume``, ``seqtk eval``, ``predict``,
        ``generate`` or ``seqtk.load``: their checkpoint already holds what the file would give.
        """

    def init_model(self, model: nn.Module) -> None:
        """Initialise the weights of a freshly built model: copy in pretrained vectors, say. Optional.

        Called once, on a fresh ``seqtk run`` only, right after :meth:`build_model` and before the model moves
        to its device; never on ``--resume``, ``seqtk eval``, ``predict``, ``generate`` or ``seqtk.load``, whose
        checkpoint holds the trained weights (they win over anything set here). Doing it in
        :meth:`build_model` instead would need to know whether a checkpoint follows, which only the core does.
        """

    def step(self, model: nn.Module, batch: Any, *, train: bool) -> StepOutput:
        """Forward one batch; return the loss (with grad when ``train``) and metrics."""
        raise NotImplementedError

    def reset_state(self) -> None:
        """Forget any state carried across training batches (truncated BPTT)."""

    def evaluate(self, model: nn.Module, split: str, device: torch.device, max_batches: int = 0) -> dict[str, float]:
        """Mean loss and metrics over a split, weighted by ``StepOutput.count``, plus :meth:`eval_reducer`'s.

        The loop is the core's (:mod:`seqtk.tasks.evaluation`); tasks customise it with
        :meth:`eval_reducer`, :meth:`model_metrics` and :meth:`finish_metrics`, not by overriding this
        (an override is still called, but its result reaches :meth:`log_eval` without the reducer).
        """
        from seqtk.tasks.evaluation import evaluate

        return evaluate(self, model, split, device, max_batches).metrics

    def eval_reducer(self, split: str) -> Reducer | None:
        """An object that sees every evaluation batch (``add(batch, out)``) and returns the metrics that
        are not means (``metrics()``): F1, confusion matrices, corpus scores. It reaches :meth:`log_eval`
        and :meth:`final_report` as ``result.details``. None (the default): means only."""
        return None

    def model_metrics(self, model: nn.Module, split: str, device: torch.device, result: EvalResult) -> dict[str, float]:
        """Metrics of the model itself rather than of :meth:`step`'s batches: outputs it samples or decodes,
        scored (the share of sampled tunes that parse, say). Optional; called once per evaluation, after
        the batches, with the model in eval mode and no gradients.

        ``result`` is the evaluation so far (the means and the reducer's metrics, the reducer as
        ``details``); keep what :meth:`log_eval` and :meth:`final_report` should show in ``result.extras``
        (``result.extras["samples"] = texts``), not in ``self``. The returned values join the metrics
        before :meth:`finish_metrics`. Draw from a ``torch.Generator`` of your own: an evaluation must not
        change the training run.
        """
        return {}

    def eval_details(self, result: EvalResult) -> dict[str, Any]:
        """Results of ``seqtk eval`` beyond the numbers (a per-class table, a confusion matrix) as
        JSON-ready data, merged into ``--json`` output. ``result.details`` is the reducer."""
        return {}

    def eval_text(self, result: EvalResult) -> str | None:
        """The same for the console: plain text printed under ``seqtk eval``'s metric table."""
        return None

    def finish_metrics(self, metrics: dict[str, float]) -> dict[str, float]:
        """Derive further metrics from the means (e.g. bits per char from the loss)."""
        return metrics

    def log_eval(self, model: nn.Module, logger: Logger, step: int, result: EvalResult | None = None) -> None:
        """Log extras after an evaluation: samples as text, images. ``result`` is that evaluation
        (its metrics, its reducer as ``details``, what :meth:`model_metrics` kept as ``extras``). A method
        of the older form ``log_eval(model, logger, step)`` is still called, without it, after a warning
        (:func:`seqtk.tasks.evaluation.call_with_result`).

        Must not draw from the global RNG (use a ``torch.Generator`` of its own),
        so that logging never changes the training run.
        """

    def final_report(self, model: nn.Module, device: torch.device, result: EvalResult | None = None) -> str | None:
        """Text printed when training ends (a generated sample, say); None for nothing. ``result`` is the
        last evaluation, as for :meth:`log_eval`."""
        return None

    # -- state kept in checkpoints ------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """What inference needs besides the weights and :attr:`learned` (a prompt, a split record).
        Plain data and tensors only."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`; called after :attr:`learned` is restored and before :meth:`prepare`."""

    # -- inference -------------------------------------------------------------
    def predict(self, model: nn.Module, inputs: list[Any], device: torch.device, **options: Any) -> list[dict[str, Any]]:
        """One dict per input. An input is a string, as ``seqtk predict`` passes it (a text, or a file's path
        for a task whose :attr:`predict_reads` is ``"file"``), or an item :meth:`predict_inputs` returned; a
        task that does not override it gets strings only. ``options`` are the ``seqtk predict`` options the
        task names in :attr:`predict_options` (``top_k``), passed only when given."""
        raise SeqtkError(f"task '{self.name}' does not support predict", fix="use `seqtk eval` or `seqtk generate` instead")

    def predict_inputs(self, value: Any) -> list[Any] | None:
        """The inputs of :meth:`predict` that ``value``, something not a string given to ``Predictor.predict``,
        holds: a list of one item for one input, of N for a batch (an N x 28 x 28 tensor), or None when the task
        does not read it (seqtk then refuses it, naming :attr:`predict_takes`). The default reads nothing, so
        :meth:`predict` gets strings only.

        ``value`` is first what the user passed, whole (a tensor, an image, a list that is not all strings);
        when that gives None and it is a list, each element that is not a string, in turn, which must give one
        item. Raise SeqtkError for a value of a kind the task reads that it cannot use (a wrong shape, pixels
        in an ambiguous range). :func:`seqtk.tasks.predict_inputs.as_tensor` reads tensors and numpy arrays.
        """
        return None

    def generate(self, model: nn.Module, request: GenerateRequest, device: torch.device) -> list[str]:
        raise SeqtkError(f"task '{self.name}' does not generate", fix="use `seqtk predict` or `seqtk eval` instead")

    def prompt_row(self, prompt: str) -> tuple[torch.Tensor, Callable[[list[int]], str]] | None:
        """For a task whose :meth:`generate` samples its model (a :class:`~seqtk.nn.lm.CharLM`) after each prompt
        with a generator seeded by the request's seed, as ``seqtk.nn.lm.CharLM.generate`` does: the ids a sample
        of ``prompt`` starts from ((T,), T >= 1), and a function that turns the new ids into text, called on each
        new id in turn (it may keep its place, as a word after a word needs a space). ``seqtk serve`` then
        samples its generate requests as rows of one rolling batch that they join between steps
        (:mod:`seqtk.nn.rolling`), and gives the text :meth:`generate` gives. None (the default): ``seqtk serve``
        calls :meth:`generate` with whole batches."""
        return None

    def export_spec(self, model: nn.Module) -> ExportSpec | ExportParts:
        """The module ``seqtk export`` writes (or the modules, as :class:`ExportParts`), with example inputs and
        the vocabulary and label files that go with it. ``model`` is the checkpoint's, on the CPU, in eval mode.
        Raise SeqtkError for a model that cannot be exported (say which part, and what to do instead)."""
        raise SeqtkError(
            f"task '{self.name}' does not export its model to TorchScript or ONNX: it defines no export_spec()",
            fix="use the checkpoint from Python with seqtk.load() (or `seqtk predict`); docs/deploy.md lists the "
            "tasks that export",
        )


#: the methods seqtk calls on a task instance; a non-callable attribute of the same name would hide one
#: (``validate`` is left out: seqtk calls it on the class)
TASK_METHODS = frozenset(
    name for name, value in vars(Task).items()
    if not name.startswith("_") and not isinstance(value, type) and callable(value)
)
