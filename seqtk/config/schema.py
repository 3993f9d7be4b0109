"""Recipes: one TOML file per experiment, mapped onto frozen dataclasses.

A recipe has six sections, ``task``, ``data``, ``vocab``, ``model``, ``train``
and ``log``. ``train`` and ``log`` are the same for every task; ``data``,
``vocab`` and ``model`` are the task's own dataclasses (subclasses of
:class:`DataConfig`, :class:`VocabConfig` and :class:`ModelConfig`). Every
field carries its help text in ``metadata["help"]``; ``docs/recipes.md`` is
generated from it.

This module is the schema: the sections' dataclasses and :func:`hfield`.
Building them from raw mappings with checked types is
:mod:`seqtk.config.conversion`; the checks that need no data are
:mod:`seqtk.config.checks`; reading the TOML text, ``key=value`` overrides and
writing a recipe back are :mod:`seqtk.config.recipe_io`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import MISSING, dataclass, field, fields, is_dataclass
from typing import Any, ClassVar, Literal

SECTIONS = ("task", "data", "vocab", "model", "train", "log")


def hfield(
    default: Any = MISSING, *, help: str, default_factory: Any = MISSING, sources: tuple[str, ...] = ()
) -> Any:
    """A dataclass field with help text (shown in docs and ``seqtk recipes show``).

    ``sources``: for a ``[data]`` key that only some of the task's data sources read, their names
    (:mod:`seqtk.config.source_keys`); empty, every source reads it.
    """
    metadata: dict[str, Any] = {"help": help}
    if sources:
        metadata["sources"] = tuple(sources)
    return field(default=default, default_factory=default_factory, metadata=metadata)


@dataclass(frozen=True)
class TaskSection:
    """Which task runs the recipe."""

    name: str = hfield(help="Registered task name; `seqtk tasks` lists them.")


@dataclass(frozen=True)
class DataConfig:
    """Keys every task's ``[data]`` section has; tasks subclass it."""

    path: str | None = hfield(
        None, help="A local file or folder that replaces the task's default data source."
    )

    def chosen_source(self) -> str | None:
        """The name of the data source these settings read (``"auto"`` resolved), for
        :mod:`seqtk.config.source_keys`; ``None`` (the default): the task declares no sources, nothing is checked."""
        return None

    def source_choice(self, source: str) -> str:
        """The override that makes ``source`` the chosen one (for a fix), e.g. ``data.source=hub``."""
        return f"data.source={source}"

    def describe_source(self, source: str) -> str:
        """``source`` as a message names it, e.g. ``data.source = "bbc_news"``."""
        given = getattr(self, "source", source)
        here = "" if given == source else f' (here: "{source}")'
        return f'the source data.source = "{given}"{here}'


@dataclass(frozen=True)
class VocabConfig:
    """Base of a task's ``[vocab]`` section (no common keys)."""


@dataclass(frozen=True)
class ModelConfig:
    """Base of a task's ``[model]`` section (no common keys; :mod:`seqtk.config.model_config` has the core's
    recurrent-stack and language-model sections)."""

    #: the keys holding a list of LayerSpecs that :meth:`check` stacks itself (the core's StackConfig:
    #: ``layers``), which :func:`seqtk.config.checks.check_recipe` then leaves alone instead of checking twice
    stacks_checked: ClassVar[tuple[str, ...]] = ()

    def check(self) -> None:
        """Raise :class:`SeqtkError` for values that cannot be built; run by :func:`check_recipe`."""


@dataclass(frozen=True)
class TrainConfig:
    """The ``[train]`` section: optimisation, evaluation and checkpointing."""

    seed: int = hfield(0, help="Seed for weights, data order and sampling.")
    max_steps: int = hfield(1000, help="Number of optimiser steps to run (with time_budget: the most it may choose).")
    time_budget: str = hfield(
        "",
        help='Train for about this long instead, e.g. "8m", "90s" or "1h30m", counted from the start of the run: '
        "seqtk times a few steps and one evaluation, then fixes max_steps (at most train.max_steps) so that the "
        "run, evaluations included, ends in time. The choice is written to config.toml and every checkpoint, so "
        'the learning-rate schedule is a full one and --resume is exact. "" turns it off.',
    )
    time_budget_replan: bool = hfield(
        True,
        help="With time_budget: at each evaluation, when the machine's speed has changed so that the run would end "
        "more than 2% of the budget late (or early), choose max_steps again and fit the cosine's rest to it (a "
        "constant or step schedule keeps its rates). "
        "false keeps the first plan, so that the run is the run of the chosen max_steps, bit for bit.",
    )
    batch_size: int = hfield(32, help="Examples (or streams) per batch.")
    device: str = hfield("auto", help="auto (cuda, then mps, then cpu), cpu, cuda, cuda:N or mps.")
    precision: Literal["fp32", "bf16", "fp16"] = hfield(
        "fp32", help="fp32, or autocast to bf16/fp16 (fp16 uses a GradScaler on CUDA)."
    )
    optimizer: Literal["adam", "adamw", "sgd"] = hfield("adam", help="adam, adamw or sgd.")
    lr: float = hfield(1e-3, help="Peak learning rate.")
    weight_decay: float = hfield(0.0, help="Weight decay (decoupled for adamw).")
    momentum: float = hfield(0.9, help="Momentum for sgd.")
    schedule: Literal["constant", "cosine", "step"] = hfield(
        "constant", help="Learning-rate schedule after warmup: constant, cosine or step."
    )
    warmup_steps: int = hfield(0, help="Linear warmup steps from 0 to lr.")
    min_lr_ratio: float = hfield(0.1, help="Cosine schedule floor, as a fraction of lr.")
    step_every: int = hfield(1000, help="Step schedule: multiply lr by gamma every this many steps.")
    gamma: float = hfield(0.5, help="Step schedule: the factor.")
    grad_clip: float = hfield(1.0, help="Clip the gradient norm to this value; 0 turns clipping off.")
    variable_bptt: bool = hfield(
        False,
        help="Language models on carried streams (textgen's data.batching = \"stream\"): draw each batch's length "
        "around data.seq_len as AWD-LSTM does (seq_len with p = 0.95, else seq_len / 2; then normal, sd 5, at "
        "least 5) and scale that step's learning rate by length / seq_len. The lengths follow train.seed, so "
        "--resume is exact. See seqtk.data.lm_batches.variable_lengths.",
    )
    ema_decay: float = hfield(
        0.0,
        help="Keep an exponential moving average of the weights (decay e.g. 0.99 for a run of ~1,000 steps, 0.999 "
        "for ~10,000) and evaluate, pick best.pt, report and save it in their place, as Keras' use_ema does; "
        "steadier than the last step's weights on small data. 0 turns it off. See seqtk.training.ema.",
    )
    nt_asgd_nonmono: int = hfield(
        0,
        help="NT-ASGD (AWD-LSTM, with optimizer = \"sgd\"): once an evaluation's val metric is worse than the best "
        "of those before the last nt_asgd_nonmono evaluations, keep averaging the weights from that step on (an "
        "arithmetic mean, as torch.optim.ASGD's), and evaluate, pick best.pt, report and save the average. "
        "AWD-LSTM: 5, with train.momentum = 0. 0 turns it off. See seqtk.training.optim.nt_asgd_switch.",
    )
    eval_every: int = hfield(200, help="Evaluate on the validation split every this many steps.")
    eval_batches: int = hfield(0, help="Validation batches per evaluation; 0 means the whole split.")
    checkpoint_every: str = hfield(
        "5m", help='Also write checkpoints/last.pt this often between evaluations, e.g. "5m"; "0": at evaluations only.'
    )
    metric: str = hfield("", help="Metric that picks best.pt and early stopping; empty: the task's.")
    metric_mode: Literal["auto", "min", "max"] = hfield(
        "auto", help="Whether the metric should go down or up; auto: the task's choice."
    )
    patience: int = hfield(0, help="Stop after this many evaluations without improvement; 0: never.")
    num_threads: int = hfield(0, help="CPU threads for torch; 0: torch's default, re-checked during the run against the cores other work holds (each change printed; the count changes a run's last bits, so N pins it).")
    deterministic: bool = hfield(True, help="Use deterministic algorithms where torch has them.")
    flush_denormal: bool = hfield(
        True,
        help="On a CPU, treat subnormal floats as zero (as TensorFlow's kernels do): back-propagation through "
        "long sequences makes tiny gradients whose subnormal arithmetic ran a GRU model 7x slower.",
    )


@dataclass(frozen=True)
class LogConfig:
    """The ``[log]`` section: where and how a run reports."""

    out_dir: str = hfield("runs", help="Runs go to OUT_DIR/<recipe>/<timestamp>/ unless --out is given.")
    every: int = hfield(10, help="Log training scalars every this many steps.")
    tensorboard: bool = hfield(True, help="Write TensorBoard event files.")
    progress: bool = hfield(True, help="Show a progress bar on the console.")
    grad_through_time: bool = hfield(
        False,
        help="Record ||dL/dh_t|| at every time step t of every encoder layer (seqtk.training.gradients): "
        "a TensorBoard image of the curve and gradients/* scalars at a few t.",
    )
    grad_every: int = hfield(100, help="With grad_through_time: record every this many training steps.")


@dataclass(frozen=True)
class Recipe:
    """A resolved recipe: what `seqtk run` trains."""

    name: str
    task: TaskSection
    data: DataConfig
    vocab: VocabConfig
    model: ModelConfig
    train: TrainConfig
    log: LogConfig

    def to_dict(self) -> dict[str, Any]:
        """The recipe as plain TOML-able data (no ``name``: that is the file's stem)."""
        return {s: to_plain(getattr(self, s)) for s in SECTIONS}

    def replace(self, **changes: Any) -> Recipe:
        return dataclasses.replace(self, **changes)


def to_plain(value: Any) -> Any:
    """A section (or any value) as plain TOML-able data: dataclasses become dicts, tuples lists."""
    if is_dataclass(value):
        return {f.name: to_plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, (list, tuple)):
        return [to_plain(v) for v in value]
    return value
