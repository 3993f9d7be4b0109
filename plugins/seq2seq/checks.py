"""Recipe checks for the seq2seq task, run before any data is loaded (and by seqtk eval/predict).

Nothing here touches the file system: a checkpoint must still load for
``seqtk predict`` on a machine without the training data.
"""

from __future__ import annotations

from seqtk.config import checks
from seqtk.errors import SeqtkError
from seqtk_plugins.seq2seq.config import Seq2SeqData, Seq2SeqModel, Seq2SeqVocab


def check_data(data: Seq2SeqData) -> None:
    """Raise :class:`SeqtkError` for ``[data]`` values that cannot work."""
    if data.source == "files" and not data.path:
        raise SeqtkError('data.source = "files" needs data.path', fix="set data.path to a TSV, CSV or JSONL file of pairs")
    if data.source == "hub" and not data.hub_name:
        raise SeqtkError('data.source = "hub" needs data.hub_name', fix="set data.hub_name to a dataset name on the Hugging Face Hub")
    if data.source in ("cmudict", "addition") and (data.val_path or data.test_path):
        raise SeqtkError(
            f"data.val_path and data.test_path name held-out files of data.path, but the source is {data.source}",
            fix='remove them, or set data.source = "files" with data.path',
        )
    if data.source == "addition" and data.path:
        raise SeqtkError('data.source = "addition" makes its questions; it reads no data.path',
                         fix='remove data.path, or set data.source = "files"')  # fmt: skip
    checks.split_fractions(data.val_fraction, data.test_fraction, example=(0.05, 0.05))
    checks.at_least("data.max_examples", data.max_examples, 0)
    checks.at_least("data.addition_count", data.addition_count, 10)
    checks.at_least("data.addition_digits", data.addition_digits, 1)
    if data.addition_digits > 9:
        raise SeqtkError(f"data.addition_digits = {data.addition_digits} is more than the toy needs",
                         fix="use at most 9 digits per operand (Keras' example uses 3)")  # fmt: skip
    checks.at_least("data.max_source_length", data.max_source_length, 1)
    checks.at_least("data.max_target_length", data.max_target_length, 1)
    checks.at_least("data.bucket_factor", data.bucket_factor, 1)
    checks.at_least("data.eval_batch_size", data.eval_batch_size, 1)
    for key in ("source_column", "target_column"):
        if not getattr(data, key).strip():
            raise SeqtkError(f"data.{key} is empty", fix=f"remove data.{key} to use its default")
    if data.source_column == data.target_column != "auto":
        raise SeqtkError(f"data.source_column and data.target_column are both {data.source_column!r}",
                         fix="name two different columns")  # fmt: skip


def check_vocab(vocab: Seq2SeqVocab) -> None:
    checks.at_least("vocab.min_freq", vocab.min_freq, 1)
    checks.at_least("vocab.bpe_size", vocab.bpe_size, 16)
    checks.at_least(
        "vocab.num_oov_buckets", vocab.num_oov_buckets, 1,
        fix="set vocab.num_oov_buckets = 1 or more: tokens outside the vocabulary need a row, or predict would fail",
    )  # fmt: skip


def check_model(model: Seq2SeqModel) -> None:
    """Raise :class:`SeqtkError` for decoding settings that cannot work (the network: EncoderDecoderConfig.check)."""
    if model.beam < 1:
        raise SeqtkError(f"model.beam must be at least 1, got {model.beam}", fix="use 1 for greedy search, or e.g. 5")
    checks.finite("model.length_penalty", model.length_penalty, fix="use e.g. model.length_penalty = 1.0")
    if model.length_penalty < 0:
        raise SeqtkError(f"model.length_penalty must be 0 or more, got {model.length_penalty}",
                         fix="use 0 (rank by log p) to 1 (by log p per token)")  # fmt: skip
