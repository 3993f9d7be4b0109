"""Recipes: one TOML file per experiment, mapped onto frozen dataclasses.

A recipe has six sections, ``task``, ``data``, ``vocab``, ``model``, ``train``
and ``log``. ``train`` and ``log`` are the same for every task; ``data``,
``vocab`` and ``model`` are the task's own dataclasses (subclasses of
:class:`DataConfig`, :class:`VocabConfig` and :class:`ModelConfig`). Every
field carries its help text in ``metadata["help"]``; ``docs/recipes.md`` is
generated from it.

Values are checked against the field types before anything is built: an
unknown key names its dotted path and the closest valid key, and a type error
names the key, the expected type and the value given. Reading the TOML text,
``key=value`` overrides and writing a recipe back are :mod:`seqtk.recipe_io`.
"""

from __future__ import annotations

import dataclasses
import datetime
import types
import typing
from dataclasses import MISSING, dataclass, field, fields, is_dataclass
from typing import Any, Literal

from seqtk import checks
from seqtk.errors import SeqtkError, suggest

SECTIONS = ("task", "data", "vocab", "model", "train", "log")


def hfield(
    default: Any = MISSING, *, help: str, default_factory: Any = MISSING, sources: tuple[str, ...] = ()
) -> Any:
    """A dataclass field with help text (shown in docs and ``seqtk recipes show``).

    ``sources``: for a ``[data]`` key that only some of the task's data sources read, their names
    (:mod:`seqtk.source_keys`); empty, every source reads it.
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
        :mod:`seqtk.source_keys`; ``None`` (the default): the task declares no sources, nothing is checked."""
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
    """Base of a task's ``[model]`` section (no common keys; :mod:`seqtk.model_config` has the core's
    recurrent-stack and language-model sections)."""

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
    ema_decay: float = hfield(
        0.0,
        help="Keep an exponential moving average of the weights (decay e.g. 0.99 for a run of ~1,000 steps, 0.999 "
        "for ~10,000) and evaluate, pick best.pt, report and save it in their place, as Keras' use_ema does; "
        "steadier than the last step's weights on small data. 0 turns it off. See seqtk.training.ema.",
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
    num_threads: int = hfield(0, help="CPU threads for torch; 0 keeps torch's default.")
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
        return {s: _to_plain(getattr(self, s)) for s in SECTIONS}

    def replace(self, **changes: Any) -> Recipe:
        return dataclasses.replace(self, **changes)


# ---------------------------------------------------------------------------
# Building dataclasses from raw mappings, with checked types
# ---------------------------------------------------------------------------


def _to_plain(value: Any) -> Any:
    if is_dataclass(value):
        return {f.name: _to_plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, (list, tuple)):
        return [_to_plain(v) for v in value]
    return value


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(tp))
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(tp))
    if origin in (list, tuple):
        args = [a for a in typing.get_args(tp) if a is not Ellipsis]
        return f"a list of {_type_name(args[0])}" if args else "a list"
    if tp is type(None):
        return "nothing (omit the key)"
    if is_dataclass(tp):
        return f"a table of {tp.__name__} keys"
    return getattr(tp, "__name__", str(tp))


def _convert(tp: Any, value: Any, path: str) -> Any:
    """Check ``value`` against type ``tp``; return it (converted where lossless)."""
    origin = typing.get_origin(tp)
    if tp is Any:
        return value
    if origin is Literal:
        if value in typing.get_args(tp):
            return value
        hint = suggest(str(value), [str(a) for a in typing.get_args(tp)])
        raise _type_error(path, tp, value, hint)
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(tp):
            try:
                return _convert(arg, value, path)
            except SeqtkError:
                continue
        raise _type_error(path, tp, value)
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise _type_error(path, tp, value)
        args = [a for a in typing.get_args(tp) if a is not Ellipsis]
        item = args[0] if args else Any
        out = [_convert(item, v, f"{path}[{i}]") for i, v in enumerate(value)]
        return tuple(out) if origin is tuple else out
    if is_dataclass(tp):
        if is_dataclass(value) and isinstance(value, tp):
            return value
        if not isinstance(value, dict):
            raise _type_error(path, tp, value)
        return build(tp, value, path)
    if tp is type(None):
        if value is None:
            return None
        raise _type_error(path, tp, value)
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tp in (int, float) and isinstance(value, bool):
        raise _type_error(path, tp, value)
    if isinstance(tp, type) and isinstance(value, tp):
        return value
    raise _type_error(path, tp, value)


def _type_error(path: str, tp: Any, value: Any, hint: str = "") -> SeqtkError:
    fix = f"set '{path}' to {_type_name(tp)} in the recipe or as {path}=VALUE on the command line"
    if _takes_str(tp) and isinstance(value, (int, float, datetime.date, datetime.time)):  # TOML read 123 as a number
        text = str(value).lower() if isinstance(value, bool) else str(value)
        fix = (f"quote the value to keep it text: {path}='\"{text}\"' on the command line, "
               f"{path} = \"{text}\" in the recipe")
    return SeqtkError(
        f"recipe key '{path}' expects {_type_name(tp)}, but the value given is {value!r} "
        f"({type(value).__name__}).{hint}",
        fix=fix,
    )


def _takes_str(tp: Any) -> bool:
    """Whether a key of type ``tp`` takes any text (``str``, ``str | None``), so a number meant a text."""
    return tp is str or (typing.get_origin(tp) in (typing.Union, types.UnionType) and str in typing.get_args(tp))


def build(cls: type, raw: dict[str, Any], path: str) -> Any:
    """Build frozen dataclass ``cls`` from ``raw``, checking keys and types.

    >>> build(TrainConfig, {"max_steps": 5}, "train").max_steps
    5
    """
    declared = [name for name in vars(cls).get("__annotations__", {}) if not name.startswith("_")]
    if declared and "__dataclass_fields__" not in vars(cls):  # a subclass without its own @dataclass: keys unseen
        raise SeqtkError(
            f"the [{path}] config class {cls.__module__}.{cls.__qualname__} is not itself a dataclass, so its "
            "keys are invisible to seqtk (every key in the recipe would be 'unknown')",
            fix=f"decorate {cls.__name__} with @dataclass(frozen=True) (from dataclasses import dataclass), "
            "as docs/plugins.md shows",
        )
    hints = typing.get_type_hints(cls)
    known = {f.name: f for f in fields(cls) if f.init}
    kwargs: dict[str, Any] = {}
    for key, value in raw.items():
        dotted = f"{path}.{key}" if path else key
        if key not in known:
            valid = ", ".join(sorted(known)) or "(none)"
            prefix = f"{path}." if path else ""
            raise SeqtkError(
                f"unknown recipe key '{dotted}'.{suggest(dotted, [prefix + k for k in known])} "
                f"Valid keys in [{path}] are: {valid}",
                fix=f"remove or rename '{dotted}'; `seqtk recipes show RECIPE` prints every key",
            )
        kwargs[key] = _convert(hints[key], value, dotted)
    missing = [n for n, f in known.items() if f.default is MISSING and f.default_factory is MISSING and n not in kwargs]
    if missing:
        dotted = f"{path}.{missing[0]}" if path else missing[0]
        raise SeqtkError(f"recipe key '{dotted}' is required but missing", fix=f"add {dotted} = ... to the recipe")
    try:
        return cls(**kwargs)
    except (ValueError, TypeError) as exc:  # __post_init__ checks
        if isinstance(exc, SeqtkError):
            raise
        raise SeqtkError(f"invalid [{path}] section: {exc}", fix="correct the values named above") from exc


# ---------------------------------------------------------------------------
# Resolving a parsed recipe (reading and overrides: seqtk.recipe_io)
# ---------------------------------------------------------------------------


def resolve(
    raw: dict[str, Any], name: str, task_cls: Any, *, stored: bool = False, written: dict[str, Any] | None = None
) -> Recipe:
    """Build a :class:`Recipe` from a raw mapping for ``task_cls``'s config classes.

    ``stored``: ``raw`` is a recipe a run wrote back in full (a checkpoint's), whose keys were checked
    when it ran, so none counts as set by the user. ``written``: the recipe file as read, before the
    overrides that made ``raw`` (:mod:`seqtk.source_keys` tells the file's keys from the overrides').
    """
    for key in raw:
        if key not in SECTIONS:
            raise SeqtkError(
                f"unknown recipe section [{key}].{suggest(key, SECTIONS)}",
                fix=f"use only the sections {', '.join(SECTIONS)}",
            )
    classes = {
        "task": TaskSection,
        "data": task_cls.data_config,
        "vocab": task_cls.vocab_config,
        "model": task_cls.model_config,
        "train": TrainConfig,
        "log": LogConfig,
    }
    sections = {}
    for section, cls in classes.items():
        value = raw.get(section, {})
        if not isinstance(value, dict):
            raise SeqtkError(f"'{section}' must be a table ([{section}])", fix=f"write it as a [{section}] section")
        sections[section] = build(cls, value, section)
    recipe = Recipe(name=name, **sections)
    given = () if stored else tuple(raw.get("data", {}))
    check_recipe(recipe, task_cls, given, _written_data(written, classes["data"]))
    return recipe


def _written_data(written: dict[str, Any] | None, cls: type) -> Any:
    """The ``[data]`` section of the recipe file alone, or None when there is none or it does not build
    without the overrides."""
    if written is None or not isinstance(written.get("data", {}), dict):
        return None
    try:
        return build(cls, written.get("data", {}), "data")
    except SeqtkError:
        return None


def check_recipe(recipe: Recipe, task_cls: Any, given: tuple[str, ...] = (), written: Any = None) -> None:
    """Everything that can be checked without data: the run settings, the device name, the task's own checks,
    and that no ``[data]`` key in ``given`` (those the recipe and its overrides set) goes unread
    (``written``: the file's ``[data]`` before overrides, :func:`seqtk.source_keys.check_source_keys`)."""
    from seqtk.device import check_device_name
    from seqtk.source_keys import check_source_keys

    check_train_and_log(recipe.train, recipe.log)
    check_device_name(recipe.train.device)
    recipe.model.check()
    check_layer_stacks(recipe.model)
    task_cls.validate(recipe)
    check_source_keys(recipe.data, given, written)


def check_layer_stacks(model: ModelConfig) -> None:
    """Every ``[model]`` key that holds a stack of LayerSpecs must stack (any task's, a plugin's too)."""
    from seqtk.layers import LayerSpec, check_stack

    for f in fields(model):
        value = getattr(model, f.name)
        if isinstance(value, (list, tuple)) and value and all(isinstance(v, LayerSpec) for v in value):
            try:
                check_stack(value)
            except SeqtkError as exc:
                raise SeqtkError(f"model.{f.name}: {exc.problem}", fix=exc.fix) from None


def check_train_and_log(train: TrainConfig, log: LogConfig) -> None:
    """Every check of the ``[train]`` and ``[log]`` sections, run wherever a recipe is resolved.

    ``seqtk recipes validate``, ``seqtk run`` and the library's ``run_training``
    all pass here (through :func:`check_recipe`) before any data is read, so
    each refuses the same values with the same words.
    """
    for key in ("max_steps", "batch_size", "eval_every", "step_every"):
        checks.at_least(f"train.{key}", getattr(train, key), 1, fix=f"set train.{key} to a positive integer")
    for key in ("warmup_steps", "eval_batches", "patience", "num_threads"):
        checks.at_least(f"train.{key}", getattr(train, key), 0)
    checks.finite("train.lr", train.lr, fix="set train.lr to e.g. 1e-3")
    if train.lr <= 0:
        raise SeqtkError(f"train.lr must be positive, not {train.lr}", fix="set train.lr to e.g. 1e-3")
    checks.finite("train.weight_decay", train.weight_decay, fix="set train.weight_decay to e.g. 0.01, or 0")
    checks.at_least("train.weight_decay", train.weight_decay, 0, fix="set train.weight_decay to e.g. 0.01, or 0")
    if not 0 <= train.momentum < 1:
        raise SeqtkError(f"train.momentum must be in [0, 1), not {train.momentum}", fix="set train.momentum to e.g. 0.9")
    if not 0 <= train.min_lr_ratio <= 1:
        raise SeqtkError(f"train.min_lr_ratio must be in [0, 1], not {train.min_lr_ratio}",
                         fix="set train.min_lr_ratio to e.g. 0.1 (the cosine floor as a fraction of train.lr)")
    if not 0 < train.gamma <= 1:
        raise SeqtkError(f"train.gamma must be in (0, 1], not {train.gamma}", fix="set train.gamma to e.g. 0.5")
    checks.finite("train.grad_clip", train.grad_clip, fix="set train.grad_clip = 1.0, or 0 to turn clipping off")
    checks.at_least("train.grad_clip", train.grad_clip, 0, fix="set train.grad_clip = 1.0, or 0 to turn clipping off")
    for key in ("time_budget", "checkpoint_every"):
        checks.duration(f"train.{key}", getattr(train, key))
    if not (train.ema_decay == 0 or 0 < train.ema_decay < 1):
        raise SeqtkError(f"train.ema_decay must be 0 (off) or in (0, 1), not {train.ema_decay}",
                         fix="set train.ema_decay = 0.99 (about the last 100 steps' weights), or 0")
    for key in ("every", "grad_every"):
        checks.at_least(f"log.{key}", getattr(log, key), 1, fix=f"set log.{key} = 10")


def task_name(raw: dict[str, Any], source: str) -> str:
    task = raw.get("task")
    if not isinstance(task, dict) or not isinstance(task.get("name"), str):
        raise SeqtkError(
            f"{source} does not name its task",
            fix='add a [task] section with name = "TASK"; `seqtk tasks` lists the tasks',
        )
    return task["name"]


def describe_fields(cls: type) -> list[tuple[str, str, str, str]]:
    """(key, type, default, help) for each field of a config dataclass."""
    rows = []
    hints = typing.get_type_hints(cls)
    for f in fields(cls):
        text = f.metadata.get("help", "")
        if f.metadata.get("sources"):
            text += f" [read by: {', '.join(f.metadata['sources'])}]"
        if f.default is not MISSING:
            default = _to_plain(f.default)
        elif f.default_factory is not MISSING:
            default = _to_plain(f.default_factory())
        else:
            rows.append((f.name, _type_name(hints[f.name]), "(required)", text))
            continue
        rows.append((f.name, _type_name(hints[f.name]), repr(default), text))
    return rows
