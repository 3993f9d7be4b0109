"""seqtk.tasks.lifecycle: restored state comes before prepare(), in every command, and prepare() keeps it.

The case from issue 14: a plugin trains, then its data file changes (a label dropped from the training rows,
new words added). `seqtk eval` and `seqtk predict` must still use the checkpoint's vocabulary and labels and
give the same accuracy; a plugin whose prepare() rebuilds them is stopped with the fix instead of reporting a
wrong accuracy with exit code 0 (it once reported 0.156 for 0.969).
"""

from __future__ import annotations

import importlib.util
import io
import json
import random
import sys
from pathlib import Path

import pytest
from rich.console import Console

from seqtk.cli.main import main
from seqtk.config.conversion import resolve
from seqtk.tasks import registry
from seqtk.training.train import run_training

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "intent_task.py"
INTENTS = {  # made-up questions for a test fixture, not a data set
    "time": ["what time is it", "tell me the time", "the time now please", "what hour is it now"],
    "weather": ["will it rain today", "what is the weather", "is it sunny outside", "weather forecast please"],
    "alarm": ["wake me up at seven", "set an alarm", "alarm for six please", "set my alarm now"],
    "music": ["play some music", "play a song please", "put on my playlist", "play jazz now"],
}


@pytest.fixture
def intent(monkeypatch):
    monkeypatch.setenv(registry.ENV_DISABLE, "1")
    monkeypatch.delenv(registry.ENV_PLUGIN_DIR, raising=False)
    registry.reset()
    name = "seqtk_tests_intent_task"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, FIXTURE)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    module = sys.modules[name]
    registry.default_registry().register(module.IntentTask, str(FIXTURE))
    registry.default_registry().register(rebuilding(module), "test_lifecycle")
    yield module
    registry.reset()


def rebuilding(module):
    """The fixture written the way the docs once suggested ("prepare(): load the data and build the vocabulary")."""
    if not hasattr(module, "IntentTaskRebuilding"):
        from seqtk.text.vocab import PAD, Vocab

        class IntentTaskRebuilding(module.IntentTask):
            name = "intent_rebuilding"

            def prepare(self):
                self.rows = module.read_rows(self.recipe.data.path, self.recipe.data.splits, self.tokenizer)
                self.vocab = Vocab.build([w for w, _ in self.rows["train"]], specials=(PAD,), num_oov_buckets=2)
                self.labels = sorted({label for _, label in self.rows["train"]})

        module.IntentTaskRebuilding = IntentTaskRebuilding
    return module.IntentTaskRebuilding


def write_rows(path: Path, drop_train_label: str | None = None, new_words: bool = False) -> None:
    rng, lines = random.Random(0), []
    for label, phrases in INTENTS.items():
        for i in range(40):
            words = rng.choice(phrases).split() + [rng.choice(["", "hey", "ok", "now"])]
            split = "val" if i % 4 == 0 else "train"
            if split == "train" and label == drop_train_label:
                continue
            lines.append(f"{split}\t{' '.join(w for w in words if w)}\t{label}")
    if new_words:
        lines += [f"train\tzebra quantum {w} banjo\tmusic" for w in ("play", "song", "jazz")]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def train(intent, task_cls, data: Path, out: Path) -> dict:
    raw = {"task": {"name": task_cls.name}, "data": {"path": str(data)},
           "train": {"max_steps": 80, "batch_size": 16, "eval_every": 80, "lr": 0.01, "device": "cpu"},
           "log": {"tensorboard": False, "progress": False, "out_dir": str(out.parent)}}
    result = run_training(resolve(raw, "intent", task_cls), out=out, console=Console(file=io.StringIO()))
    return result.metrics


def cli_json(capsys, *args: str) -> tuple[int, dict | str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, (json.loads(out) if code == 0 else err)


def test_eval_and_predict_keep_the_checkpoints_vocabulary_and_labels_when_the_data_change(intent, tmp_path, capsys):
    data = tmp_path / "intents.tsv"
    write_rows(data)
    trained = train(intent, intent.IntentTask, data, tmp_path / "run")
    assert trained["accuracy"] > 0.5  # learned something: the comparison below means something
    ckpt = str(tmp_path / "run" / "checkpoints" / "last.pt")
    questions = ["what time is it", "play jazz", "zebra quantum banjo"]
    _, before = cli_json(capsys, "predict", ckpt, *questions, "--json")
    write_rows(data, drop_train_label="alarm", new_words=True)  # labels and words learned afresh would differ
    code, evaluated = cli_json(capsys, "eval", ckpt, "--json")
    assert code == 0, evaluated
    assert evaluated["accuracy"] == pytest.approx(trained["accuracy"], abs=1e-12)
    assert evaluated["loss"] == pytest.approx(trained["loss"], rel=1e-6)
    _, after = cli_json(capsys, "predict", ckpt, *questions, "--json")
    assert after == before and {p["label"] for p in after["predictions"]} <= set(INTENTS)


def test_a_prepare_that_rebuilds_restored_state_is_stopped_with_the_fix(intent, tmp_path, capsys):
    data = tmp_path / "intents.tsv"
    write_rows(data)
    train(intent, intent.IntentTaskRebuilding, data, tmp_path / "run")
    ckpt = str(tmp_path / "run" / "checkpoints" / "last.pt")
    assert cli_json(capsys, "eval", ckpt, "--json")[0] == 0  # the same data rebuild the same state: fine
    write_rows(data, drop_train_label="alarm", new_words=True)
    code, err = cli_json(capsys, "eval", ckpt, "--json")
    assert code == 1 and "prepare() replaced self.vocab, self.labels after seqtk restored them" in err
    assert "Fix: in prepare(), build self.vocab, self.labels only while it is None" in err
    # resuming on the changed data is refused the same way, before any step is trained
    raw = {"task": {"name": "intent_rebuilding"}, "data": {"path": str(data)},
           "train": {"max_steps": 90, "batch_size": 16, "eval_every": 80, "device": "cpu"},
           "log": {"tensorboard": False, "progress": False}}
    from seqtk.errors import SeqtkError

    with pytest.raises(SeqtkError, match="prepare\\(\\) replaced self.vocab"):
        run_training(resolve(raw, "intent", intent.IntentTaskRebuilding), resume=tmp_path / "run",
                     console=Console(file=io.StringIO()))


def test_forecast_eval_keeps_the_checkpoints_normalisation(tmp_path, capsys):
    # an in-repo task: forecast refitted its scaler in prepare(), so a changed CSV shifted every prediction
    import math

    csv = tmp_path / "series.csv"
    values = [10 + math.sin(i / 3) + 0.01 * i for i in range(400)]
    csv.write_text("value\n" + "\n".join(f"{v:.5f}" for v in values) + "\n")
    recipe = Path(__file__).resolve().parents[2] / "recipes" / "forecast_tiny.toml"
    out = tmp_path / "run"
    assert main(["run", str(recipe), f"data.path={csv}", "log.tensorboard=false", "--out", str(out)]) == 0
    capsys.readouterr()
    code, first = cli_json(capsys, "eval", str(out / "checkpoints" / "last.pt"), "--json")
    assert code == 0
    values[:40] = [v * 3 for v in values[:40]]  # the start of the training part: its mean and spread change
    csv.write_text("value\n" + "\n".join(f"{v:.5f}" for v in values) + "\n")
    code, second = cli_json(capsys, "eval", str(out / "checkpoints" / "last.pt"), "--json")
    assert code == 0 and second["val_loss"] == pytest.approx(first["val_loss"], rel=1e-9)


def test_docs_plugins_md_shows_the_second_example_verbatim():
    doc = (Path(__file__).resolve().parents[2] / "docs" / "plugins.md").read_text(encoding="utf-8")
    assert f"```python\n{FIXTURE.read_text(encoding='utf-8')}```" in doc, "copy tests/fixtures/intent_task.py into docs/plugins.md"


def test_the_docs_recipe_of_the_second_example_trains(intent, tmp_path, capsys):
    doc = (Path(__file__).resolve().parents[2] / "docs" / "plugins.md").read_text(encoding="utf-8")
    toml = doc.split("Its recipe:\n\n```toml\n", 1)[1].split("```", 1)[0]
    write_rows(tmp_path / "intents.tsv")
    (tmp_path / "intent.toml").write_text(toml.replace("intents.tsv", str(tmp_path / "intents.tsv")))
    assert main(["recipes", "validate", str(tmp_path / "intent.toml")]) == 0
    assert main(["run", str(tmp_path / "intent.toml"), "log.tensorboard=false", "--out", str(tmp_path / "run")]) == 0
    assert "Task state (learned from the training data): vocab (" in capsys.readouterr().out


def test_validate_checks_a_plugins_layer_stack_before_any_data(intent, tmp_path, capsys):
    recipe = tmp_path / "bad.toml"
    recipe.write_text('[task]\nname = "intent"\n\n[data]\npath = "not-read.tsv"\n\n'
                      '[[model.layers]]\ncell = "gru"\nhidden_size = 8\nreturn_sequences = false\n\n'
                      '[[model.layers]]\ncell = "gru"\nhidden_size = 8\n')
    assert main(["recipes", "validate", str(recipe)]) == 1
    err = capsys.readouterr().err
    assert "model.layers: layer 2 (gru, 8) follows layer 1 (gru, 8), which has return_sequences=false" in err
    assert "Fix: set return_sequences=true on layer 1" in err


def test_a_plugin_from_before_learned_is_stopped_when_prepare_changes_its_state_unless_it_opts_out(
    toy_task, tmp_path
):
    # it declares no Task.learned and its prepare() rebuilds what its load_state_dict restored: the command
    # stops with the fix (it once went on with a note and printed a wrong accuracy); rebuilt_by_prepare
    # names state rebuilt on purpose, which is then kept as prepare() made it
    from seqtk.errors import SeqtkError
    from seqtk.tasks import learned
    from seqtk.tasks.lifecycle import ready_task

    class Legacy(toy_task.ToySumTask):
        name = "toy_legacy"
        learned = ()

        def prepare(self):
            super().prepare()
            self.scale = 123.0  # rebuilt unconditionally

    class OnPurpose(Legacy):
        rebuilt_by_prepare = ("scale",)

    recipe = toy_task.make_recipe(tmp_path / "runs", task_cls=Legacy)
    checkpoint = {"task_state": {"scale": 7.5}, "learned": learned.save(Legacy(recipe))}
    with pytest.raises(SeqtkError) as err:
        ready_task(Legacy, recipe, checkpoint)
    assert "prepare() changed the state_dict() 'scale' after seqtk restored it" in err.value.problem
    assert "Task.learned" in err.value.fix and "rebuilt_by_prepare = ('scale',)" in err.value.fix
    assert ready_task(OnPurpose, recipe, checkpoint).scale == 123.0
    assert ready_task(Legacy, recipe, {"task_state": {"scale": 123.0}}).scale == 123.0  # unchanged: no stop


def legacy(module):
    """The fixture as a plugin from before Task.learned: prepare() rebuilds the vocabulary and labels, and its
    own state_dict() saves them (the case of issue 29: seqtk eval printed accuracy 0.25 for 0.95, exit 0)."""
    if not hasattr(module, "IntentTaskLegacy"):
        from seqtk.text.vocab import Vocab

        class IntentTaskLegacy(rebuilding(module)):
            name = "intent_legacy"
            learned = ()

            def state_dict(self):
                return {"vocab": self.vocab.to_dict(), "labels": list(self.labels)}

            def load_state_dict(self, state):
                self.vocab, self.labels = Vocab.from_dict(state["vocab"]), list(state["labels"])

        module.IntentTaskLegacy = IntentTaskLegacy
    return module.IntentTaskLegacy


def test_a_legacy_plugin_whose_prepare_rebuilds_its_labels_gets_no_figure_from_eval_predictor_or_resume(
    intent, tmp_path, capsys
):
    from seqtk.errors import SeqtkError
    import seqtk

    task_cls = legacy(intent)
    registry.default_registry().register(task_cls, "test_lifecycle")
    data = tmp_path / "intents.tsv"
    write_rows(data)
    train(intent, task_cls, data, tmp_path / "run")
    ckpt = str(tmp_path / "run" / "checkpoints" / "last.pt")
    assert cli_json(capsys, "eval", ckpt, "--json")[0] == 0  # the same data rebuild the same state: fine
    write_rows(data, drop_train_label="alarm")
    code = main(["eval", ckpt])
    out, err = capsys.readouterr()
    assert code == 1 and "accuracy" not in out and "Traceback" not in err
    assert "prepare() changed the state_dict() 'labels', 'vocab' after seqtk restored them" in err
    assert "rebuilt_by_prepare" in err
    with pytest.raises(SeqtkError, match="prepare\\(\\) changed the state_dict\\(\\) 'labels'"):
        seqtk.load(ckpt).evaluate()
    raw = {"task": {"name": "intent_legacy"}, "data": {"path": str(data)},
           "train": {"max_steps": 90, "batch_size": 16, "eval_every": 80, "device": "cpu"},
           "log": {"tensorboard": False, "progress": False}}
    with pytest.raises(SeqtkError, match="prepare\\(\\) changed"):
        run_training(resolve(raw, "intent", task_cls), resume=tmp_path / "run", console=Console(file=io.StringIO()))


def test_an_old_plugin_whose_state_dict_needs_data_still_prepares(toy_task, tmp_path):
    from seqtk.tasks.lifecycle import ready_task

    class NeedsData(toy_task.ToySumTask):
        name = "toy_needs_data"
        learned = ()

        def state_dict(self):
            return {"scale": self.scale, "n": len(self.x["train"])}  # KeyError before prepare()

    recipe = toy_task.make_recipe(tmp_path / "runs", task_cls=NeedsData)
    task = ready_task(NeedsData, recipe, {"task_state": {"scale": 2.0, "n": 64}})
    assert task.scale == 2.0 and len(task.x["train"]) == 64


def test_textgen_keeps_the_checkpoints_characters_when_the_text_changes(tmp_path, capsys):
    # an in-repo task with a vocabulary and no guard of its own: learn() is the core's to call, not on eval
    from seqtk.inference.checkpoint import load_checkpoint
    from seqtk.tasks.lifecycle import ready_task
    from seqtk.tasks.loading import load_recipe
    from seqtk.tasks.registry import get_task

    text = tmp_path / "text.txt"
    text.write_text("the quick brown fox jumps over the lazy dog.\n" * 400, encoding="utf-8")
    recipe_path = Path(__file__).resolve().parents[2] / "recipes" / "textgen_tiny.toml"
    out = tmp_path / "run"
    assert main(["run", str(recipe_path), f"data.path={text}", "train.max_steps=4", "train.eval_every=4",
                 "log.tensorboard=false", "--out", str(out)]) == 0
    capsys.readouterr()
    checkpoint = load_checkpoint(out / "checkpoints" / "last.pt")
    # textgen now refuses a changed text through its split record; without one (an older checkpoint) the
    # lifecycle order alone must keep the checkpoint's ids
    assert checkpoint["task_state"].pop("split")["sizes"]["train"] > 0
    text.write_text("ZYXW " + "the quick brown fox jumps over the lazy dog.\n" * 400, encoding="utf-8")
    recipe = load_recipe(str(recipe_path), [f"data.path={text}"])
    task_cls = get_task("textgen")
    task = ready_task(task_cls, recipe, checkpoint)
    fresh = ready_task(task_cls, recipe)
    assert task.vocab.to_dict() == checkpoint["learned"]["vocab"]["data"]  # the checkpoint's ids, kept
    assert len(fresh.vocab) > len(task.vocab)  # the changed text would have learned more characters
    assert all(task.vocab.is_oov(int(i)) for i in task.encode("ZYXW"))


def test_ready_task_sends_data_reports_to_the_console_it_is_given(intent, tmp_path):
    """Under --nproc, every process but rank 0 passes a quiet console, so the data table prints once."""
    from seqtk.tasks.lifecycle import ready_task

    data = tmp_path / "intents.tsv"
    write_rows(data)
    quiet = Console(quiet=True)
    task = ready_task(intent.IntentTask, resolve({"task": {"name": "intent"}, "data": {"path": str(data)}}, "intent",
                                                 intent.IntentTask), console=quiet)
    assert task.console is quiet and task.vocab is not None


def test_a_fresh_run_alone_fetches_and_initialises_and_its_weights_win_everywhere_else(toy_task, tmp_path, capsys):
    """fetch_pretrained before the data and init_model after build_model, on a fresh `seqtk run` only:
    resume, `seqtk eval`, seqtk.load's predict and evaluate load the checkpoint's weights instead."""
    import seqtk
    import torch

    from seqtk.tasks.lifecycle import built_model, ready_task

    events: list[str] = []

    class Initialised(toy_task.ToySumTask):
        name = "toy_initialised"

        def fetch_pretrained(self):
            events.append("fetch_pretrained")

        def prepare(self):
            events.append("prepare")
            super().prepare()

        def build_model(self):
            events.append("build_model")
            return super().build_model()

        def init_model(self, model):
            events.append("init_model")
            with torch.no_grad():
                model.head.bias.fill_(3.0)  # what a fresh run starts from; trained weights replace it later

    registry.default_registry().register(Initialised, "test")
    recipe = toy_task.make_recipe(tmp_path / "runs", task_cls=Initialised)
    assert float(built_model(ready_task(Initialised, recipe, fresh=True), fresh=True).head.bias.detach()) == 3.0
    assert float(built_model(ready_task(Initialised, recipe), fresh=False).head.bias.detach()) != 3.0
    events.clear()
    quiet = Console(file=io.StringIO())
    run_training(toy_task.make_recipe(tmp_path / "runs", task_cls=Initialised, train={"max_steps": 4}),
                 out=tmp_path / "run", console=quiet)
    assert events == ["fetch_pretrained", "prepare", "build_model", "init_model"]
    events.clear()
    run_training(toy_task.make_recipe(tmp_path / "runs", task_cls=Initialised, train={"max_steps": 8}),
                 resume=tmp_path / "run", console=quiet)
    last = tmp_path / "run" / "checkpoints" / "last.pt"
    assert main(["eval", str(last), "--json"]) == 0
    loaded = seqtk.load(last)
    loaded.predict(["0.1,0.2,0.3,0.4,0.5"])
    loaded.evaluate("val")
    assert "fetch_pretrained" not in events and "init_model" not in events and events.count("build_model") == 3
