"""Bad input gets one clear paragraph, a non-zero exit code and no traceback."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import torch

from seqtk.cli.main import main
from seqtk.tasks import registry

RECIPES = Path(__file__).resolve().parent.parent.parent / "recipes"

STACK_TASK = textwrap.dedent(
    '''
    from dataclasses import dataclass
    from seqtk.config.schema import ModelConfig, hfield
    from seqtk.nn.encoders import LayerSpec, check_stack
    from seqtk.tasks.task import Task

    @dataclass(frozen=True)
    class StackModel(ModelConfig):
        layers: tuple[LayerSpec, ...] = hfield((LayerSpec(),), help="layers")

    class StackTask(Task):
        name = "stack_demo"
        model_config = StackModel

        @classmethod
        def validate(cls, recipe):
            check_stack(recipe.model.layers)

        def prepare(self):
            raise AssertionError("validation must fail before any data is loaded")
    '''
)

BAD_STACK = textwrap.dedent(
    """\
    # seqtk run bad.toml
    [task]
    name = "stack_demo"

    [[model.layers]]
    cell = "gru"
    hidden_size = 64
    return_sequences = false

    [[model.layers]]
    cell = "gru"
    hidden_size = 64
    """
)


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_paragraph(err: str) -> None:
    assert "Traceback" not in err
    assert err.strip().count("\n\n") == 0
    assert "Fix:" in err


@pytest.fixture
def stack_plugin(tmp_path, monkeypatch):
    folder = tmp_path / "plugins"
    folder.mkdir()
    (folder / "stack_demo.py").write_text(STACK_TASK)
    monkeypatch.setenv(registry.ENV_PLUGIN_DIR, str(folder))
    registry.reset()
    yield
    registry.reset()


def test_stacking_error_at_validation(capsys, tmp_path, stack_plugin):
    recipe = tmp_path / "bad.toml"
    recipe.write_text(BAD_STACK)
    code, _, err = run_cli(capsys, "run", str(recipe), "--out", str(tmp_path / "run"))
    assert code == 1
    assert_one_paragraph(err)
    assert "layer 1" in err and "layer 2" in err and "return_sequences" in err
    assert not (tmp_path / "run").exists()


def test_unknown_override_key(capsys, tmp_path):
    code, _, err = run_cli(capsys, "recipes", "show", "textgen_tiny", "train.max_step=3")
    assert code == 1
    assert_one_paragraph(err)
    assert "train.max_step" in err and "Did you mean 'train.max_steps'?" in err


def test_unknown_task_suggests(capsys, tmp_path):
    recipe = tmp_path / "r.toml"
    recipe.write_text('[task]\nname = "textgne"\n')
    code, out, err = run_cli(capsys, "recipes", "validate", str(recipe))
    assert code == 1 and "Did you mean 'textgen'?" in err and "Traceback" not in out + err  # one recipe: its own error
    other = tmp_path / "other.toml"
    other.write_text('[task]\nname = "textgen"\n')
    code, out, err = run_cli(capsys, "recipes", "validate", str(recipe), str(other))
    assert code == 1 and "Did you mean 'textgen'?" in " ".join(out.split()) and "ok" in out
    assert "1 of 2 recipes are invalid" in err


def test_malformed_toml(capsys, tmp_path):
    recipe = tmp_path / "broken.toml"
    recipe.write_text('[task]\nname = "textgen"\n[train\nlr = 1\n')
    code, _, err = run_cli(capsys, "run", str(recipe))
    assert code == 1
    assert_one_paragraph(err)
    assert "not valid TOML" in err and "line 3" in err


def test_missing_data_file(capsys, tmp_path):
    missing = tmp_path / "nope.txt"
    code, _, err = run_cli(capsys, "run", "textgen_tiny", f"data.path={missing}", "--out", str(tmp_path / "run"))
    assert code == 1
    assert_one_paragraph(err)
    assert str(missing) in err and "does not exist" in err


def test_truncated_checkpoint(capsys, tmp_path):
    good = tmp_path / "good.pt"
    torch.save({"format": "seqtk-checkpoint", "weights": torch.zeros(1000)}, good)
    cut = tmp_path / "cut.pt"
    cut.write_bytes(good.read_bytes()[:300])
    code, _, err = run_cli(capsys, "eval", str(cut))
    assert code == 1
    assert_one_paragraph(err)
    assert "truncated or corrupt" in err and str(cut) in err


def test_missing_checkpoint(capsys, tmp_path):
    code, _, err = run_cli(capsys, "generate", str(tmp_path / "none.pt"))
    assert code == 1 and "does not exist" in err and "Traceback" not in err


def test_predict_without_input(capsys, tmp_path):
    code, _, err = run_cli(capsys, "predict", str(tmp_path / "x.pt"))
    assert code == 1 and "no input" in err


def test_usage_error_exits_non_zero(capsys):
    assert main(["run"]) == 2
    assert "Missing argument" in capsys.readouterr().err


def test_debug_shows_traceback(tmp_path):
    with pytest.raises(Exception, match="does not exist"):
        main(["--debug", "run", str(tmp_path / "none.toml")])


def test_every_command_has_help(capsys):
    for cmd in (["run"], ["eval"], ["generate"], ["predict"], ["tasks"], ["summary"], ["recipes", "list"], ["recipes", "show"], ["recipes", "validate"]):
        assert main([*cmd, "--help"]) == 0
        out = capsys.readouterr().out
        assert "Usage:" in out and len(out) > 200


def test_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("seqtk ")


def test_ctrl_c_exits_130_with_a_note(capsys, monkeypatch):
    # typer turns KeyboardInterrupt into Exit(130) and click returns it outside standalone mode:
    # `seqtk run ... && next-step` must not take an interrupted run for a finished one
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("seqtk.training.train.run_training", interrupted)
    code, _, err = run_cli(capsys, "run", "textgen_tiny")
    assert code == 130 and "Interrupted" in err


def test_a_mistyped_resume_path_and_a_negative_max_batches_are_named(capsys, tmp_path):
    code, _, err = run_cli(capsys, "run", "textgen_tiny", "--resume", str(tmp_path / "runs" / "typo"))
    assert code == 1 and "the run to resume" in err and "does not exist" in err
    code, _, err = run_cli(capsys, "eval", str(tmp_path / "x.pt"), "--max-batches", "-1")
    assert code == 1 and "--max-batches must be 0 (all) or more" in err


@pytest.mark.parametrize("override, words", [("train.lr=nan", "train.lr must be a finite number, not nan"),
                                             ("train.warmup_steps=-1", "train.warmup_steps must be at least 0")])
def test_validate_and_run_refuse_impossible_values_alike_before_any_data(override, words, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("SEQTK_DATA_DIR", str(tmp_path / "data"))
    recipe = str(RECIPES / "textgen_tiny.toml")
    assert main(["recipes", "validate", recipe, override]) == 1
    err = capsys.readouterr().err
    assert words in err and "textgen_tiny.toml" in err and "Fix:" in err and len(err.strip().splitlines()) == 1
    assert main(["run", recipe, override, "--out", str(tmp_path / "run")]) == 1
    assert words in capsys.readouterr().err
    assert not (tmp_path / "data").exists() and not (tmp_path / "run").exists()  # nothing read, nothing written


def test_validate_takes_overrides_and_bundled_names(capsys):
    assert main(["recipes", "validate", "textgen_tiny", "train.lr=0.01"]) == 0
    assert "ok      textgen_tiny train.lr=0.01" in capsys.readouterr().out


def _full_disk(path):
    import errno

    return OSError(errno.ENOSPC, "No space left on device", str(path))


@pytest.mark.parametrize("where", ["config", "metrics", "checkpoint"])
def test_a_full_disk_is_one_paragraph_and_keeps_what_was_written(capsys, tmp_path, monkeypatch, where):
    import seqtk.runtime.loggers
    import seqtk.training.session as session_module
    from seqtk.inference import checkpoint as checkpoint_module

    run = tmp_path / "run"
    args = ["run", "textgen_tiny", "train.max_steps=4", "train.eval_every=2", "log.every=1", "log.tensorboard=false",
            "log.progress=false", "--out", str(run)]
    if where == "config":
        def fail(run_dir, *a, **k):
            raise _full_disk(run_dir / "config.toml")
        monkeypatch.setattr(session_module, "write_config", fail)
    elif where == "metrics":
        real = seqtk.runtime.loggers.JsonlLogger._write
        def fail(handle, record):  # the third scalar line finds the disk full
            if record.get("step", 0) >= 3:
                raise _full_disk(run / "metrics.jsonl")
            real(handle, record)
        monkeypatch.setattr(seqtk.runtime.loggers.JsonlLogger, "_write", staticmethod(fail))
    else:
        real_save = checkpoint_module.save_checkpoint
        def fail(path, payload):  # the second checkpoint (step 4) finds the disk full
            if payload["step"] >= 4:
                raise _full_disk(path)
            real_save(path, payload)
        monkeypatch.setattr(session_module, "save_checkpoint", fail)
    assert main(args) == 1
    err = " ".join(capsys.readouterr().err.split())
    assert "error: no space is left on the device at" in err and "Traceback" not in err
    assert "checkpoints already written are intact" in err and "Fix: free some space" in err
    if where == "checkpoint":
        from seqtk.inference.checkpoint import load_checkpoint

        assert load_checkpoint(run / "checkpoints" / "last.pt")["step"] == 2  # the earlier checkpoint is whole
