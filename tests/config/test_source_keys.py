"""A ``[data]`` key the chosen source ignores is refused before any data is read (seqtk.config.source_keys).

The case that found it: ``seqtk run classify_tiny data.path=intents.jsonl`` trained on BBC News, because the
recipe fixes ``data.source = "bbc_news"``, and exited 0.
"""

from __future__ import annotations

import typing
from dataclasses import fields, replace

import pytest

from seqtk.cli.main import main
from seqtk.config.conversion import resolve
from seqtk.config.recipes import bundled_recipes
from seqtk.config.source_keys import check_source_keys, default_of, sources_of
from seqtk.errors import SeqtkError
from seqtk.tasks import registry
from seqtk.tasks.loading import load_recipe

RECIPES = sorted(bundled_recipes())


def test_the_intent_file_given_to_the_bbc_recipe_is_refused_before_anything_is_written(tmp_path, capsys):
    data = tmp_path / "intents.jsonl"
    data.write_text('{"text": "What time is it?", "intent": "time"}\n', encoding="utf-8")
    out = tmp_path / "run"
    code = main(["run", "classify_tiny", f"data.path={data}", "data.text_column=text", "data.label_column=intent",
                 "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 1
    assert "data.path" in err and 'data.source = "bbc_news"' in err and "silently ignored" in err
    assert "data.source=auto" in err  # the fix names the override that reads the file
    assert "Traceback" not in err
    assert not out.exists()


def _other_value(recipe_data: object, name: str) -> str:
    """An override value for field ``name`` that differs from its default and passes the task's own checks."""
    f = next(f for f in fields(recipe_data) if f.name == name)
    hint = typing.get_type_hints(type(recipe_data))[name]
    default = default_of(f)
    if typing.get_origin(hint) is typing.Literal:
        return next(str(v) for v in typing.get_args(hint) if v != default)
    if hint is bool:
        return "false" if default else "true"
    if hint is int:
        return str(default + 1)
    if hint is float:
        return str(round(default / 2, 3))
    if typing.get_origin(hint) is list:
        return '["x"]'
    return "x"


def _ignored_keys(name: str) -> list[str]:
    """The keys the recipe's source ignores, less those whose setting chooses a source that reads them
    (pixel_mnist's data.hf_dataset selects the hub)."""
    data = load_recipe(name).data
    chosen = data.chosen_source()
    keys = [f.name for f in fields(data) if sources_of(f) and chosen not in sources_of(f)]
    return [k for k in keys if replace(data, **{k: "x"}).chosen_source() == chosen]


@pytest.mark.parametrize("name", RECIPES)
def test_every_bundled_recipe_loads_and_refuses_each_key_its_source_ignores(name):
    recipe = load_recipe(name)  # no false refusal of a recipe as shipped
    for key in _ignored_keys(name):
        value = _other_value(recipe.data, key)
        override = f"data.{key}={value}"
        with pytest.raises(SeqtkError) as err:  # the task's own check may say it first, in its words
            load_recipe(name, [override])
        assert f"data.{key}" in err.value.problem, override


SOURCE_CHECKED = [  # per task, overrides of which only the source check refuses the first
    ("classify_tiny", ["data.path=intents.jsonl"]),
    ("sentiment_tiny", ["data.text_column=body"]),
    ("seq2seq_tiny", ["data.stress=true"]),
    ("tag_tiny", ["data.word_column=2"]),
    ("textgen_tiny", ["data.hf_split=validation"]),
    ("toy_tiny", ["data.bits=4"]),
    ("forecast_tiny", ["data.value_column=ppm"]),
    ("music_tiny", ['data.collections=["airdsAirs"]', "data.path=tunes.abc"]),
]


@pytest.mark.parametrize(("name", "overrides"), SOURCE_CHECKED)
def test_each_task_refuses_a_key_its_source_ignores_naming_the_fix(name, overrides):
    key = overrides[0].split("=")[0]
    with pytest.raises(SeqtkError) as err:
        load_recipe(name, overrides)
    assert err.value.problem.startswith(f"{key} = ") and "silently ignored" in err.value.problem
    assert "choose a source that reads it (" in err.value.fix
    assert f"set {key}=" in err.value.fix or f"remove {key} from the recipe" in err.value.fix


def test_an_override_that_chooses_another_source_replaces_the_recipes_own(tmp_path):
    """textgen_tiny names its works; data.path=my.txt replaces them, as the user meant. A recipe file that
    sets both reads one of them only, and is refused."""
    text = tmp_path / "my.txt"
    assert load_recipe("textgen_tiny", [f"data.path={text}"]).data.chosen_source() == "path"
    assert load_recipe("music_tiny", [f"data.path={text}"]).data.chosen_source() == "path"
    recipe = tmp_path / "both.toml"
    recipe.write_text(f'[task]\nname = "textgen"\n[data]\ncorpus = "plays"\npath = "{text}"\n', encoding="utf-8")
    with pytest.raises(SeqtkError, match="data.corpus = 'plays' is set"):
        load_recipe(str(recipe))


def test_every_task_with_several_sources_declares_them():
    tasks = {load_recipe(name).task.name for name in RECIPES if _ignored_keys(name)}
    assert tasks >= {"classify", "sentiment", "seq2seq", "tag", "textgen", "toy_sequences", "forecast", "pixel_mnist"}


def test_a_key_set_to_its_default_never_counts():
    recipe = load_recipe("classify_tiny", ["data.text_column=auto", "data.hub_train_split=train"])
    assert recipe.data.chosen_source() == "bbc_news"


def test_the_fix_to_undo_a_key_is_an_override_that_works():
    with pytest.raises(SeqtkError) as err:
        load_recipe("tag_tiny", ["data.word_column=2"])
    assert "data.word_column=0 (its default)" in err.value.fix
    with pytest.raises(SeqtkError) as err:
        load_recipe("forecast_tiny", ["data.value_column=co2"])
    assert 'data.value_column="" (its default)' in err.value.fix and "data.path=FILE.csv" in err.value.fix
    recipe = load_recipe("tag_tiny", ["data.word_column=2", "data.word_column=0"])
    assert recipe.data.word_column == 0


def test_auto_follows_the_kind_of_path(tmp_path):
    folder = tmp_path / "topics"
    (folder / "a").mkdir(parents=True)
    recipe = load_recipe("classify_tiny", ["data.source=auto", f"data.path={folder}"])
    assert recipe.data.chosen_source() == "folder"
    with pytest.raises(SeqtkError, match="data.text_column"):
        load_recipe("classify_tiny", ["data.source=auto", f"data.path={folder}", "data.text_column=body"])
    table = tmp_path / "t.csv"
    assert load_recipe("classify_tiny", ["data.source=auto", f"data.path={table}", "data.text_column=body"])


def test_a_checkpoints_recipe_is_not_checked_again():
    """A run from before the check may hold an ignored key; its checkpoint must still load for eval and predict."""
    recipe = load_recipe("classify_tiny")
    raw = replace(recipe, data=replace(recipe.data, path="gone.jsonl")).to_dict()
    task_cls = registry.get_task("classify")
    with pytest.raises(SeqtkError, match="silently ignored"):
        resolve(raw, "classify_tiny", task_cls)
    assert resolve(raw, "classify_tiny", task_cls, stored=True).data.path == "gone.jsonl"


def test_a_task_that_declares_no_sources_is_not_checked(toy_task):
    data = toy_task.ToySumTask.data_config(path="anything")
    assert data.chosen_source() is None
    check_source_keys(data, ["path"])


def test_the_written_config_toml_of_a_run_loads_again(tmp_path):
    """config.toml holds every key, defaults included: only values that differ from the default count."""
    from seqtk.config.recipe_io import read_toml, to_toml

    recipe = load_recipe("seq2seq_tiny")
    path = tmp_path / "config.toml"
    path.write_text(to_toml(recipe.to_dict()), encoding="utf-8")
    again = resolve(read_toml(path), "config", registry.get_task("seq2seq"))
    assert again.data == recipe.data



def test_a_runs_config_toml_reads_back_after_an_override_chose_another_source(tmp_path):
    """`seqtk run RUN/config.toml --resume RUN` (what the error for a checkpoint given as a recipe suggests) must
    accept what the run wrote: textgen_shakespeare's data.corpus = "plays" was written beside the override's
    data.path, and read back as a file it was refused as a key the source ignores."""
    from seqtk.config.recipe_io import to_toml

    text = tmp_path / "my.txt"
    recipe = load_recipe("textgen_shakespeare", [f"data.path={text}"])
    assert recipe.data.corpus == "tiny"  # written back as what the run read: the corpus is not read
    config = tmp_path / "config.toml"
    config.write_text(to_toml(recipe.to_dict()), encoding="utf-8")
    assert load_recipe(str(config)).data == recipe.data


def test_seqtk_inspect_accepts_the_overrides_seqtk_run_accepts(tmp_path):
    from seqtk.cli.inspect_cmd import cell_recipe

    recipe = cell_recipe("textgen_shakespeare", [f"data.path={tmp_path / 'my.txt'}"], "gru", 5)
    assert recipe.data.chosen_source() == "path" and recipe.train.max_steps == 5
