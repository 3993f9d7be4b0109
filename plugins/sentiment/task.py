"""The ``sentiment`` task: is a review positive or negative?

The lectures' example, end to end: a word vocabulary with OOV buckets built
from the training split (:mod:`seqtk.vocab`), an embedding lookup, GRU(64,
return_sequences) -> GRU(64) -> Dense(1) trained with BCE on the logit
(:mod:`.model`). Data come from :mod:`.data` / :mod:`.tables` and are split by
:mod:`.splits`; batches are bucketed by length (:mod:`.batching`).
Evaluation accumulates a confusion matrix over the split for accuracy,
precision, recall and F1 (:mod:`.metrics`), and logs it as an image together
with the five most confidently wrong validation texts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from seqtk.data import ResumableLoader, move_to
from seqtk.device import eval_mode
from seqtk.errors import SeqtkError
from seqtk.task import StepOutput, Task
from seqtk_plugins.sentiment.batching import Batch, Encoded, TrainBatches, encode, eval_batches
from seqtk_plugins.sentiment.config import SentimentData, SentimentModel, SentimentVocab
from seqtk_plugins.sentiment.data import NAMES, LabeledTexts, clean_text
from seqtk_plugins.sentiment.metrics import Confusion, confident_mistakes, confusion_image, mistakes_text

if TYPE_CHECKING:  # pragma: no cover
    from seqtk.config import Recipe
    from seqtk.evaluation import EvalResult
    from seqtk.loggers import Logger
    from seqtk.tokenize import WordTokenizer
    from seqtk.vocab import Vocab

HELD_OUT = ("val", "test")
MISTAKES = 5  # confidently wrong val texts logged at each evaluation


class EvalCounts:
    """The evaluation reducer: counts, and P(positive) per evaluated text (seqtk.evaluation)."""

    def __init__(self) -> None:
        self.confusion = Confusion()
        self._probs: list[Tensor] = []
        self._index: list[Tensor] = []

    def add(self, batch: Batch, out: StepOutput) -> None:
        logits = _logits(out, "sentiment")  # (B,) float
        self.confusion.add(logits > 0, batch.labels.bool())
        self._probs.append(torch.sigmoid(logits).cpu())
        self._index.append(batch.index.cpu())

    def metrics(self) -> dict[str, float]:
        """accuracy, precision, recall and F1 from the counts over the whole split."""
        return self.confusion.metrics()

    @property
    def probs(self) -> Tensor:
        return torch.cat(self._probs)  # (N,) float, in the order of ``index``

    @property
    def index(self) -> Tensor:
        return torch.cat(self._index)  # (N,) positions in the split


class SentimentTask(Task):
    """Binary sentiment classification of short or long reviews."""

    name = "sentiment"
    description = "Binary sentiment of reviews (Rotten Tomatoes sentences by default; aclImdb, CSV/JSONL, HF hub)"
    data_config = SentimentData
    vocab_config = SentimentVocab
    model_config = SentimentModel
    learned = ("vocab", "label_names")  # built by learn(), or restored from a checkpoint
    main_metric = "accuracy"
    main_metric_mode = "max"
    unit = "examples"

    def __init__(self, recipe: Recipe) -> None:
        super().__init__(recipe)
        self.vocab: Vocab | None = None
        self.label_names: tuple[str, str] | None = None
        self._corpus: Any = None  # data.Corpus, self._splits (splits.Splits) and self._tokens (split -> words):
        self._splits: Any = None  # read by load_data() for learn() and encode_data()
        self._tokens: dict[str, list[list[str]]] = {}
        self.texts: dict[str, LabeledTexts] = {}  # split -> texts and labels
        self.encoded: dict[str, Encoded] = {}  # split -> ids
        self.pad_to = 0  # the fixed width of unbucketed batches
        self.split_record: dict[str, Any] | None = None  # seed, sizes, fingerprint
        self._restored_split: dict[str, Any] | None = None  # the record of a loaded checkpoint
        self._eval_cache: dict[str, list[Batch]] = {}
        self._tokenizer: WordTokenizer | None = None

    # -- checks and data ----------------------------------------------------------
    @classmethod
    def validate(cls, recipe: Recipe) -> None:
        from seqtk_plugins.sentiment.checks import check_data, check_model, check_vocab

        check_data(recipe.data)
        check_vocab(recipe.vocab)
        check_model(recipe.model)

    def load_data(self) -> None:
        """Load and split the data, tokenize every split."""
        from seqtk_plugins.sentiment.data import load_corpus
        from seqtk_plugins.sentiment.splits import make_splits

        cfg: SentimentData = self.recipe.data
        self._corpus = load_corpus(cfg, self.report_console())
        self._splits = make_splits(self._corpus, cfg.val_fraction, cfg.test_fraction, cfg.split_seed)
        self.texts = {name: self._splits[name] for name in ("train", *HELD_OUT)}
        self.split_record = self._splits.record()
        self._check_split()
        self._tokens = {name: self.tokenizer.tokenize_batch(part.texts) for name, part in self.texts.items()}

    def learn(self) -> dict[str, Any]:
        """The word vocabulary of the training split and the corpus's label names."""
        from seqtk.vocab import PAD, Vocab

        v = self.recipe.vocab
        vocab = Vocab.build(self._tokens["train"], min_freq=v.min_freq, max_size=v.max_size or None, specials=(PAD,),
                            num_oov_buckets=v.num_oov_buckets)
        return {"vocab": vocab, "label_names": self._corpus.label_names}

    def encode_data(self) -> None:
        from seqtk_plugins.sentiment.splits import describe

        self._encode(self._tokens)
        console = self.report_console()
        describe(self._splits, self._corpus, console)
        console.print(self._vocab_line(self._tokens["val"]), highlight=False, soft_wrap=True)

    def _encode(self, tokens: dict[str, list[list[str]]]) -> None:
        cfg = self.recipe.data
        self.encoded = {
            name: encode(tokens[name], self.texts[name].labels, self.need("vocab"), cfg.max_tokens, cfg.keep)
            for name in self.texts
        }
        self.pad_to = cfg.max_tokens or self.encoded["train"].max_length
        self._eval_cache.clear()

    def _vocab_line(self, val_tokens: list[list[str]]) -> str:
        vocab = self.need("vocab")
        total = sum(len(t) for t in val_tokens)
        oov = sum(1 for t in val_tokens for w in t if w not in vocab)
        return (
            f"vocabulary: {len(vocab):,} ids ({vocab.num_known - 1:,} words, <pad>, {vocab.num_oov_buckets} OOV "
            f"buckets); {oov / max(total, 1):.1%} of validation tokens fall in an OOV bucket"
        )

    def _check_split(self) -> None:
        """A restored checkpoint's split must be the one rebuilt from the data now."""
        record, now = self._restored_split, self.split_record
        if record is None or now is None or record.get("fingerprint") == now["fingerprint"]:
            return
        raise SeqtkError(
            f"the data rebuild a different split than the checkpoint was trained on (val/test fingerprint "
            f"{now['fingerprint']}, sizes {now['sizes']}; the checkpoint has {record.get('fingerprint')}, "
            f"sizes {record.get('sizes')}), so its scores would not be comparable",
            fix="evaluate with the data and [data] settings the model was trained with (see the run's config.toml)",
        )

    def train_loader(self) -> ResumableLoader:
        cfg, train = self.recipe.data, self.recipe.train
        batches = TrainBatches(self.encoded["train"], train.batch_size, train.seed, cfg.bucketing, cfg.bucket_factor, self.pad_to)
        return ResumableLoader(batches.plan, batches.collate)

    def eval_batches(self, split: str) -> list[Batch]:
        if split not in HELD_OUT or split not in self.encoded:
            raise SeqtkError(f"task 'sentiment' has no prepared split '{split}'", fix="use val or test (after prepare())")
        if split not in self._eval_cache:
            cfg = self.recipe.data
            self._eval_cache[split] = eval_batches(self.encoded[split], cfg.eval_batch_size, cfg.bucketing, self.pad_to)
        return self._eval_cache[split]

    # -- model ----------------------------------------------------------------------
    def build_model(self) -> nn.Module:
        """The classifier; pretrained vectors are read only when data were prepared (training)."""
        from seqtk_plugins.sentiment.model import SentimentClassifier

        m: SentimentModel = self.recipe.model
        model = SentimentClassifier(self.need("vocab"), m.embedding_dim, m.layers, m.pooling, m.dropout)
        if m.pretrained_vectors and self.encoded:
            self._load_vectors(model, m.pretrained_vectors)
        model.embedding.freeze(m.freeze_embeddings)
        return model

    def _load_vectors(self, model: nn.Module, path: str) -> None:
        from seqtk.embedding import vector_file_dim

        dim = vector_file_dim(path)
        if dim != self.recipe.model.embedding_dim:
            raise SeqtkError(
                f"the vectors in '{path}' have {dim} dimensions but model.embedding_dim is "
                f"{self.recipe.model.embedding_dim}",
                fix=f"set model.embedding_dim = {dim}",
            )
        report = model.embedding.load_pretrained(path, lowercase=True)
        self.report_console().print(f"pretrained vectors: {report}", highlight=False, soft_wrap=True)

    def step(self, model: nn.Module, batch: Batch, *, train: bool) -> StepOutput:
        """Mean BCE over the batch's logits; accuracy as a batch mean."""
        logits = model(batch.ids, batch.lengths).float()  # (B, T), (B,) -> (B,); float even under autocast
        loss = F.binary_cross_entropy_with_logits(logits, batch.labels)
        accuracy = ((logits > 0) == batch.labels.bool()).float().mean().item()
        return StepOutput(loss=loss, count=len(batch.labels), metrics={"accuracy": accuracy},
                          outputs={"logits": logits.detach()})

    def eval_reducer(self, split: str) -> EvalCounts:
        """Precision, recall and F1 come from counts over the whole split, not from batch means."""
        return EvalCounts()

    # -- reporting ----------------------------------------------------------------------
    def log_eval(self, model: nn.Module, logger: Logger, step: int, result: EvalResult | None = None) -> None:
        """The validation confusion matrix as an image, the most confidently wrong texts as text."""
        counts = _val_counts(result)
        if counts is None:
            return
        title = f"validation, step {step}: accuracy {counts.confusion.accuracy:.1%}"
        logger.log_image("val/confusion_matrix", confusion_image(counts.confusion, self.need("label_names"), title), step)
        logger.log_text("val/confident_mistakes", self._mistakes("val", counts), step)

    def final_report(self, model: nn.Module, device: torch.device, result: EvalResult | None = None) -> str | None:
        counts = _val_counts(result)
        if counts is None:
            return None
        return (
            f"Validation confusion matrix at the last step (rows: true, columns: predicted):\n"
            f"{counts.confusion.text(self.need('label_names'))}\n\n"
            f"The {MISTAKES} most confidently wrong validation texts:\n{self._mistakes('val', counts)}"
        )

    def _mistakes(self, split: str, result: EvalCounts) -> str:
        part = self.texts[split]
        labels = torch.tensor([part.labels[i] for i in result.index.tolist()], dtype=torch.float32)
        rows = []
        for k in confident_mistakes(result.probs, labels, MISTAKES):
            i = int(result.index[k])
            rows.append((part.texts[i], part.labels[i], float(result.probs[k])))
        return mistakes_text(rows, self.need("label_names"))

    # -- checkpoint state -----------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """The split's record (the vocabulary and labels are Task.learned: seqtk saves those)."""
        return {"split": self.split_record}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if "vocab" in state:  # a checkpoint from before seqtk saved Task.learned itself
            from seqtk.vocab import Vocab

            self.vocab = Vocab.from_dict(state["vocab"], source="the checkpoint's sentiment vocabulary")
            self.label_names = tuple(state.get("label_names") or NAMES)  # type: ignore[assignment]
        self._restored_split = state.get("split")

    # -- inference ------------------------------------------------------------------------
    def predict(self, model: nn.Module, inputs: list[str], device: torch.device) -> list[dict[str, Any]]:
        """Label and probability (of that label) per text; unknown words go to OOV buckets."""
        from seqtk_plugins.sentiment.batching import token_ids

        for n, text in enumerate(inputs, start=1):
            if not isinstance(text, str) or not text.strip():
                raise SeqtkError(
                    f"input {n} of {len(inputs)} is empty; there is no text to classify",
                    fix='pass the review text, e.g. seqtk predict CKPT "I love this movie"',
                )
        cfg = self.recipe.data
        texts = [clean_text(t) for t in inputs]  # as every loader cleans its texts (e.g. IMDB's <br />)
        rows = [token_ids(t, self.need("vocab"), cfg.max_tokens, cfg.keep) for t in self.tokenizer.tokenize_batch(texts)]
        data = Encoded(
            ids=[torch.tensor(r, dtype=torch.long) for r in rows],
            lengths=torch.tensor([len(r) for r in rows], dtype=torch.long),
            labels=torch.zeros(len(rows)),
        )
        probs = self.probabilities(model, data, device)
        out = []
        for p in probs.tolist():
            positive = p >= 0.5
            out.append({"label": self.need("label_names")[int(positive)], "probability": p if positive else 1.0 - p})
        return out

    def probabilities(self, model: nn.Module, data: Encoded, device: torch.device) -> Tensor:
        """P(positive) of every text of ``data``, in its order. # -> (N,)"""
        out = torch.empty(len(data))
        with eval_mode(model), torch.no_grad():
            for batch in eval_batches(data, self.recipe.data.eval_batch_size, bucketing=True):
                moved = move_to(batch, device)
                out[batch.index] = torch.sigmoid(model(moved.ids, moved.lengths).float()).cpu()
        return out

    # -- helpers --------------------------------------------------------------------------
    @property
    def tokenizer(self) -> WordTokenizer:
        if self._tokenizer is None:
            from seqtk.tokenize import make_tokenizer

            self._tokenizer = make_tokenizer("word", lowercase=self.recipe.vocab.lowercase)
        return self._tokenizer


def _val_counts(result: EvalResult | None) -> EvalCounts | None:
    """The reducer of a validation pass, if ``result`` is one."""
    if result is None or result.split != "val" or not isinstance(result.details, EvalCounts):
        return None
    return result.details


def _logits(out: StepOutput, task: str) -> Tensor:
    """The batch's logits, which evaluation's counts need from step()."""
    if "logits" not in out.outputs:
        raise SeqtkError(
            f"the {task} task's step() returned no outputs['logits'], which its evaluation counts need",
            fix="return StepOutput(..., outputs={'logits': logits.detach()}) from an overriding step(), "
            f"as the {task} task's own step() does",
        )
    return out.outputs["logits"]
