"""Words and subwords as a language model's tokens: one ``<eos>`` per line, the vocabulary, and text back.

``data.tokens = "word"`` splits each line on whitespace (the text is taken as
already tokenized, as the Penn Treebank is and as PyTorch's
``word_language_model`` reads it); ``"bpe"`` splits each line with seqtk's
:class:`~seqtk.text.tokenize.BPETokenizer`, trained on the training text.
Either way a line break is the token ``<eos>``, so a model learns where
sentences end and generation can end one. Ids follow
:class:`~seqtk.text.vocab.Vocab`'s layout with the specials ``<pad>`` (0),
``<eos>`` (1) and ``<unk>`` (2) and no OOV buckets: a word outside the
vocabulary, and the Penn Treebank's own ``<unk>``, both map to id 2.

>>> vocab = build_word_vocab("the cat sat\\nthe dog <unk>\\n", max_size=2)
>>> vocab.decode(range(len(vocab)))
['<pad>', '<eos>', '<unk>', 'the', 'cat']
>>> words = WordTokens()
>>> vocab.encode(words.tokens("the dog\\nthe cat"))  # the last line is not ended: no <eos> after it
[3, 2, 1, 3, 4]
>>> Joiner(words).text(vocab.decode([3, 4, 1, 3, 2]))
'the cat\\nthe <unk>'
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from seqtk.text.tokenize import BPETokenizer
from seqtk.text.vocab import EOS, PAD, UNK, Vocab

SPECIALS = (PAD, EOS, UNK)


class WordTokens:
    """Whitespace-separated words, ``<eos>`` at each line break."""

    kind = "word"

    def split_lines(self, lines: list[str]) -> list[list[str]]:
        return [line.split() for line in lines]

    def tokens(self, text: str, *, end_last_line: bool = False) -> list[str]:
        """The tokens of ``text``: each line's, then ``<eos>`` where the line breaks (and after the last line
        too with ``end_last_line``, as when a whole text is scored)."""
        lines = text.split("\n")
        last = lines.pop()  # after the final newline: "" when the text ends with one
        out: list[str] = []
        for words in self.split_lines(lines):
            out += words
            out.append(EOS)
        if last.strip():
            out += self.split_lines([last])[0]
            if end_last_line:
                out.append(EOS)
        return out

    @staticmethod
    def piece(token: str) -> tuple[str, bool]:
        """A token's text and whether it continues the word before it (a BPE ``##`` piece)."""
        return token, False


class BPETokens(WordTokens):
    """Byte-pair subwords of each line (``##`` marks a piece that continues a word), ``<eos>`` at each line break."""

    kind = "bpe"

    def __init__(self, bpe: BPETokenizer) -> None:
        self.bpe = bpe

    def split_lines(self, lines: list[str]) -> list[list[str]]:
        return self.bpe.tokenize_batch(lines)

    @staticmethod
    def piece(token: str) -> tuple[str, bool]:
        return (token[2:], True) if token.startswith("##") else (token, False)


def train_bpe(train_text: str, vocab_size: int, min_frequency: int) -> BPETokenizer:
    """A BPE tokenizer learned from the training text's lines; ``<eos>`` and ``<unk>`` are its specials, so a
    literal ``<unk>`` in the text (the Penn Treebank's) stays one token."""
    lines = [line for line in train_text.split("\n") if line.strip()]
    return BPETokenizer(vocab_size=vocab_size, min_frequency=min_frequency, unk_token=UNK,
                        special_tokens=[EOS]).train(lines)  # fmt: skip


def build_word_vocab(train_text: str, max_size: int, min_freq: int = 1) -> Vocab:
    """The ``max_size`` most frequent training words (seen ``min_freq`` times or more) after the specials."""
    return Vocab.build([WordTokens().tokens(train_text)], min_freq=min_freq, max_size=max_size,
                       specials=SPECIALS, num_oov_buckets=0)  # fmt: skip


def build_bpe_vocab(bpe: BPETokenizer) -> Vocab:
    """The BPE tokenizer's pieces after the specials (its ``<unk>`` and ``<eos>`` take theirs)."""
    return Vocab.from_tokenizer(bpe, specials=SPECIALS, num_oov_buckets=0)


def scheme(kind: str, bpe: BPETokenizer | None = None) -> WordTokens:
    """The line tokenizer of ``data.tokens`` (word or bpe; bpe needs its trained tokenizer)."""
    if kind == "bpe":
        if bpe is None:
            raise ValueError("bpe tokens need the trained BPE tokenizer")
        return BPETokens(bpe)
    return WordTokens()


class Joiner:
    """Tokens back to text, one token at a time: words apart by spaces, ``<eos>`` a line break, a BPE
    ``##`` piece glued to its word, ``<pad>`` nothing. It remembers whether the text so far ends a line,
    so that text streamed token by token reads the same as the whole text decoded at once.

    >>> j = Joiner(WordTokens(), line_start=False)  # continuing a prompt such as "the company"
    >>> [j.text([t]) for t in ["said", "<eos>", "it"]]
    [' said', '\\n', 'it']
    """

    def __init__(self, tokens: WordTokens, line_start: bool = True) -> None:
        self.piece = tokens.piece
        self.line_start = line_start

    def text(self, tokens: Iterable[str]) -> str:
        out = []
        for token in tokens:
            if token == EOS:
                out.append("\n")
                self.line_start = True
                continue
            if token == PAD:
                continue
            piece, glued = self.piece(token)
            out.append(piece if glued or self.line_start else " " + piece)
            self.line_start = False
        return "".join(out)


def describe(texts: dict[str, str], ids: dict[str, Any], vocab: Vocab, kind: str, console: Any) -> None:
    """Print lines, tokens and the share of ``<unk>`` per split."""
    from rich.table import Table

    table = Table(title=f"textgen corpus ({kind} tokens)", title_justify="left")
    for col in ("split", "lines", "tokens", "<unk>"):
        table.add_column(col, justify="left" if col == "split" else "right")
    for name, text in texts.items():
        row = ids[name]
        unk = int((row == vocab.unk_id).sum()) if len(row) else 0
        table.add_row(name, f"{text.count(chr(10)):,}", f"{len(row):,}", f"{unk / max(len(row), 1):.1%}")
    console.print(table)
