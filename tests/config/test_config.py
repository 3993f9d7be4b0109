"""Recipes: TOML parsing, overrides, type checks, and the resolved config."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from seqtk.config.conversion import build, resolve
from seqtk.config.recipe_io import apply_overrides, parse_override, read_toml, to_toml
from seqtk.config.schema import DataConfig, ModelConfig, TrainConfig, hfield
from seqtk.errors import SeqtkError
from seqtk.tasks.task import Task


@dataclass(frozen=True)
class LayerCfg:
    cell: str = hfield("lstm", help="cell")
    hidden_size: int = hfield(8, help="size")


@dataclass(frozen=True)
class DemoModel(ModelConfig):
    layers: tuple[LayerCfg, ...] = hfield((LayerCfg(),), help="layers")
    dropout: float = hfield(0.0, help="dropout")


@dataclass(frozen=True)
class DemoData(DataConfig):
    seq_len: int = hfield(16, help="length")


class DemoTask(Task):
    name = "demo"
    data_config = DemoData
    model_config = DemoModel


RAW = {"task": {"name": "demo"}, "data": {"seq_len": 4}, "model": {"layers": [{"cell": "gru", "hidden_size": 3}]}}


def test_resolve_builds_typed_sections():
    recipe = resolve(RAW, "demo_recipe", DemoTask)
    assert recipe.data.seq_len == 4 and recipe.data.path is None
    assert recipe.model.layers == (LayerCfg("gru", 3),)
    assert recipe.train == TrainConfig()


def test_int_is_accepted_for_float_but_not_bool_for_int():
    assert build(TrainConfig, {"lr": 1}, "train").lr == 1.0
    with pytest.raises(SeqtkError, match="train.max_steps' expects int"):
        build(TrainConfig, {"max_steps": True}, "train")


def test_unknown_key_names_dotted_path_and_suggests():
    with pytest.raises(SeqtkError) as exc:
        resolve(apply_overrides(RAW, ["train.max_step=5"]), "r", DemoTask)
    assert "'train.max_steps'" in exc.value.message and "unknown recipe key 'train.max_step'" in exc.value.message


def test_unknown_nested_key_in_array_of_tables():
    raw = {**RAW, "model": {"layers": [{"cel": "gru"}]}}
    with pytest.raises(SeqtkError, match=r"model.layers\[0\].cel.*Did you mean 'model.layers\[0\].cell'"):
        resolve(raw, "r", DemoTask)


def test_unknown_section_suggests():
    with pytest.raises(SeqtkError, match="Did you mean 'train'"):
        apply_overrides(RAW, ["trian.lr=0.1"])
    with pytest.raises(SeqtkError, match=r"unknown recipe section \[modle\]"):
        resolve({**RAW, "modle": {}}, "r", DemoTask)


def test_type_error_names_key_type_and_value():
    with pytest.raises(SeqtkError) as exc:
        resolve(apply_overrides(RAW, ["train.batch_size=big"]), "r", DemoTask)
    msg = exc.value.message
    assert "train.batch_size" in msg and "int" in msg and "'big'" in msg


def test_literal_choices_suggest():
    with pytest.raises(SeqtkError, match="Did you mean 'adam'"):
        build(TrainConfig, {"optimizer": "adma"}, "train")


@pytest.mark.parametrize(
    "text,expected",
    [("a.b=3", 3), ("a.b=3.5", 3.5), ("a.b=true", True), ('a.b="x y"', "x y"), ("a.b=hello", "hello"), ("a.b=[1, 2]", [1, 2])],
)
def test_override_values_parse_as_toml_then_string(text, expected):
    assert parse_override(text)[1] == expected


@pytest.mark.parametrize("bad", ["novalue", "=3", "a..b=1"])
def test_malformed_override(bad):
    with pytest.raises(SeqtkError, match="section.key=value"):
        parse_override(bad)


def test_positive_checks():
    with pytest.raises(SeqtkError, match="train.max_steps must be at least 1"):
        resolve(apply_overrides(RAW, ["train.max_steps=0"]), "r", DemoTask)


@pytest.mark.parametrize(
    "override, message",
    [
        ("train.lr=nan", "train.lr must be a finite number, not nan"),
        ("train.lr=inf", "train.lr must be a finite number, not inf"),
        ("train.lr=0", "train.lr must be positive, not 0"),
        ("train.warmup_steps=-1", "train.warmup_steps must be at least 0, not -1"),
        ("train.grad_clip=nan", "train.grad_clip must be a finite number"),
        ("train.weight_decay=-0.1", "train.weight_decay must be at least 0"),
        ("train.momentum=1.5", r"train.momentum must be in \[0, 1\)"),
        ("train.min_lr_ratio=2", r"train.min_lr_ratio must be in \[0, 1\]"),
        ("train.gamma=0", r"train.gamma must be in \(0, 1\]"),
        ("train.step_every=0", "train.step_every must be at least 1"),
        ("log.grad_every=0", "log.grad_every must be at least 1"),
        ("train.device=gpu", "unknown device 'gpu'.*Did you mean 'cpu'"),
    ],
)
def test_impossible_run_settings_are_refused_when_the_recipe_is_read(override, message):
    # the one place seqtk recipes validate, seqtk run and run_training all pass before data
    with pytest.raises(SeqtkError, match=message):
        resolve(apply_overrides(RAW, [override]), "r", DemoTask)


def test_a_device_this_machine_lacks_still_validates():
    assert resolve(apply_overrides(RAW, ["train.device=cuda:3"]), "r", DemoTask).train.device == "cuda:3"


def test_a_config_class_without_its_own_dataclass_decorator_is_named():
    class Undecorated(ModelConfig):  # a plugin author forgot @dataclass
        hidden: int = 8

    class Sloppy(DemoTask):
        model_config = Undecorated

    with pytest.raises(SeqtkError, match=r"\[model\] config class .*Undecorated is not itself a dataclass.*"
                                         r"Fix: decorate Undecorated with @dataclass\(frozen=True\)"):
        resolve({"task": {"name": "demo"}, "model": {"hidden": 4}}, "r", Sloppy)


def test_malformed_toml_names_line(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('[train]\nlr = = 3\n')
    with pytest.raises(SeqtkError) as exc:
        read_toml(path)
    assert "not valid TOML" in exc.value.message and "line 2" in exc.value.message


def test_missing_recipe_file(tmp_path):
    with pytest.raises(SeqtkError, match="does not exist"):
        read_toml(tmp_path / "nope.toml")


def test_to_toml_round_trips(tmp_path):
    recipe = resolve(RAW, "demo_recipe", DemoTask)
    path = tmp_path / "config.toml"
    path.write_text(to_toml(recipe.to_dict(), header="# seqtk run x"))
    assert path.read_text().startswith("# seqtk run x\n")
    assert resolve(read_toml(path), "demo_recipe", DemoTask) == recipe


def test_recipe_is_frozen():
    recipe = resolve(RAW, "r", DemoTask)
    with pytest.raises(Exception):
        recipe.train.lr = 3.0  # type: ignore[misc]
