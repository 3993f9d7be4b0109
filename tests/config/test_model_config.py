"""seqtk.config.model_config: the core's [model] sections (a recurrent stack, a language model), checked in one place."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from seqtk.cli.main import main
from seqtk.config.model_config import CharLMConfig, StackConfig
from seqtk.errors import SeqtkError
from seqtk.nn.layers import LayerSpec
from seqtk.nn.lm import CharLM, uniform_layers

RECIPES = Path(__file__).resolve().parents[2] / "recipes"


def test_the_shorthand_and_the_layer_tables_build_the_same_stack():
    assert StackConfig(cell="gru", num_layers=2, hidden_size=8, dropout=0.1).stack() == [LayerSpec("gru", 8, dropout=0.1)] * 2
    tables = StackConfig(layers=[LayerSpec("gru", 8, dropout=0.1)] * 2)
    assert tables.stack() == StackConfig(cell="gru", num_layers=2, hidden_size=8, dropout=0.1).stack()
    # a language model's last layer leaves its dropout to CharLM, which drops the head's input once
    assert CharLMConfig(num_layers=3, hidden_size=16, dropout=0.2).stack() == uniform_layers("lstm", 16, 3, 0.2)


def test_a_language_model_config_builds_its_model():
    lm = CharLMConfig(cell="gru", num_layers=1, hidden_size=12, embedding_dim=12, tie_weights=True).build(30, pad_id=0)
    assert isinstance(lm, CharLM) and lm.tied and lm.head.out_features == 30



def test_the_awd_keys_reach_the_language_model_and_are_off_by_default():
    from seqtk.nn.lm import AdaptiveHead, ProjectedHead

    plain = CharLMConfig(num_layers=1, hidden_size=12).build(30)
    assert (plain.embedding_dropout, plain.ar_alpha, plain.tar_beta) == (0.0, 0.0, 0.0)
    assert isinstance(plain.head, torch.nn.Linear)
    config = CharLMConfig(num_layers=1, hidden_size=12, embedding_dim=8, tie_weights=True, tie_projection=True,
                          embedding_dropout=0.1, ar_alpha=2.0, tar_beta=1.0)  # fmt: skip
    config.check()
    lm = config.build(30)
    assert isinstance(lm.head, ProjectedHead) and lm.tied
    assert (lm.embedding_dropout, lm.ar_alpha, lm.tar_beta) == (0.1, 2.0, 1.0)
    adaptive = CharLMConfig(num_layers=1, hidden_size=16, adaptive_cutoffs=[10, 20])
    adaptive.check()
    assert isinstance(adaptive.build(30).head, AdaptiveHead)
    tails = [[down.out_features for down, _ in config.build(30).head.softmax.tail]
             for config in (adaptive, CharLMConfig(num_layers=1, hidden_size=16, adaptive_cutoffs=[10, 20],
                                                   adaptive_div_value=1.0))]  # fmt: skip
    assert tails == [[4, 1], [16, 16]]  # each cluster divided by 4 by default; by 1, the full size
    small = CharLMConfig(num_layers=1, hidden_size=16, tie_weights=True, embedding_dim=16, embedding_init_range=0.05)
    small.check()
    weight = small.build(30, pad_id=0).embedding.weight
    assert 0 < weight[1:].abs().max() <= 0.05 and not weight[0].any()  # and so the tied softmax starts near uniform


@pytest.mark.parametrize(("config", "message"), [
    (StackConfig(num_layers=0), "model.num_layers must be at least 1"),
    (StackConfig(dropout=1.0), "model.dropout must be in \\[0, 1\\)"),
    (StackConfig(layers=[LayerSpec("gru", 8)], hidden_size=32),
     "model.layers lists the layers one by one, so model.hidden_size = 32 would be ignored.*Fix: set hidden_size in each"),
    (StackConfig(layers=[LayerSpec("gru", 8, return_sequences=False), LayerSpec("gru", 8)]),
     "model.layers: layer 2 \\(gru, 8\\) follows layer 1"),
    (CharLMConfig(layers=[LayerSpec("gru", 8, bidirectional=True)]),
     "model.layers: layer 1 \\(gru, 8, bidirectional\\) has bidirectional=true, but a language model"),
    (CharLMConfig(hidden_size=32, embedding_dim=16, tie_weights=True),
     "model.tie_weights needs embedding_dim = the last layer's hidden_size, but they are 16 and 32"),
    (CharLMConfig(embedding_dropout=1.0), "model.embedding_dropout must be in \\[0, 1\\)"),
    (CharLMConfig(ar_alpha=-1.0), "model.ar_alpha must be at least 0"),
    (CharLMConfig(adaptive_cutoffs=[20, 10]), "model.adaptive_cutoffs = \\[20, 10\\] must be positive"),
    (CharLMConfig(adaptive_cutoffs=[10], adaptive_div_value=0.5), "model.adaptive_div_value must be at least 1"),
    (CharLMConfig(hidden_size=12, adaptive_cutoffs=[6, 12]),
     "model.adaptive_cutoffs = \\[6, 12\\] with model.adaptive_div_value = 4 leaves cluster 2 no dimensions"),
    (CharLMConfig(embedding_init_range=-0.1), "model.embedding_init_range must be at least 0"),
    (CharLMConfig(embedding_init_range=float("inf")), "model.embedding_init_range must be a finite number"),
    (CharLMConfig(hidden_size=16, embedding_dim=16, tie_weights=True, adaptive_cutoffs=[10]),
     "cannot go with model.tie_weights"),
])
def test_a_stack_that_cannot_be_built_is_named_with_its_key(config, message):
    with pytest.raises(SeqtkError, match=message):
        config.check()


@pytest.mark.parametrize(("recipe", "override", "message"), [
    ("textgen_tiny", "model.num_layers=0", "model.num_layers must be at least 1"),
    ("textgen_tiny", 'model.layers=[{cell="gru", hidden_size=8}]',  # the recipe sets hidden_size too
     "model.layers lists the layers one by one, so model.hidden_size = 64 would be ignored"),
    ("music_tiny", "model.cell=lstn", "unknown cell 'lstn'"),
    ("forecast_co2", "model.layers=[{cell=\"gru\", hidden_size=8}]", None),
    ("toy_many_to_one", "model.dropout=1.5", "model.dropout must be in \\[0, 1\\)"),
])
def test_validate_checks_every_tasks_stack_before_any_data(recipe, override, message, capsys):
    code = main(["recipes", "validate", str(RECIPES / f"{recipe}.toml"), override])
    err = capsys.readouterr().err
    if message is None:
        assert code == 0, err
    else:
        import re

        assert code == 1 and re.search(message, err), err


def test_a_uniform_stack_task_trains_on_layer_tables(tmp_path, capsys):
    layers = 'model.layers=[{cell="gru", hidden_size=8}, {cell="ref_lstm", hidden_size=6, nonlinearity="relu"}]'
    assert main(["run", str(RECIPES / "toy_tiny.toml"), layers, "train.max_steps=3", "train.eval_every=3",
                 "log.tensorboard=false", "--out", str(tmp_path / "run")]) == 0
    assert main(["summary", str(RECIPES / "toy_tiny.toml"), layers]) == 0
    out = capsys.readouterr().out
    assert "ref_lstm" in out and "gru" in out
