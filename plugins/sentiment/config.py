"""The sentiment task's recipe sections: ``[data]``, ``[vocab]`` and ``[model]`` (with ``[[model.layers]]``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from seqtk.config import DataConfig, ModelConfig, VocabConfig, hfield
from seqtk.encoders import LayerSpec

Source = Literal["auto", "rt", "imdb_sentences", "aclimdb", "file", "hub"]


@dataclass(frozen=True)
class SentimentData(DataConfig):
    """Where the labelled texts come from, how they are split and batched.

    ``source = "auto"`` reads ``path`` when it is set (an aclImdb folder, a
    table file, or the Rotten Tomatoes ground-truth file, told apart by their
    layout and extension) and otherwise the Rotten Tomatoes sentences.
    """

    source: Source = hfield(
        "auto",
        help="rt: 10,568 Rotten Tomatoes sentences with the sign of their mean human rating as label "
        "(vaderSentiment 3.3.2 source archive from PyPI, fetched once; data.path may name a local "
        "movieReviewSnippets_GroundTruth.txt instead); imdb_sentences: the 1,000 IMDB sentences of the npm "
        "package sentiment 5.0.2 (fetched once, or data.path = its imdb.json); aclimdb: an aclImdb/ folder "
        "(data.path) with train/ and test/, each pos/ and neg/ of .txt reviews; file: a CSV, TSV, JSONL, JSON "
        "or parquet file (data.path) read with Hugging Face datasets; hub: the Hugging Face dataset "
        "data.hub_name (needs the internet or its cache); auto: data.path's kind when set, else rt.",
    )
    text_column: str = hfield(
        "auto", help="file/hub: the column holding the text; auto: the first of text, review, sentence, content."
    )
    label_column: str = hfield(
        "auto",
        help="file/hub: the column holding the label; auto: the first of label, class, sentiment, polarity. "
        "Labels must be binary: 0/1, true/false, or pos/neg, positive/negative (any case).",
    )
    positive_label: str | None = hfield(
        None,
        help="file/hub: the label value that means positive when the labels are two other strings "
        '(e.g. "fresh" for fresh/rotten); the other value is negative.',
    )
    hub_name: str = hfield("stanfordnlp/imdb", help="hub: the Hugging Face dataset name.")
    hub_config: str | None = hfield(None, help="hub: the dataset's configuration name, if it has several.")
    hub_train_split: str = hfield("train", help="hub: the split that is cut into train and val.")
    hub_test_split: str = hfield(
        "test", help='hub: the split used as the test set; "" to carve test from the train split instead.'
    )
    val_fraction: float = hfield(0.1, help="Fraction of the training data held out for validation, per class.")
    test_fraction: float = hfield(
        0.1,
        help="Fraction held out for the test split, per class, when the source has no test set of its own "
        "(aclImdb and the hub's stanfordnlp/imdb have one; then this is ignored).",
    )
    split_seed: int = hfield(
        0,
        help="Seed of the stratified split (apart from train.seed, so runs with different seeds are scored "
        "on the same test texts). Stored in checkpoints: seqtk eval rebuilds the same split.",
    )
    max_tokens: int = hfield(0, help="Cut longer texts to this many tokens (see data.keep); 0 keeps every token.")
    keep: Literal["first", "last"] = hfield(
        "first", help="With max_tokens: keep the first or the last max_tokens tokens of a longer text."
    )
    bucketing: bool = hfield(
        True,
        help="Batch texts of similar length together (seqtk.data.bucketed_batches), so padding stays small; "
        "false pads every batch to the longest training text (or max_tokens), as Keras' pad_sequences does.",
    )
    bucket_factor: int = hfield(
        50, help="Bucketing: texts are sorted by length within chunks of batch_size * bucket_factor."
    )
    eval_batch_size: int = hfield(256, help="Texts per batch when evaluating and predicting.")


@dataclass(frozen=True)
class SentimentVocab(VocabConfig):
    """The word vocabulary, built from the training split only."""

    lowercase: bool = hfield(True, help="Lowercase text before splitting it into words.")
    max_size: int = hfield(10_000, help="Keep at most this many words (the most frequent); 0: no limit.")
    min_freq: int = hfield(1, help="Keep only words seen at least this many times in the training split.")
    num_oov_buckets: int = hfield(
        2,
        help="Hashed buckets for words not in the vocabulary (unseen or rare); each bucket has its own "
        "embedding row. The lectures use 2.",
    )


def _default_layers() -> list[LayerSpec]:
    """The lectures' stack: GRU(64, return_sequences=True) -> GRU(64)."""
    return [LayerSpec("gru", 64, return_sequences=True), LayerSpec("gru", 64, return_sequences=False)]


@dataclass(frozen=True)
class SentimentModel(ModelConfig):
    """Embedding -> recurrent layers -> pooling -> Dense(1); trained with BCE on the logit."""

    embedding_dim: int = hfield(
        128, help="Word embedding size (with pretrained_vectors: must equal the file's vector size)."
    )
    layers: list[LayerSpec] = hfield(
        default_factory=_default_layers,
        help="The recurrent layers, one [[model.layers]] table each (cell, hidden_size, bidirectional, "
        "dropout, return_sequences, nonlinearity; see seqtk.encoders.LayerSpec). Only the last layer may set "
        "return_sequences = false. Default: GRU(64, return_sequences) -> GRU(64).",
    )
    pooling: Literal["last", "mean", "max"] = hfield(
        "last",
        help="How a text becomes one vector: last (the last layer's final state; it must have "
        "return_sequences = false), or mean / max over the valid steps (it must return sequences).",
    )
    dropout: float = hfield(0.0, help="Dropout on the word embeddings and on the pooled vector.")
    pretrained_vectors: str | None = hfield(
        None,
        help="A GloVe or word2vec text file (.gz works) whose vectors initialise the embedding; the coverage "
        "of the vocabulary is printed. Read only when training starts, not by eval or predict.",
    )
    freeze_embeddings: bool = hfield(False, help="With pretrained_vectors: keep the embedding table fixed.")
