"""Recipe checks for the tag task, run before any data is loaded (and by seqtk eval/predict).

Nothing here touches the file system: a checkpoint must still load for
``seqtk predict`` on a machine without the training data.
"""

from __future__ import annotations

from seqtk.config import checks
from seqtk.errors import SeqtkError
from seqtk_plugins.tag.config import TagData, TagModel, TagVocab


def check_data(data: TagData) -> None:
    """Raise :class:`SeqtkError` for ``[data]`` values that cannot work."""
    if data.source == "files" and not data.path:
        raise SeqtkError('data.source = "files" needs data.path', fix="set data.path to a tagged file or folder")
    brown = data.source == "brown" or (data.source == "auto" and not data.path)
    if brown and (data.val_path or data.test_path):
        raise SeqtkError(
            "data.val_path and data.test_path name held-out files of data.path, but the source is the Brown corpus, "
            "which is split by file",
            fix='remove them, or set data.path to the training file (data.source = "files")',
        )
    if not brown and data.tags != "stripped":  # an override cannot remove a recipe's value: name the one that works
        raise SeqtkError(
            f'data.tags = "{data.tags}" converts Brown tags, but the source is data.path, read as it is',
            fix='set data.tags=stripped (the default, which leaves the file\'s tags as they are), or set '
            'data.source = "brown" for a local Brown folder',
        )
    checks.split_fractions(data.val_fraction, data.test_fraction)
    checks.at_least("data.max_documents", data.max_documents, 0)
    checks.at_least("data.bucket_factor", data.bucket_factor, 1)
    checks.at_least("data.eval_batch_size", data.eval_batch_size, 1)
    for key in ("tokens_key", "tags_key"):
        if not getattr(data, key).strip():
            raise SeqtkError(f"data.{key} is empty", fix=f"remove data.{key} to use its default")


def check_vocab(vocab: TagVocab) -> None:
    checks.at_least("vocab.min_freq", vocab.min_freq, 1)
    checks.at_least("vocab.max_size", vocab.max_size, 0)
    checks.at_least("vocab.char_min_freq", vocab.char_min_freq, 1)
    checks.at_least(
        "vocab.num_oov_buckets", vocab.num_oov_buckets, 1,
        fix="set vocab.num_oov_buckets = 1 or more: words outside the vocabulary need a row, or predict would fail",
    )  # fmt: skip


def check_model(model: TagModel) -> None:
    """Raise :class:`SeqtkError` for a ``[model]`` section that cannot be built (the stack: TagModel.check)."""
    checks.at_least("model.embedding_dim", model.embedding_dim, 1)
    checks.dropout("model.input_dropout", model.input_dropout, example=0.25)
    if model.char_encoder != "none":
        checks.at_least("model.char_embedding_dim", model.char_embedding_dim, 1)
        checks.at_least("model.char_features", model.char_features, 2)
        checks.at_least("model.max_word_chars", model.max_word_chars, 2)
    if model.char_encoder == "lstm" and model.char_features % 2:
        raise SeqtkError(
            f"model.char_features = {model.char_features} is odd, but the character LSTM gives half of it per direction",
            fix=f"set model.char_features = {model.char_features + 1}",
        )
    stack = model.stack()
    if not stack[-1].return_sequences:
        raise SeqtkError(
            f"the last layer {stack[-1].describe()} has return_sequences = false, but a tagger needs every step",
            fix="remove return_sequences = false from the last [[model.layers]] table",
        )
