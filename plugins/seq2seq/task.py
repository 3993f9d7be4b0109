"""The ``seq2seq`` task: a source sequence in, a target sequence out (grapheme-to-phoneme, transliteration, toys).

Examples come from :mod:`.sources` (the CMU Pronouncing Dictionary by default;
Keras' addition toy; the user's pair files or a hub dataset) and are split
by example, so all targets of a source land in one split. What the task
learns from the training split is a tokenizer and a vocabulary for each
side. The model is :class:`seqtk.nn.encoder_decoder.EncoderDecoder`, trained with
teacher forcing; evaluation decodes every held-out source (greedy, or beam
search with ``model.beam``) and scores the output against the closest of its
targets (:mod:`.metrics`): word error rate, token error rate (the phoneme
error rate on cmudict) and, for text, chrF and BLEU.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import nn

from seqtk.data.batches import ResumableLoader
from seqtk.data.split_record import check_same_split
from seqtk.errors import SeqtkError
from seqtk.tasks.task import ExportParts, StepOutput, Task
from seqtk_plugins.seq2seq.batching import IGNORE, Batch, Encoded, PairEncoder, TrainBatches, eval_batches
from seqtk_plugins.seq2seq.config import Seq2SeqData, Seq2SeqModel, Seq2SeqVocab

if TYPE_CHECKING:  # pragma: no cover
    from seqtk.config.schema import Recipe
    from seqtk.nn.decoding import Hypothesis
    from seqtk.runtime.loggers import Logger
    from seqtk.tasks.evaluation import EvalResult
    from seqtk.text.vocab import Vocab
    from seqtk_plugins.seq2seq.metrics import Seq2SeqMetrics
    from seqtk_plugins.seq2seq.pairs import Example

HELD_OUT = ("val", "test")


class Seq2SeqTask(Task):
    """Sequence to sequence: an encoder-decoder with attention, greedy or beam-search decoding."""

    name = "seq2seq"
    description = "Sequence to sequence with attention and beam search: CMUdict grapheme-to-phoneme, addition, pair files"
    data_config = Seq2SeqData
    vocab_config = Seq2SeqVocab
    model_config = Seq2SeqModel
    learned = ("source_tokenizer", "target_tokenizer", "source_vocab", "target_vocab")
    main_metric = "wer"
    main_metric_mode = "min"
    unit = "target tokens"
    predict_options = frozenset({"beam", "n_best", "attention"})

    def __init__(self, recipe: Recipe) -> None:
        super().__init__(recipe)
        self.source_tokenizer: Any = None
        self.target_tokenizer: Any = None
        self.source_vocab: Vocab | None = None
        self.target_vocab: Vocab | None = None
        self.examples: dict[str, list[Example]] = {}
        self.encoded: dict[str, Encoded] = {}
        self.split_record: dict[str, Any] | None = None
        self._restored_split: dict[str, Any] | None = None
        self._eval_cache: dict[str, list[Batch]] = {}
        self._notes: list[str] = []
        self._source_name = ""
        self._split_line = ""

    # -- checks and data ----------------------------------------------------------------
    @classmethod
    def validate(cls, recipe: Recipe) -> None:
        from seqtk_plugins.seq2seq.checks import check_data, check_model, check_vocab

        check_data(recipe.data)
        check_vocab(recipe.vocab)
        check_model(recipe.model)

    def load_data(self) -> None:
        from seqtk_plugins.seq2seq.sources import load_splits

        loaded = load_splits(self.recipe.data, self.report_console())
        self.examples = {"train": loaded.splits.train, "val": loaded.splits.val, "test": loaded.splits.test}
        self._notes, self._source_name = loaded.notes, loaded.name
        self._split_line = f"split: {loaded.splits.how}, data.split_seed = {loaded.splits.seed}, fingerprint {loaded.splits.fingerprint()}"
        self.split_record = loaded.splits.record()
        check_same_split(self._restored_split, self.split_record)

    def learn(self) -> dict[str, Any]:
        """A tokenizer and a vocabulary for each side, from the training examples."""
        from seqtk.text.vocab import BOS, EOS, PAD, Vocab
        from seqtk_plugins.seq2seq.sources import token_kinds

        v: Seq2SeqVocab = self.recipe.vocab
        source_kind, target_kind = token_kinds(self.recipe.data, v)
        train = self.examples["train"]
        sources = [e.source for e in train]
        targets = [t for e in train for t in e.targets]
        src_tok = _tokenizer(source_kind, v, sources, lowercase=v.lowercase)
        tgt_tok = _tokenizer(target_kind, v, targets, lowercase=False)
        return {
            "source_tokenizer": src_tok,
            "target_tokenizer": tgt_tok,
            "source_vocab": Vocab.build(src_tok.tokenize_batch(sources), min_freq=v.min_freq, specials=(PAD,),
                                        num_oov_buckets=v.num_oov_buckets),
            "target_vocab": Vocab.build(tgt_tok.tokenize_batch(targets), min_freq=v.min_freq, specials=(PAD, BOS, EOS),
                                        num_oov_buckets=v.num_oov_buckets),
        }  # fmt: skip

    def encode_data(self) -> None:
        from seqtk_plugins.seq2seq.report import describe, drop_too_long

        encoder = self.encoder
        self.encoded = {name: encoder.encode_all(part) for name, part in self.examples.items()}
        self._notes += drop_too_long(self.encoded, self.recipe.data)
        self._eval_cache.clear()
        describe(self.encoded, self._source_name, [*self._notes, self._split_line], encoder, self.report_console())

    def train_loader(self) -> ResumableLoader:
        train, data = self.recipe.train, self.recipe.data
        vocab = self.need("target_vocab")
        if not len(self.encoded["train"]) and self.examples["train"]:  # drop_too_long took every one
            from seqtk_plugins.seq2seq.report import nothing_left_to_train

            raise nothing_left_to_train(self.encoder.encode_all(self.examples["train"]), data)
        batches = TrainBatches(self.encoded["train"], train.batch_size, train.seed, data.bucket_factor,
                               vocab.bos_id, vocab.eos_id)  # fmt: skip
        return ResumableLoader(batches.plan, batches.collate)

    def eval_batches(self, split: str) -> list[Batch]:
        if split not in HELD_OUT or split not in self.encoded:
            raise SeqtkError(f"task 'seq2seq' has no prepared split '{split}'", fix="use val or test (after prepare())")
        if split not in self._eval_cache:
            vocab = self.need("target_vocab")
            self._eval_cache[split] = eval_batches(self.encoded[split], self.recipe.data.eval_batch_size,
                                                   vocab.bos_id, vocab.eos_id)  # fmt: skip
        return self._eval_cache[split]

    # -- model ----------------------------------------------------------------------------
    def build_model(self) -> nn.Module:
        from seqtk.nn.encoder_decoder import EncoderDecoder

        return EncoderDecoder(len(self.need("source_vocab")), len(self.need("target_vocab")), self.recipe.model)

    def step(self, model: nn.Module, batch: Batch, *, train: bool) -> StepOutput:
        """Mean loss per target token (teacher forcing); at evaluation also the decoded outputs."""
        if train:
            logits, _ = model(batch.source, batch.lengths, batch.target_in)  # (B, T, V); DDP's forward when wrapped
        else:  # one encoding serves the loss and the decoding
            model = getattr(model, "module", model)
            state = model.start(batch.source, batch.lengths)
            logits, _ = model.teacher_forced(state, batch.target_in)
        known = batch.target_out != IGNORE
        tokens = int(known.sum())
        loss = F.cross_entropy(logits.flatten(0, 1), batch.target_out.flatten(), ignore_index=IGNORE,
                               label_smoothing=self.recipe.model.label_smoothing if train else 0.0)  # fmt: skip
        accuracy = float(((logits.argmax(-1) == batch.target_out) & known).sum()) / max(tokens, 1)
        metrics = {"token_accuracy": accuracy}  # teacher-forced: each token given the gold prefix
        if train:
            return StepOutput(loss=loss, count=tokens, metrics=metrics)
        hyps = self.decode(model, batch.source, batch.lengths, state=state)
        return StepOutput(loss=loss, count=tokens, metrics=metrics, outputs={"hypotheses": [self._tokens(h[0]) for h in hyps]})

    def decode(self, model: nn.Module, source: torch.Tensor, lengths: torch.Tensor, beam: int | None = None,
               n_best: int = 1, keep_attention: bool = False, state: Any = None) -> list[list[Hypothesis]]:  # fmt: skip
        """The ``n_best`` outputs of each source, by greedy search (beam 1) or beam search.

        ``state``: the sources already encoded by ``model.start`` (evaluation has them from the loss).

        # source (B, S), lengths (B,) -> B lists of Hypothesis, best first
        """
        from seqtk.nn.decoding import beam_search, greedy

        cfg: Seq2SeqModel = self.recipe.model
        beam = cfg.beam if beam is None else beam
        vocab = self.need("target_vocab")
        state = model.start(source, lengths) if state is None else state
        banned = [vocab.pad_id, vocab.bos_id, *range(vocab.num_known, len(vocab))]  # ids no target ever had
        common = {"bos": vocab.bos_id, "eos": vocab.eos_id, "max_len": self.recipe.data.max_target_length,
                  "length_penalty": cfg.length_penalty, "keep_attention": keep_attention, "device": source.device,
                  "banned": banned}  # fmt: skip
        if beam == 1 and n_best == 1:
            return [[h] for h in greedy(model, state, source.size(0), **common)]
        return beam_search(model, state, source.size(0), beam=beam, n_best=n_best, **common)

    def _detokenize(self, joined: str) -> str:
        """A space-joined token string (as the metrics keep outputs) as the target's text: ``5 9 6`` -> ``596``."""
        return self.need("target_tokenizer").detokenize(joined.split(" "))

    def _tokens(self, hyp: Hypothesis) -> list[str]:
        return self.need("target_vocab").decode(hyp.tokens)

    # -- evaluation -------------------------------------------------------------------------
    def eval_reducer(self, split: str) -> Seq2SeqMetrics:
        from seqtk_plugins.seq2seq.metrics import Seq2SeqMetrics

        tokenizer = self.need("target_tokenizer")
        return Seq2SeqMetrics(tokenizer.tokenize, detokenize=tokenizer.detokenize)

    def log_eval(self, model: nn.Module, logger: Logger, step: int, result: EvalResult | None = None) -> None:
        """Attention heatmaps of the first validation examples, and a few mistakes as text."""
        from seqtk_plugins.seq2seq.report import attention_images, mistakes_text

        if result is None or result.split != "val":
            return
        device = next(model.parameters()).device
        for n, image in enumerate(attention_images(self, model, self.examples["val"][:3], device)):
            logger.log_image(f"val/attention_{n}", image, step)
        logger.log_text("val/mistakes", mistakes_text(result.details, 20, self._detokenize), step)

    def final_report(self, model: nn.Module, device: torch.device, result: EvalResult | None = None) -> str | None:
        from seqtk_plugins.seq2seq.report import mistakes_text

        if result is None or result.split != "val":
            return None
        return "Some validation mistakes (source -> output; expected):\n" + mistakes_text(result.details, 8, self._detokenize)

    def eval_details(self, result: EvalResult) -> dict[str, Any]:
        """The decoding settings and some mistakes, for ``seqtk eval --json``."""
        cfg: Seq2SeqModel = self.recipe.model
        details = result.details
        mistakes = [] if details is None else [asdict(m) for m in details.mistakes(20)]
        return {"beam": cfg.beam, "length_penalty": cfg.length_penalty, "mistakes": mistakes}

    def eval_text(self, result: EvalResult) -> str | None:
        from seqtk_plugins.seq2seq.report import mistakes_text

        cfg: Seq2SeqModel = self.recipe.model
        search = "greedy search" if cfg.beam == 1 else f"beam search, beam {cfg.beam}"
        return f"Decoded with {search}. Some mistakes (source -> output; expected):\n" + mistakes_text(result.details, 10, self._detokenize)

    # -- checkpoint state ---------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """The split's record (the tokenizers and vocabularies are Task.learned: seqtk saves those)."""
        return {"split": self.split_record}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._restored_split = state.get("split")

    # -- inference ------------------------------------------------------------------------------
    def predict(self, model: nn.Module, inputs: list[str], device: torch.device, **options: Any) -> list[dict[str, Any]]:
        """Each input's best output (``beam``, ``n_best`` alternatives with scores; ``attention``: a PNG path)."""
        from seqtk_plugins.seq2seq.inference import predict

        return predict(self, model, inputs, device, **options)

    def export_spec(self, model: nn.Module) -> ExportParts:
        """Two model files: the encoder, and one decoder step with the state and the attention memory as inputs and
        outputs; vocab.json, decoding.json and a README whose numpy greedy and beam search give seqtk's outputs."""
        from seqtk_plugins.seq2seq.export import export_spec

        return export_spec(self, model)

    @property
    def encoder(self) -> PairEncoder:
        return PairEncoder(self.need("source_tokenizer"), self.need("target_tokenizer"), self.need("source_vocab"),
                           self.need("target_vocab"))  # fmt: skip


def _tokenizer(kind: str, v: Seq2SeqVocab, texts: list[str], lowercase: bool) -> Any:
    from seqtk.text.tokenize import BPETokenizer, make_tokenizer

    if kind == "bpe":
        return BPETokenizer(vocab_size=v.bpe_size, lowercase=lowercase).train(texts)
    return make_tokenizer(kind, lowercase=lowercase)

