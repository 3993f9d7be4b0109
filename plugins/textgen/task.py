"""The ``textgen`` task: a language model over characters (char-rnn), words or BPE subwords.

It reads text (:mod:`.corpus`, or the Penn Treebank from :mod:`.ptb`), builds a
vocabulary from the training split (characters with one OOV bucket, so unseen
characters in val/test or in a prompt never crash; or words and subwords with
``<eos>`` and ``<unk>``, :mod:`.tokens`), trains :class:`seqtk.nn.lm.CharLM` on
random windows or on carried streams (:mod:`seqtk.data.lm_batches`), reports
loss in nats/char and bits/char (characters) or nats per token and perplexity
(words, subwords), and samples text (:mod:`.sampling`).

Words and subwords live in textgen rather than in a task of their own: the
model, the batching, the carried state, the sampling and the export are the
same for every kind of token; only the text <-> ids step and the reported unit
differ (``data.tokens``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from seqtk.data.batches import ResumableLoader
from seqtk.data.lm_batches import StreamBatches, WindowBatches, bptt_lr_scale, eval_windows
from seqtk.data.split_record import check_same_split
from seqtk.errors import SeqtkError
from seqtk.nn.awd import add_activation_penalty
from seqtk.tasks.task import ExportSpec, GenerateRequest, StepOutput, Task
from seqtk_plugins.textgen import corpus, tokens
from seqtk_plugins.textgen.config import TextGenData, TextGenModel, TextGenVocab
from seqtk_plugins.textgen.sampling import detach_state, move_state, sample_batch, sample_text, score_text

if TYPE_CHECKING:  # pragma: no cover
    from pathlib import Path

    from seqtk.config.schema import Recipe
    from seqtk.runtime.loggers import Logger
    from seqtk.tasks.evaluation import EvalResult
    from seqtk.text.vocab import Vocab

LN2 = math.log(2.0)
SAMPLE_CHARS = 300  # final_report
LOG_SAMPLE_CHARS = 200  # log_eval, every evaluation
SAMPLE_TOKENS, LOG_SAMPLE_TOKENS = 60, 40  # the same for words and subwords


class TextGenTask(Task):
    """Language model over characters, words or subwords: Shakespeare, the Penn Treebank, or any UTF-8 text."""

    name = "textgen"
    description = "Language model over characters (char-rnn, Shakespeare by default), words or BPE subwords (the Penn Treebank by default), or any text"
    data_config = TextGenData
    vocab_config = TextGenVocab
    model_config = TextGenModel
    learned = ("vocab",)  # built by learn(), or restored from a checkpoint
    main_metric = "loss"
    main_metric_mode = "min"
    unit = "chars"
    batched_prompts = True

    def __init__(self, recipe: Recipe) -> None:
        super().__init__(recipe)
        self.vocab: Vocab | None = None
        self._texts: dict[str, str] = {}  # split -> text
        self.ids: dict[str, torch.Tensor] = {}  # split -> (N,) char ids
        self.prompt = "\n"  # sample prompt: the first full line of the val text
        self._splits: Any = None  # corpus.Splits, between load_data() and encode_data()
        self._state: Any = None  # recurrent state carried across stream batches
        self._split_record: dict[str, Any] | None = None  # sizes and fingerprint of the three texts
        self._restored_split: dict[str, Any] | None = None  # a loaded checkpoint's record
        self._restored = False  # load_state_dict() ran: a checkpoint is being resumed or evaluated
        self.kind: str = getattr(recipe.data, "tokens", "char")  # char, word or bpe
        self._bpe: Any = None  # the trained BPETokenizer (bpe only); kept in state_dict()
        if self.kind != "char":
            self.unit = "tokens"
            self.prompt = ""  # samples start after an <eos>

    # -- checks and data --------------------------------------------------------
    @classmethod
    def validate(cls, recipe: Recipe) -> None:
        from seqtk_plugins.textgen.checks import check_data, check_vocab

        check_data(recipe.data)
        check_vocab(recipe.vocab, recipe.data.tokens)

    def load_data(self) -> None:
        """Load and split the text."""
        cfg: TextGenData = self.recipe.data
        if cfg.chosen_source() == "ptb":
            self._splits = corpus.load_ptb_splits(cfg.max_lines, self.report_console())
        else:
            docs = corpus.load_corpus(cfg, self.report_console())
            self._splits = corpus.split_documents(docs, cfg.split, cfg.val_fraction, cfg.test_fraction, cfg.block_chars)
        corpus.check_enough(self._splits.train, self.recipe.train.batch_size, cfg.seq_len, self.kind)
        self._texts = {name: getattr(self._splits, name) for name in ("train", "val", "test")}
        if self.kind == "char":
            self.prompt = _first_full_line(self._splits.val) or "\n"
        self._split_record = self._splits.record()
        check_same_split(self._restored_split, self._split_record)
        if self._restored and self._restored_split is None:
            self.report_console().print(
                "note: this checkpoint predates textgen's record of its texts, so seqtk cannot check that the text "
                "is the one it trained on; documents that end in a newline are now joined by one newline fewer, so "
                "a run resumed from it is not bit-identical to one that never stopped.", highlight=False, soft_wrap=True)

    def learn(self) -> dict[str, Any]:
        """The vocabulary of the training text (the core keeps a checkpoint's instead): its characters, its
        ``vocab.max_size`` most frequent words, or the pieces of a BPE tokenizer trained on it."""
        from seqtk.text.vocab import PAD, Vocab

        cfg, train = self.recipe.vocab, self._texts["train"]
        if self.kind == "word":
            return {"vocab": tokens.build_word_vocab(train, cfg.max_size, cfg.min_freq)}
        if self.kind == "bpe":
            self._bpe = tokens.train_bpe(train, cfg.bpe_size, cfg.min_freq)
            return {"vocab": tokens.build_bpe_vocab(self._bpe)}
        return {"vocab": Vocab.build([train], min_freq=cfg.min_freq, specials=(PAD,), num_oov_buckets=1)}

    def encode_data(self) -> None:
        self._encode_splits()
        console, vocab = self.report_console(), self.need("vocab")
        if self.kind != "char":
            tokens.describe(self._texts, self.ids, vocab, self.kind, console)
            console.print(f"vocabulary: {len(vocab)} ids ({vocab.num_known - 3} {self.kind} tokens, <pad>, <eos>, <unk>)")
            return
        corpus.describe(self._splits, console)
        console.print(f"vocabulary: {len(vocab)} ids ({vocab.num_known - 1} characters, <pad>, 1 OOV bucket)")

    def _encode_splits(self) -> None:
        self.ids = {name: self.encode(text) for name, text in self._texts.items()}

    def encode(self, text: str, *, end_last_line: bool = False) -> torch.Tensor:
        """Text -> (N,) LongTensor of ids. Characters: unknown ones map to the OOV bucket. Words and subwords:
        ``<eos>`` at each line break (and after an unended last line with ``end_last_line``), unknown ones
        ``<unk>``."""
        vocab = self.need("vocab")
        if self.kind == "char":
            return torch.tensor(vocab.encode(text), dtype=torch.long)
        return torch.tensor(vocab.encode(self.line_tokens().tokens(text, end_last_line=end_last_line)), dtype=torch.long)

    def decode(self, ids: Iterable[int], *, line_start: bool = True) -> str:
        """Ids -> text. Characters: the OOV bucket decodes as U+FFFD (the replacement character), <pad> as
        nothing. Words and subwords: apart by spaces (a subword's ``##`` piece glued to its word), ``<eos>`` a
        line break; ``line_start`` False puts a space before the first word (it continues a line)."""
        vocab, ids = self.need("vocab"), list(ids)
        if self.kind != "char":
            return tokens.Joiner(self.line_tokens(), line_start).text(vocab.decode(ids))
        return "".join(_char(vocab, i, tok) for i, tok in zip(ids, vocab.decode(ids)))

    def line_tokens(self) -> tokens.WordTokens:
        """How a line of text becomes word or subword tokens (``data.tokens`` word or bpe)."""
        if self.kind == "bpe" and self._bpe is None:
            raise SeqtkError("this bpe model has no BPE tokenizer: it is trained with the vocabulary",
                             fix="call prepare() first, or load a checkpoint written by a bpe run")  # fmt: skip
        return tokens.scheme(self.kind, self._bpe)

    def _decoder(self, prompt: str) -> Any:
        """A decode function for the text after ``prompt``, keeping its place from one call to the next
        (words after a prompt that ends mid-line start with a space)."""
        if self.kind == "char":
            return self.decode
        vocab = self.need("vocab")
        joiner = tokens.Joiner(self.line_tokens(), line_start=prompt == "" or prompt.endswith("\n"))
        return lambda ids: joiner.text(vocab.decode(list(ids)))

    def _prompt_ids(self, prompt: str) -> torch.Tensor:
        """The ids a sample starts from: characters after a line break for an empty prompt; words and
        subwords always after an ``<eos>`` (the start of a sentence), then the prompt's."""
        if self.kind == "char":
            return self.encode(prompt or "\n")
        return torch.cat([torch.tensor([self.need("vocab").eos_id]), self.encode(prompt)])

    def splits(self) -> list[str]:
        if self.recipe.data.chosen_source() == "ptb":
            return ["val", "test"]
        return ["val", "test"] if self.recipe.data.test_fraction > 0 else ["val"]

    def train_loader(self) -> ResumableLoader:
        cfg, train = self.recipe.data, self.recipe.train
        kind = StreamBatches if cfg.batching == "stream" else WindowBatches
        extra = {"variable": train.variable_bptt} if kind is StreamBatches else {}  # AWD-LSTM's variable lengths
        batches = kind(self.ids["train"], train.batch_size, cfg.seq_len, train.seed, **extra)
        return ResumableLoader(batches.plan, batches.collate)

    def eval_batches(self, split: str) -> Iterable[Any]:
        if split not in self.ids:
            raise SeqtkError(f"task 'textgen' has no split '{split}'", fix=f"use one of {', '.join(self.splits())}")
        return eval_windows(self.ids[split], self.recipe.train.batch_size, self.recipe.data.seq_len)

    def read_eval_file(self, path: Path) -> None:
        """``seqtk eval --file``: the file's text as the split "file", encoded and scored as val is (:mod:`.scoring`)."""
        from seqtk.tasks.task import EVAL_FILE
        from seqtk_plugins.textgen.scoring import read_eval_ids

        self.ids[EVAL_FILE] = read_eval_ids(self, path)

    # -- model --------------------------------------------------------------------
    def build_model(self) -> nn.Module:
        m: TextGenModel = self.recipe.model
        return m.build(len(self.need("vocab")))

    def step(self, model: nn.Module, batch: Any, *, train: bool) -> StepOutput:
        """Mean cross-entropy over the ``(B, T)`` targets of one batch."""
        x, y = batch  # (B, T) each
        carry = train and self.recipe.data.batching == "stream"
        state = move_state(self._state, x.device) if carry else None
        _, loss, new_state = model(x, targets=y, state=state)  # logits (B, T, V), loss ()
        if carry:
            self._state = detach_state(new_state)  # truncated BPTT: keep values, cut the graph
        if train:  # model.ar_alpha / tar_beta: AWD-LSTM's AR and TAR terms join the training loss
            loss = add_activation_penalty(model, loss)
        scale = bptt_lr_scale(x, self.recipe.data.seq_len) if carry and self.recipe.train.variable_bptt else 1.0
        return StepOutput(loss=loss, count=y.numel(), lr_scale=scale)

    def reset_state(self) -> None:
        self._state = None

    def finish_metrics(self, metrics: dict[str, float]) -> dict[str, float]:
        """Characters: bits per character beside the loss (nats/char). Words and subwords: ``perplexity``,
        exp of the mean loss per token (``<eos>`` counted, as the Penn Treebank figures count it)."""
        if self.kind != "char":
            return {**metrics, "perplexity": _perplexity(metrics["loss"])}
        return {**metrics, "bits_per_char": metrics["loss"] / LN2}

    # -- reporting ------------------------------------------------------------------
    def log_eval(self, model: nn.Module, logger: Logger, step: int, result: EvalResult | None = None) -> None:
        """Log a sample as text (own generator: the training RNG is untouched); the metrics need no more."""
        text = self._sample(model, LOG_SAMPLE_CHARS if self.kind == "char" else LOG_SAMPLE_TOKENS)
        logger.log_text("samples/text", text, step)

    def final_report(self, model: nn.Module, device: torch.device, result: EvalResult | None = None) -> str | None:
        length = SAMPLE_CHARS if self.kind == "char" else SAMPLE_TOKENS
        text = self._sample(model, length)
        seed, unit = self.recipe.train.seed, "characters" if self.kind == "char" else f"{self.kind} tokens"
        return f"Sample ({length} {unit}, temperature 0.8, seed {seed}):\n{text}"

    def _sample(self, model: nn.Module, length: int) -> str:
        device = next(model.parameters()).device
        request = GenerateRequest(prompt=self.prompt, length=length, temperature=0.8, seed=self.recipe.train.seed)
        return self.prompt + self.generate(model, request, device)[0]

    # -- checkpoint state -----------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """The sample prompt and the carried stream state (the vocabulary is Task.learned: seqtk saves it)."""
        state: dict[str, Any] = {"prompt": self.prompt}
        if self._bpe is not None:
            state["bpe"] = self._bpe.to_dict()
        if self._split_record is not None:
            state["split"] = self._split_record
        if self._state is not None:
            state["stream_state"] = move_state(self._state, torch.device("cpu"))
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if "vocab" in state:  # a checkpoint from before seqtk saved Task.learned itself
            from seqtk.text.vocab import Vocab

            self.vocab = Vocab.from_dict(state["vocab"], source="the checkpoint's textgen vocabulary")
        self.prompt = state.get("prompt", "\n" if self.kind == "char" else "")
        if "bpe" in state:
            from seqtk.text.tokenize import BPETokenizer

            self._bpe = BPETokenizer.from_dict(state["bpe"], source="the checkpoint's BPE tokenizer")
        self._state = state.get("stream_state")
        self._restored_split = state.get("split")
        self._restored = True

    # -- inference ------------------------------------------------------------------
    def generate(self, model: nn.Module, request: GenerateRequest, device: torch.device) -> list[str]:
        """``request.n`` samples of new text after ``request.prompt`` (sample i uses seed + i), or one sample
        after each of ``request.prompts``, drawn in one batch from ``request.seed``."""
        if request.prompts:
            rows = [self._prompt_ids(prompt) for prompt in request.prompts]
            decoders = [self._decoder(prompt) for prompt in request.prompts]
            return sample_batch(model, rows, request, decode=decoders, device=device)
        prompt_ids = self._prompt_ids(request.prompt)  # an empty prompt starts at a line break (an <eos>)
        return [
            sample_text(model, prompt_ids, request, seed=request.seed + i, decode=self._decoder(request.prompt),
                        device=device,
                        on_text=(lambda text, i=i: request.on_text(i, text)) if request.on_text else None)
            for i in range(request.n)
        ]  # fmt: skip

    def prompt_row(self, prompt: str) -> tuple[torch.Tensor, Any]:
        """The ids a sample of ``prompt`` starts from and its decode function, as :meth:`generate` uses them
        (``seqtk serve`` samples rows of a rolling batch from them)."""
        return self._prompt_ids(prompt), self._decoder(prompt)

    def export_spec(self, model: nn.Module) -> ExportSpec:
        """One step of the language model (a token and the state in, logits and the new state out)."""
        from seqtk_plugins.textgen.export import export_spec

        return export_spec(self, model)

    def predict(self, model: nn.Module, inputs: list[str], device: torch.device) -> list[dict[str, Any]]:
        """Each text's loss under the model: in nats/char and bits/char, or for words and subwords in nats per
        token and perplexity.

        The text is scored after a line break, so every character counts
        (the first one is predicted from the start of a line); words and subwords after an ``<eos>``, with one
        ``<eos>`` ending each line, the last included.
        """
        if self.kind != "char":
            return [self._score_tokens(model, text, device) for text in inputs]
        out = []
        for text in inputs:
            nats = score_text(model, self.encode("\n" + text), device)
            out.append({"chars": len(text), "nats_per_char": nats, "bits_per_char": nats / LN2})
        return out


    def _score_tokens(self, model: nn.Module, text: str, device: torch.device) -> dict[str, Any]:
        ids = torch.cat([torch.tensor([self.need("vocab").eos_id]), self.encode(text, end_last_line=True)])
        nats = score_text(model, ids, device)
        return {"tokens": len(ids) - 1, "nats_per_token": nats, "perplexity": _perplexity(nats)}


def _perplexity(nats: float) -> float:
    """exp(nats), infinite past what a float holds (an untrained or diverged model)."""
    return math.exp(nats) if nats < 700 else math.inf


def _char(vocab: Vocab, idx: int, token: str) -> str:
    if vocab.is_oov(idx):
        return "\ufffd"
    return "" if idx < len(vocab.specials) else token


def _first_full_line(text: str, limit: int = 60) -> str:
    """The first complete non-blank line of ``text`` (the val text may start mid-line)."""
    lines = text.split("\n")[1:-1]  # first and last may be cut
    line = next((ln for ln in lines if ln.strip()), "")
    return line[:limit] + "\n" if line else ""
