"""What bucketing and the OOV-bucket vocabulary buy the sentiment task, in ratios measured in one process.

- ``bucketing_vs_padding``: training examples/s (forward, backward, clip, Adam
  step on the ``recipes/sentiment_rt.toml`` model and batch size) with
  ``data.bucketing = true`` divided by ``false`` (every batch padded to the
  longest training text, as Keras' ``pad_sequences``). Goal >= 1.75.
- ``vocab_encode_vs_hf``: tokens/s of ``seqtk.text.vocab.Vocab.encode`` divided by
  an HF ``tokenizers`` WordLevel model holding the same vocabulary, both
  mapping the same pre-tokenized text (the Rotten Tomatoes sentences, words
  outside the vocabulary included) to ids. Goal >= 1.0. A diagnostic line
  compares the whole text -> ids path too (our WordTokenizer + Vocab against
  the HF Tokenizer with the same normalizer and pre-tokenizer).

The data are the Rotten Tomatoes sentences of the default recipe (fetched once
into the seqtk data folder; 2.5 MB). Every timing is the best of a few
interleaved rounds, which filters out other processes' noise. The last line
printed is one JSON object with the two ratios.

Run: ``python bench/sentiment.py [--steps 60] [--rounds 3]`` (under a minute on 2 CPU cores).
"""

from __future__ import annotations

import argparse
import io
import json
import time

import torch
from rich.console import Console
from torch import nn

from seqtk.config.conversion import resolve
from seqtk.config.recipe_io import read_toml
from seqtk.config.recipes import locate
from seqtk_plugins.classify.sentiment import SentimentTask

WARMUP = 5  # untimed steps per round (oneDNN builds kernels for new shapes)


def make_task(bucketing: bool) -> SentimentTask:
    """The sentiment_rt recipe's task, prepared, with bucketing on or off."""
    raw = read_toml(locate("sentiment_rt"))
    raw["data"] = {**raw.get("data", {}), "bucketing": bucketing}
    raw["train"] = {**raw.get("train", {}), "device": "cpu"}
    task = SentimentTask(resolve(raw, "bench_sentiment", SentimentTask))
    task.console = Console(file=io.StringIO())
    task.prepare()
    return task


def train_rate(task: SentimentTask, steps: int) -> float:
    """Examples/s of plain training steps on the task's own batches and model."""
    torch.manual_seed(0)
    model = task.build_model().train()
    opt = torch.optim.Adam(model.parameters(), lr=task.recipe.train.lr)
    batches = iter(task.train_loader())
    start, examples = 0.0, 0
    for step in range(WARMUP + steps):
        if step == WARMUP:
            start, examples = time.perf_counter(), 0
        out = task.step(model, next(batches), train=True)
        opt.zero_grad(set_to_none=True)
        out.loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), task.recipe.train.grad_clip)
        opt.step()
        examples += out.count
    return examples / (time.perf_counter() - start)


def mean_width(task: SentimentTask) -> float:
    """Mean padded length T of an epoch's training batches."""
    loader = task.train_loader()
    return sum(loader.collate(spec).ids.shape[1] for spec in loader.plan(0)) / len(loader.plan(0))


def best_time(fn, rounds: int) -> float:  # noqa: ANN001
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def encode_rates(task: SentimentTask, rounds: int) -> dict[str, float]:
    """Tokens/s: Vocab.encode and HF WordLevel on the same tokens; and both whole text -> ids paths."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers

    vocab = task.vocab
    texts = [t for part in task.texts.values() for t in part.texts]  # val/test hold out-of-vocabulary words
    tokens = task.tokenizer.tokenize_batch(texts)
    count = sum(map(len, tokens))
    table = {tok: i for i, tok in enumerate(vocab.decode(range(vocab.num_known)))} | {"[UNK]": vocab.num_known}
    hf = Tokenizer(models.WordLevel(table, unk_token="[UNK]"))
    ours = best_time(lambda: [vocab.encode(t) for t in tokens], rounds)
    theirs = best_time(lambda: [e.ids for e in hf.encode_batch(tokens, is_pretokenized=True, add_special_tokens=False)], rounds)
    hf.normalizer = normalizers.Lowercase()
    hf.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation()])
    tokenize = task.tokenizer.tokenize
    ours_text = best_time(lambda: [vocab.encode(tokenize(t)) for t in texts], rounds)
    theirs_text = best_time(lambda: [e.ids for e in hf.encode_batch(texts, add_special_tokens=False)], rounds)
    return {"tokens": count, "ours": count / ours, "hf": count / theirs, "ours_text": count / ours_text, "hf_text": count / theirs_text}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60, help="timed training steps per round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per measurement; the best counts")
    args = parser.parse_args()
    bucketed, padded = make_task(bucketing=True), make_task(bucketing=False)
    threads = bucketed.recipe.train.num_threads
    if threads:
        torch.set_num_threads(threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; layers {bucketed.recipe.model.layers}")
    print(f"mean batch width: bucketed {mean_width(bucketed):.1f} tokens, padded {mean_width(padded):.1f} tokens")
    fast, slow = 0.0, 0.0
    for _ in range(args.rounds):  # interleaved, so that background load hits both alike
        fast = max(fast, train_rate(bucketed, args.steps))
        slow = max(slow, train_rate(padded, args.steps))
    print(f"training: bucketed {fast:,.0f} examples/s, padded to the longest text {slow:,.0f} examples/s")
    rates = encode_rates(bucketed, args.rounds)
    print(
        f"encoding {rates['tokens']:,} tokens: Vocab.encode {rates['ours'] / 1e6:.2f} M tokens/s, "
        f"HF WordLevel {rates['hf'] / 1e6:.2f} M tokens/s"
    )
    print(
        f"  (diagnostic) text -> ids: WordTokenizer + Vocab {rates['ours_text'] / 1e6:.2f} M tokens/s, "
        f"HF Tokenizer(WordLevel) {rates['hf_text'] / 1e6:.2f} M tokens/s"
    )
    print(json.dumps({"bucketing_vs_padding": round(fast / slow, 3), "vocab_encode_vs_hf": round(rates["ours"] / rates["hf"], 3)}))


if __name__ == "__main__":
    main()
