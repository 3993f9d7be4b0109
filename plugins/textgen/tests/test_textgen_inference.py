"""A trained char LM used as users use it: many prompts in one batch, and int8 weights, through seqtk.load
and the CLI (seqtk generate --prompts-file, --int8 on generate, predict and eval)."""

from __future__ import annotations

import io
import json
import math
from types import SimpleNamespace

import pytest
import torch
from torch import nn

import seqtk
from seqtk.cli.main import main
from seqtk.errors import SeqtkError
from seqtk.inference.predictor import Predictor
from seqtk_plugins.textgen.tests.test_textgen_task import PANGRAM, make_recipe

pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    from rich.console import Console

    from seqtk.training.train import run_training

    folder = tmp_path_factory.mktemp("textgen_inference")
    path = folder / "text.txt"
    path.write_text(PANGRAM * 40, encoding="utf-8")
    recipe = make_recipe(path, data={"batching": "stream"}, train={"max_steps": 30, "eval_every": 30, "lr": 0.01})
    result = run_training(recipe, out=folder / "run", console=Console(file=io.StringIO()))
    return result.run_dir / "checkpoints" / "last.pt"


def test_a_list_of_prompts_samples_in_one_batch_one_text_each(checkpoint):
    p = seqtk.load(checkpoint, device="cpu")
    prompts = ["the quick ", "a", "over the lazy "]
    texts = p.generate(prompts, 30, seed=4)
    assert [t[: len(q)] for t, q in zip(texts, prompts)] == prompts
    assert texts == p.generate(prompts, 30, seed=4)
    greedy = p.generate(prompts, 30, temperature=0)
    assert all(len(t) == len(q) + 30 for t, q in zip(greedy, prompts))
    assert greedy == [p.generate(q, 30, temperature=0) for q in prompts]  # each row as if alone
    with pytest.raises(SeqtkError, match="n=2 was asked for"):
        p.generate(prompts, 10, n=2)
    with pytest.raises(SeqtkError, match="a non-empty list of strings"):
        p.generate([], 10)


def test_int8_weights_score_and_generate_close_to_float32(checkpoint):
    full = seqtk.load(checkpoint, device="cpu")
    quant = seqtk.load(checkpoint, device="cpu", quantize="int8")
    assert quant.model.decoding.quantize == "int8"
    exact, approx = full.evaluate()["loss"], quant.evaluate()["loss"]
    assert quant.model.last_route.quantize == "int8"  # the metric came from the int8 step
    assert math.isfinite(approx) and abs(approx - exact) < 0.02
    nats = [p.predict(["the lazy dog jumps over the quick fox"])[0]["nats_per_char"] for p in (full, quant)]
    assert abs(nats[0] - nats[1]) < 0.05
    text = quant.generate("the ", 40, temperature=0)
    assert len(text) == 44 and quant.model.last_route.name == "onnx"
    assert quant.quantize(None).model.decoding.quantize is None  # back to float32


def test_quantize_refuses_a_task_with_neither_a_language_model_nor_an_export():
    from seqtk.tasks.task import Task

    class Plain(Task):
        name = "plain"

    fake = Predictor.__new__(Predictor)
    fake._loaded = SimpleNamespace(task=Plain.__new__(Plain), model=nn.Linear(2, 2), device=torch.device("cpu"))
    fake._float_model = None
    with pytest.raises(SeqtkError, match="int8 weights are not available for task 'plain'.*Fix: load it without"):
        fake.quantize("int8")


def test_cli_prompts_file_prints_one_json_line_per_prompt(checkpoint, tmp_path, capsys):
    plain = tmp_path / "prompts.txt"
    plain.write_text("the quick \na\n", encoding="utf-8")
    rows = tmp_path / "prompts.jsonl"
    rows.write_text(json.dumps({"prompt": "the\nquick "}) + "\n" + json.dumps({"prompt": "a"}) + "\n", encoding="utf-8")
    for file, prompts in ((plain, ["the quick ", "a"]), (rows, ["the\nquick ", "a"])):
        assert main(["generate", str(checkpoint), "--prompts-file", str(file), "--length", "12", "--int8"]) == 0
        lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
        assert [line["prompt"] for line in lines] == prompts
        assert all(line["text"].startswith(line["prompt"]) for line in lines)
    assert main(["generate", str(checkpoint), "--prompts-file", str(plain), "--prompt", "x"]) == 1
    assert "--prompts-file gives the prompts" in capsys.readouterr().err
    empty = tmp_path / "empty.txt"
    empty.write_text("\n", encoding="utf-8")
    assert main(["generate", str(checkpoint), "--prompts-file", str(empty)]) == 1
    assert "has no non-empty prompts. Fix: put one prompt per line" in capsys.readouterr().err


def test_cli_eval_and_predict_take_int8(checkpoint, capsys):
    assert main(["eval", str(checkpoint), "--int8", "--json"]) == 0
    assert math.isfinite(json.loads(capsys.readouterr().out)["loss"])
    assert main(["predict", str(checkpoint), "the quick fox", "--int8", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["predictions"][0]["chars"] == 13
    torch.set_num_threads(torch.get_num_threads())  # nothing changed the thread setting


def test_a_bad_prompts_file_is_named_with_generates_own_options(checkpoint, tmp_path, capsys):
    table = tmp_path / "p.csv"
    table.write_text("text\nhello\n", encoding="utf-8")
    utf16 = tmp_path / "p.txt"
    utf16.write_bytes("hello\n".encode("utf-16"))
    cases = [(tmp_path / "missing.txt", "Fix: check the --prompts-file path"),
             (table, "has no column 'prompt'. Columns found: text. Fix: name the column of prompts 'prompt'"),
             (utf16, "generate reads UTF-8")]  # fmt: skip
    for file, said in cases:
        assert main(["generate", str(checkpoint), "--prompts-file", str(file)]) == 1
        err = capsys.readouterr().err
        assert said in err and "--column" not in err and "Traceback" not in err
