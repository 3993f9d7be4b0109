"""classify's [model]: the core's stack config, shorthand or layer tables, checked once; checkpoints with the
old keys still load."""

from __future__ import annotations

import pytest
import torch

from seqtk.cli.main import main
from seqtk.config.conversion import resolve
from seqtk_plugins.classify.task import ClassifyTask
from test_classify_task import prepared, recipe, trained, write_csv  # noqa: F401 (trained: a fixture)


def _same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.mark.parametrize("pooling", ["last", "mean"])
def test_the_shorthand_builds_the_model_the_layer_tables_build(tmp_path, pooling):
    """cell/num_layers/hidden_size/bidirectional as in tag, toys and forecast; the last layer follows pooling."""
    csv = write_csv(tmp_path / "q.csv")
    table = {"cell": "lstm", "hidden_size": 8, "bidirectional": False}
    tables = {"embedding_dim": 16, "pooling": pooling, "dropout": 0.2,
              "layers": [{**table, "dropout": 0.2}, {**table, "return_sequences": pooling != "last"}]}
    shorthand = {"embedding_dim": 16, "pooling": pooling, "dropout": 0.2, "layers": [], "cell": "lstm",
                 "num_layers": 2, "hidden_size": 8, "bidirectional": False}
    task, from_tables = prepared(recipe(csv, model=tables))
    assert task.recipe.model.stack() == prepared(recipe(csv, model=shorthand))[0].recipe.model.stack()
    assert _same_weights(from_tables, prepared(recipe(csv, model=shorthand))[1])


def test_the_default_model_is_the_old_default_stack():
    from seqtk.nn.layers import LayerSpec
    from seqtk_plugins.classify.config import ClassifyModel

    assert ClassifyModel().stack() == [LayerSpec("gru", 64, bidirectional=True, return_sequences=True)]


def test_the_stack_is_checked_once(tmp_path, monkeypatch):
    import seqtk.config.model_config as model_config
    import seqtk.nn.layers as layers

    calls = []

    def counting(specs, real=layers.check_stack):
        calls.append(len(specs))
        return real(specs)

    monkeypatch.setattr(layers, "check_stack", counting)
    monkeypatch.setattr(model_config, "check_stack", counting)
    resolve(recipe(tmp_path / "q.csv"), "classify_test", ClassifyTask)
    assert calls == [1]


def test_a_checkpoint_with_the_old_model_keys_still_predicts_and_evaluates(trained, tmp_path, capsys):
    """Checkpoints written before [model] was the core's stack hold layers (LayerSpec tables without init) and
    the classifier's own keys only; they load for predict and eval and give the same answers."""
    import dataclasses

    from seqtk.inference.checkpoint import load_checkpoint, save_checkpoint
    from seqtk.nn.layers import LayerSpec

    ckpt, _ = trained
    payload = load_checkpoint(ckpt)
    model = payload["recipe"]["model"]
    old_layer = {k: v for k, v in dataclasses.asdict(LayerSpec("gru", 64, bidirectional=True)).items() if k != "init"}
    payload["recipe"]["model"] = {"layers": [old_layer], **{k: model[k] for k in (
        "embedding_dim", "pooling", "dropout", "word_dropout", "pretrained_vectors", "freeze_embeddings")}}
    save_checkpoint(tmp_path / "old.pt", payload)
    texts = ["what time is it now", "will it rain today"]
    answers = []
    for path in (ckpt, tmp_path / "old.pt"):
        capsys.readouterr()
        assert main(["predict", str(path), *texts, "--json", "--device", "cpu"]) == 0
        assert main(["eval", str(path), "--json", "--device", "cpu"]) == 0
        answers.append(capsys.readouterr().out)
    assert answers[0] == answers[1] and '"accuracy"' in answers[1]
