"""Recipes: their schema, building them from TOML with checked types, and the checks before any data.

``seqtk.config`` itself still offers every name the module of that name did before the areas became
folders (``DataConfig``, ``hfield``, ``resolve``, ...), so plugins written against older docs keep
working. Code inside seqtk imports the modules: :mod:`seqtk.config.schema` (the sections' dataclasses),
:mod:`seqtk.config.conversion` (raw mappings to dataclasses), :mod:`seqtk.config.checks`,
:mod:`seqtk.config.recipe_io` (TOML and overrides), :mod:`seqtk.config.recipes` (finding recipe files),
:mod:`seqtk.config.model_config` (the core's ``[model]`` sections), :mod:`seqtk.config.source_keys`.
"""

from seqtk.config.schema import (
    DataConfig, LogConfig, ModelConfig, Recipe, SECTIONS, TaskSection, TrainConfig, VocabConfig, hfield,
    to_plain,
)
from seqtk.config.checks import check_layer_stacks, check_recipe, check_train_and_log
from seqtk.config.conversion import build, describe_fields, resolve, task_name

__all__ = [
    "DataConfig",
    "LogConfig",
    "ModelConfig",
    "Recipe",
    "SECTIONS",
    "TaskSection",
    "TrainConfig",
    "VocabConfig",
    "build",
    "check_layer_stacks",
    "check_recipe",
    "check_train_and_log",
    "describe_fields",
    "hfield",
    "resolve",
    "task_name",
    "to_plain",
]
