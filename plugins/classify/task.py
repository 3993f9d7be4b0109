"""The ``classify`` task: which of N labels (or which labels) does a text have?

Data come from a table file, a folder per label, a hub dataset or the BBC
News articles (:mod:`.sources`) and are split by :mod:`.splits`. Tokens
(word, char or BPE) and their vocabulary with OOV buckets are learned from the
training split, as are the label names; the core saves both in checkpoints.
The model is :mod:`.model`'s; batches are bucketed by length
(:mod:`.batching`). Evaluation accumulates a confusion matrix over the split
(:mod:`.metrics`) for accuracy, macro-F1 and the per-class table, and logs it
as an image with the five most confidently wrong validation texts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from seqtk.data.batches import ResumableLoader
from seqtk.data.split_record import check_same_split
from seqtk.errors import SeqtkError
from seqtk.tasks.task import EVAL_FILE, ExportSpec, StepOutput, Task
from seqtk_plugins.classify import reporting, vectors
from seqtk_plugins.classify.batching import Batch, Encoded, TrainBatches, encode, eval_batches
from seqtk_plugins.classify.config import ClassifyData, ClassifyModel, ClassifyVocab
from seqtk_plugins.classify.corpus import Corpus, LabeledTexts
from seqtk_plugins.classify.metrics import Confusion, LabelCounts

if TYPE_CHECKING:  # pragma: no cover
    from pathlib import Path

    from seqtk.config.schema import Recipe
    from seqtk.runtime.loggers import Logger
    from seqtk.tasks.evaluation import EvalResult
    from seqtk.text.tokenize import TextTokenizer
    from seqtk.text.vocab import Vocab

HELD_OUT = ("val", "test")


class EvalCounts:
    """The evaluation reducer: counts, and the class probabilities of every evaluated text (seqtk.tasks.evaluation)."""

    def __init__(self, num_classes: int, multi_label: bool) -> None:
        self.counts: Confusion | LabelCounts = LabelCounts(num_classes) if multi_label else Confusion(num_classes)
        self._probs: list[Tensor] = []
        self._index: list[Tensor] = []

    def add(self, batch: Batch, out: StepOutput) -> None:
        logits = _logits(out)  # (B, C) float
        if isinstance(self.counts, LabelCounts):
            self.counts.add(logits > 0, batch.labels.bool())
            self._probs.append(torch.sigmoid(logits).cpu())
        else:
            self.counts.add(logits.argmax(dim=1), batch.labels)
            self._probs.append(torch.softmax(logits, dim=1).cpu())
        self._index.append(batch.index.cpu())

    def metrics(self) -> dict[str, float]:
        """accuracy, macro_f1 (and more) from the counts over the whole split."""
        return self.counts.metrics()

    @property
    def probs(self) -> Tensor:
        return torch.cat(self._probs)  # (N, C), in the order of ``index``

    @property
    def index(self) -> Tensor:
        return torch.cat(self._index)  # (N,) positions in the split


class ClassifyTask(Task):
    """Multi-class (or multi-label) text classification from the user's files."""

    name = "classify"
    description = "Text -> one of N labels, or several (BBC News by default; CSV/TSV/JSONL/parquet, label folders, HF hub)"
    data_config = ClassifyData
    vocab_config = ClassifyVocab
    model_config = ClassifyModel
    learned = ("vocab", "label_names", "tokenizer")  # built by learn(), or restored from a checkpoint
    main_metric = "accuracy"
    main_metric_mode = "max"
    unit = "examples"
    predict_options = frozenset({"top_k"})

    def __init__(self, recipe: Recipe) -> None:
        super().__init__(recipe)
        self.vocab: Vocab | None = None
        self.label_names: tuple[str, ...] | None = None
        self.tokenizer: TextTokenizer | None = None  # word/char, or BPE with the merges learned from train
        self._corpus: Corpus | None = None  # read by load_data() for learn() and encode_data()
        self._splits: Any = None
        self._tokens: dict[str, list[list[str]]] = {}
        self.texts: dict[str, LabeledTexts] = {}  # split -> texts and labels (indices into the corpus's names)
        self.encoded: dict[str, Encoded] = {}  # split -> ids
        self.pad_to = 0  # the fixed width of unbucketed batches
        self.split_record: dict[str, Any] | None = None  # seed, sizes, fingerprint
        self._restored_split: dict[str, Any] | None = None  # the record of a loaded checkpoint
        self._eval_cache: dict[str, list[Batch]] = {}
        self._class_weights: Tensor | None = None  # data.balance = "class_weights", set by build_model()
        self._vectors: Path | None = None  # model.pretrained_vectors' file: fetch_pretrained() for init_model()

    # -- checks and data ----------------------------------------------------------
    @classmethod
    def validate(cls, recipe: Recipe) -> None:
        from seqtk_plugins.classify.checks import check_data, check_model, check_vocab

        check_data(recipe.data)
        check_vocab(recipe.vocab)
        check_model(recipe.model)

    def load_corpus(self, data: ClassifyData | None = None) -> Corpus:
        """The labelled texts the recipe names, or ``data`` (other [data] keys: an evaluation file's); the
        sentiment preset reads its own sources."""
        from seqtk_plugins.classify.sources import load_corpus

        return load_corpus(data or self.recipe.data, self.report_console())

    def load_data(self) -> None:
        """Load, deduplicate and split the data."""
        from seqtk_plugins.classify.splits import drop_duplicates, make_splits

        cfg: ClassifyData = self.recipe.data
        self._corpus = self.load_corpus()
        if cfg.drop_duplicates:
            drop_duplicates(self._corpus)
        self._splits = make_splits(self._corpus, cfg.val_fraction, cfg.test_fraction, cfg.split_seed)
        self.texts = {name: self._splits[name] for name in ("train", *HELD_OUT)}
        self.split_record = self._splits.record()
        check_same_split(self._restored_split, self.split_record)

    def learn(self) -> dict[str, Any]:
        """The tokens' vocabulary (and BPE merges) of the training split, and the corpus's label names."""
        from seqtk.text.vocab import PAD, Vocab

        from seqtk.text.tokenize import BPETokenizer, make_tokenizer

        v, train = self.recipe.vocab, self.texts["train"].texts
        if v.tokens == "bpe":
            tokenizer: TextTokenizer = BPETokenizer(vocab_size=v.bpe_size, lowercase=v.lowercase).train(train)
        else:
            tokenizer = make_tokenizer(v.tokens, lowercase=v.lowercase)
        vocab = Vocab.build(tokenizer.tokenize_batch(train), min_freq=v.min_freq, max_size=v.max_size or None,
                            specials=(PAD,), num_oov_buckets=v.num_oov_buckets)
        assert self._corpus is not None
        return {"vocab": vocab, "label_names": self._corpus.label_names, "tokenizer": tokenizer}

    def encode_data(self) -> None:
        """Tokenize and encode every split with the (learned or restored) vocabulary and label names."""
        from seqtk_plugins.classify.splits import describe

        assert self._corpus is not None
        self._remap_labels(self._corpus.label_names)
        self._tokens = {name: self.tokens_of(part.texts) for name, part in self.texts.items()}
        cfg = self.recipe.data
        n = len(self.need("label_names"))
        self.encoded = {
            name: encode(self._tokens[name], self.texts[name].labels, self.need("vocab"), n, cfg.max_tokens, cfg.keep)
            for name in self.texts
        }
        self.pad_to = cfg.max_tokens or self.encoded["train"].max_length
        self._eval_cache.clear()
        console = self.report_console()
        describe(self._splits, self._corpus, console, title=f"{self.name} data")
        console.print(reporting.vocab_line(self.need("vocab"), self._tokens["val"], self.recipe.vocab.tokens),
                      highlight=False, soft_wrap=True)

    def _remap_labels(self, data_names: tuple[str, ...]) -> None:
        """Re-index the data's labels by the model's label names (a checkpoint's may differ in order or number)."""
        from seqtk_plugins.classify.labels import remap

        names = self.need("label_names")
        if tuple(names) == tuple(data_names):
            return
        for split, part in self.texts.items():
            self.texts[split] = LabeledTexts(part.texts, remap(part.labels, data_names, names, split))

    def read_eval_file(self, path: Path) -> None:
        """``seqtk eval --file``: a CSV, TSV, JSONL, JSON or parquet file of texts and labels (the columns the
        recipe names, or the usual names) as the split "file", read as data.path is, with the model's
        vocabulary; a label the model was not trained on is refused."""
        from dataclasses import replace

        from seqtk_plugins.classify.labels import remap

        names, cfg = self.need("label_names"), self.recipe.data
        try:
            corpus = self.load_corpus(replace(cfg, source="file", path=str(path)))
        except SeqtkError as exc:  # a column the recipe names, whose fix would be to set data.*_column
            if not (exc.fix or "").startswith(("set data.text_column", "set data.label_column")):
                raise
            raise SeqtkError(exc.problem, fix="name the file's columns as the model's recipe reads them (data.text_column "
                             f"= '{cfg.text_column}', data.label_column = '{cfg.label_column}'; auto: one of the usual "
                             "names)") from None  # fmt: skip
        labels = remap(corpus.train.labels, corpus.label_names, names, EVAL_FILE, what=f"the file '{path}' has")
        self.texts[EVAL_FILE] = LabeledTexts(corpus.train.texts, labels)
        tokens = self.tokens_of(corpus.train.texts)
        self.encoded[EVAL_FILE] = encode(tokens, labels, self.need("vocab"), len(names), cfg.max_tokens, cfg.keep)
        self._eval_cache.pop(EVAL_FILE, None)

    def train_loader(self) -> ResumableLoader:
        cfg, train = self.recipe.data, self.recipe.train
        batches = TrainBatches(self.encoded["train"], train.batch_size, train.seed, cfg.bucketing, cfg.bucket_factor,
                               self.pad_to, balanced=cfg.balance == "sampling", crop=cfg.crop)
        return ResumableLoader(batches.plan, batches.collate)

    def eval_batches(self, split: str) -> list[Batch]:
        if split not in (*HELD_OUT, EVAL_FILE) or split not in self.encoded:
            raise SeqtkError(f"task '{self.name}' has no prepared split '{split}'", fix="use val or test (after prepare())")
        if split not in self._eval_cache:
            cfg = self.recipe.data
            self._eval_cache[split] = eval_batches(self.encoded[split], cfg.eval_batch_size, cfg.bucketing, self.pad_to)
        return self._eval_cache[split]

    # -- model ----------------------------------------------------------------------
    def build_model(self) -> nn.Module:
        """The classifier (its pretrained vectors, on a fresh run: init_model())."""
        from seqtk_plugins.classify.model import TextClassifier

        m: ClassifyModel = self.recipe.model
        model = TextClassifier(self.need("vocab"), m.embedding_dim, m.stack(), len(self.need("label_names")),
                               m.pooling, m.dropout, multi_label=self.recipe.data.multi_label,
                               word_dropout=m.word_dropout)
        model.embedding.freeze(m.freeze_embeddings)
        self._class_weights = self._loss_weights()
        return model

    def fetch_pretrained(self) -> None:
        """A fresh run's model.pretrained_vectors, found or fetched (and its size checked) before the data."""
        self._vectors = vectors.find(self.recipe.model, self.report_console())

    def init_model(self, model: nn.Module) -> None:
        """A fresh run's embedding starts from the pretrained vectors (resume, eval and predict load the
        trained table instead)."""
        if self._vectors is not None:
            vectors.load(model, self._vectors, self.report_console())

    def _loss_weights(self) -> Tensor | None:
        """For data.balance = "class_weights": per-class weights n / (C * n_c) of the cross-entropy; multi-label,
        each label's positives weighed by n_negative / n_positive (BCE's pos_weight), so a rare label's
        probability is pushed towards 0.5 rather than its base rate. None otherwise."""
        if self.recipe.data.balance != "class_weights" or "train" not in self.encoded:
            return None
        from seqtk_plugins.classify.splits import class_counts

        counts = torch.tensor(class_counts(self.texts["train"].labels, len(self.need("label_names"))), dtype=torch.float)
        if self.recipe.data.multi_label:
            return (len(self.texts["train"]) - counts).clamp(min=1) / counts.clamp(min=1)  # > 0 even for a label every text has
        return counts.sum() / (len(counts) * counts.clamp(min=1))

    def step(self, model: nn.Module, batch: Batch, *, train: bool) -> StepOutput:
        """Mean cross-entropy (one sigmoid per label if multi-label); accuracy as a batch mean."""
        logits = model(batch.ids, batch.lengths).float()  # (B, T), (B,) -> (B, C); float even under autocast
        weight = self._class_weights.to(logits.device) if self._class_weights is not None and train else None
        if self.recipe.data.multi_label:
            loss = F.binary_cross_entropy_with_logits(logits, batch.labels, pos_weight=weight)  # (C,) per label
            accuracy = ((logits > 0) == batch.labels.bool()).all(dim=1).float().mean().item()
        else:
            loss = F.cross_entropy(logits, batch.labels, weight=weight)
            accuracy = (logits.argmax(dim=1) == batch.labels).float().mean().item()
        return StepOutput(loss=loss, count=len(batch.labels), metrics={"accuracy": accuracy},
                          outputs={"logits": logits.detach()})

    def eval_reducer(self, split: str) -> EvalCounts:
        """Accuracy, macro-F1 and the per-class table come from counts over the whole split."""
        return EvalCounts(len(self.need("label_names")), self.recipe.data.multi_label)

    # -- reporting ----------------------------------------------------------------------
    def log_eval(self, model: nn.Module, logger: Logger, step: int, result: EvalResult | None = None) -> None:
        """The validation confusion matrix as an image, the most confidently wrong texts as text."""
        counts = _val_counts(result)
        if counts is None:
            return
        reporting.log_confusion(logger, counts, self.need("label_names"), step)
        if isinstance(counts.counts, Confusion):
            logger.log_text("val/confident_mistakes", reporting.mistakes(self.texts["val"], counts, self.need("label_names")), step)

    def final_report(self, model: nn.Module, device: torch.device, result: EvalResult | None = None) -> str | None:
        counts = _val_counts(result)
        return None if counts is None else reporting.final_report(self.texts["val"], counts, self.need("label_names"))

    def eval_details(self, result: EvalResult) -> dict[str, Any]:
        """The per-class table (and the confusion matrix) for ``seqtk eval --json``."""
        details = result.details
        if not isinstance(details, EvalCounts):
            return {}
        return reporting.details(details, self.need("label_names"))

    def eval_text(self, result: EvalResult) -> str | None:
        """The per-class table and the confusion matrix under ``seqtk eval``'s metrics."""
        details = result.details
        return reporting.details_text(details, self.need("label_names")) if isinstance(details, EvalCounts) else None

    # -- checkpoint state -----------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """The split's record (the vocabulary and labels are Task.learned: seqtk saves those)."""
        return {"split": self.split_record}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._restored_split = state.get("split")

    # -- inference ------------------------------------------------------------------------
    def predict(self, model: nn.Module, inputs: list[str], device: torch.device, top_k: int = 0) -> list[dict[str, Any]]:
        """Label and its probability per text (with ``top_k``: the k most likely labels too)."""
        from seqtk_plugins.classify.inference import predict

        return predict(self, model, inputs, device, top_k)

    def export_spec(self, model: nn.Module) -> ExportSpec:
        """The classifier with ids and lengths in, logits and probabilities out; vocab.json and labels.json."""
        from seqtk_plugins.classify.export import export_spec

        return export_spec(self, model)

    def clean(self, text: str) -> str:
        """A text as the loaders clean theirs."""
        from seqtk_plugins.classify.corpus import clean_text

        return clean_text(text)

    # -- helpers --------------------------------------------------------------------------
    def tokens_of(self, texts: list[str]) -> list[list[str]]:
        """``texts`` split by the learned tokenizer (a checkpoint from before it was saved: the recipe's)."""
        if self.tokenizer is None:
            from seqtk.text.tokenize import make_tokenizer

            self.tokenizer = make_tokenizer(self.recipe.vocab.tokens, lowercase=self.recipe.vocab.lowercase)
        return self.tokenizer.tokenize_batch(texts)


def _val_counts(result: EvalResult | None) -> EvalCounts | None:
    """The reducer of a validation pass, if ``result`` is one."""
    if result is None or result.split != "val" or not isinstance(result.details, EvalCounts):
        return None
    return result.details


def _logits(out: StepOutput) -> Tensor:
    """The batch's logits, which evaluation's counts need from step()."""
    if "logits" not in out.outputs:
        raise SeqtkError(
            "the classify task's step() returned no outputs['logits'], which its evaluation counts need",
            fix="return StepOutput(..., outputs={'logits': logits.detach()}) from an overriding step(), "
            "as the classify task's own step() does",
        )
    return out.outputs["logits"]
