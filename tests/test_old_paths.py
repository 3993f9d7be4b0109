"""Every module path from before the areas became folders still imports, as the module that now holds it.

Third-party plugins import ``seqtk.vocab``, ``seqtk.config``, ``seqtk.encoders``, ... as docs/plugins.md
showed them until the layered core (issue 30). Each old path is the new module itself (not a copy), so a
plugin that patches or subclasses through it changes what seqtk uses. The fixture ``toy_task.py`` keeps the
old imports on purpose (the trainer tests train, resume and predict with it), and docs/plugins.md's intent
classifier is run here as last week's docs printed it.
"""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"

#: old path -> the module that holds the code now
MOVED = {
    "device": "runtime.device", "files": "runtime.files", "utf8": "runtime.utf8", "cpu_load": "runtime.cpu_load",
    "loggers": "runtime.loggers", "plots": "runtime.plots", "summary": "runtime.summary",
    "lm_batches": "data.lm_batches", "tables": "data.tables", "folders": "data.folders", "fetch": "data.fetch",
    "archives": "data.archives", "split_record": "data.split_record",
    "vocab": "text.vocab", "vocab_io": "text.vocab_io", "tokenize": "text.tokenize", "vectors": "text.vectors",
    "vector_sets": "text.vector_sets", "edit_distance": "text.edit_distance",
    "cells": "nn.cells", "recurrent_cell": "nn.recurrent_cell", "cell_kinds": "nn.cell_kinds",
    "cell_weights": "nn.cell_weights", "ln_lstm": "nn.ln_lstm", "projected_lstm": "nn.projected_lstm",
    "min_rnn": "nn.min_rnn", "xlstm": "nn.xlstm", "fast_rnn": "nn.fast_rnn", "awd": "nn.awd", "layers": "nn.layers",
    "ragged": "nn.ragged", "encoders": "nn.encoders", "embedding": "nn.embedding", "attention": "nn.attention",
    "crf": "nn.crf", "lm": "nn.lm", "decoding": "nn.decoding", "traceable": "nn.traceable",
    "checks": "config.checks", "recipe_io": "config.recipe_io", "recipes_doc": "config.recipes_doc",
    "source_keys": "config.source_keys", "model_config": "config.model_config",
    "task": "tasks.task", "step": "tasks.step", "learned": "tasks.learned", "lifecycle": "tasks.lifecycle",
    "evaluation": "tasks.evaluation", "registry": "tasks.registry", "contract": "tasks.contract",
    "predictor": "inference.predictor", "export": "inference.export", "hub": "inference.hub",
    "doctor": "cli.doctor",
}
#: old paths that became a face handing on the old module's names (it was split, or its name is an area now)
FACES = {
    "config": ["DataConfig", "VocabConfig", "ModelConfig", "TrainConfig", "LogConfig", "Recipe", "hfield",
               "resolve", "build", "check_recipe", "task_name", "describe_fields", "SECTIONS"],
    "data": ["ResumableLoader", "epoch_generator", "shuffled_batches", "sequential_batches", "bucketed_batches",
             "shard_batch", "move_to", "check_fills_a_batch", "check_held_out"],
    "training.checkpoint": ["save_checkpoint", "load_checkpoint", "load_for_inference", "Loaded", "FORMAT",
                            "VERSION", "require", "describe", "load_weights", "recipe_changes"],
    "encoder_decoder": ["EncoderDecoder", "EncoderDecoderConfig", "DecoderState"],
    "recipes": ["load_recipe", "locate", "bundled_recipes", "recipe_dirs", "first_line"],
}


@pytest.mark.parametrize(("old", "new"), sorted(MOVED.items()))
def test_an_old_path_is_the_module_that_now_holds_its_code(old, new):
    assert importlib.import_module(f"seqtk.{old}") is importlib.import_module(f"seqtk.{new}")
    module = importlib.import_module("seqtk")
    assert getattr(module, old) is importlib.import_module(f"seqtk.{new}")  # `from seqtk import vocab` too


@pytest.mark.parametrize(("old", "names"), sorted(FACES.items()))
def test_a_split_old_path_still_offers_its_names(old, names):
    module = importlib.import_module(f"seqtk.{old}")
    missing = [n for n in names if not hasattr(module, n)]
    assert not missing, f"seqtk.{old} lost {missing}"


def test_the_old_path_folder_holds_these_and_nothing_else():
    """seqtk/_compat has one file per old path listed above, less the faces that stand where their area's
    folder is: together the 58 modules seqtk/ held directly before the move (all but __init__, __main__, errors
    and testing), so none is forgotten and none is stray."""
    held = {p.stem for p in (ROOT / "seqtk" / "_compat").glob("*.py") if p.stem != "__init__"}
    assert held == set(MOVED) | {"encoder_decoder", "recipes"}
    assert len(set(MOVED) | set(FACES) - {"training.checkpoint"}) == 58


def test_the_docs_and_old_plugins_import_lines_resolve_in_a_fresh_process():
    """Each `from seqtk.X import Y` line of the fixtures written against the old docs, and the root's
    public names, in an interpreter that has imported nothing of seqtk's before."""
    lines = {"from seqtk import Vocab, Embedding, StackedEncoder, CharLM, LayerSpec, Task, SeqtkError, load"}
    for path in [*FIXTURES.glob("*.py"), *FIXTURES.rglob("plugin_pkg/**/*.py")]:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        lines |= {ast.unparse(n) for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)
                  and (n.module or "").startswith("seqtk")}
    assert any("from seqtk.task import" in line for line in lines)  # the fixtures do use the old paths
    done = subprocess.run([sys.executable, "-c", "\n".join(sorted(lines))], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]


def test_importing_seqtk_stays_light():
    """The old paths cost nothing until used: `import seqtk` imports no torch and no area."""
    code = "import sys, seqtk; print(sorted(m for m in sys.modules if m.startswith(('seqtk.', 'torch'))))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "['seqtk.version']", done.stdout + done.stderr


def last_weeks_plugin(folder: Path) -> Path:
    """docs/plugins.md's word-level intent classifier (tests/fixtures/intent_task.py) as last week's docs
    printed it: the same code with the import lines of before the move."""
    new_to_old = {f"seqtk.{new}": f"seqtk.{old}" for old, new in MOVED.items()}
    new_to_old |= {"seqtk.config.schema": "seqtk.config", "seqtk.data.batches": "seqtk.data"}
    lines = []
    for line in (FIXTURES / "intent_task.py").read_text(encoding="utf-8").splitlines():
        if line.startswith("from seqtk."):
            module = line.split()[1]
            line = line.replace(module, new_to_old.get(module, module), 1)
        lines.append(line)
    plugin = folder / "old_intent.py"
    plugin.write_text("\n".join(lines).replace('name = "intent"', 'name = "old_intent"') + "\n", encoding="utf-8")
    return plugin


def test_a_plugin_written_against_last_weeks_docs_trains_evaluates_and_predicts(tmp_path, monkeypatch, capsys):
    from seqtk.cli.main import main
    from seqtk.tasks import registry

    plugins = tmp_path / "plugins"
    plugins.mkdir()
    source = last_weeks_plugin(plugins).read_text(encoding="utf-8")
    assert "from seqtk.vocab import PAD, Vocab" in source and "from seqtk.config import" in source
    rows = [f"{'val' if i % 4 == 0 else 'train'}\t{words} {i % 3}\t{label}" for i in range(48)
            for label, words in (("time", "what time is it"), ("rain", "will it rain today"))]
    (tmp_path / "intents.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    (tmp_path / "intent.toml").write_text(
        f'[task]\nname = "old_intent"\n[data]\npath = "{tmp_path / "intents.tsv"}"\n'
        '[train]\nmax_steps = 30\nbatch_size = 16\neval_every = 30\nlr = 0.01\ndevice = "cpu"\n'
        '[log]\ntensorboard = false\nprogress = false\n', encoding="utf-8")
    monkeypatch.setenv(registry.ENV_DISABLE, "1")
    registry.reset()
    try:
        flags = ["--plugin-dir", str(plugins)]
        assert main([*flags, "run", str(tmp_path / "intent.toml"), "--out", str(tmp_path / "run")]) == 0
        checkpoint = str(tmp_path / "run" / "checkpoints" / "last.pt")
        assert main([*flags, "eval", checkpoint, "--json"]) == 0
        assert main([*flags, "predict", checkpoint, "what time is it", "--json"]) == 0
    finally:
        registry.reset()
    out = capsys.readouterr().out
    assert '"accuracy"' in out and '"label"' in out


def test_a_checkpoint_from_before_the_move_restores_its_learned_state():
    """A checkpoint names the class of each learned object by its module path; those written before the move
    say ``seqtk.vocab:Vocab``, which must still build the vocabulary."""
    from seqtk.tasks import learned
    from seqtk.tasks.loading import load_recipe
    from seqtk.text.vocab import Vocab
    from seqtk_plugins.textgen.task import TextGenTask

    task = TextGenTask(load_recipe("textgen_tiny"))
    vocab = Vocab.build(list("hello world"), specials=("<pad>",))
    learned.restore(task, {"vocab": {"object": "seqtk.vocab:Vocab", "data": vocab.to_dict()}})
    assert isinstance(task.vocab, Vocab) and task.vocab.to_dict() == vocab.to_dict()
