"""Recipe checks for the classify task (and its sentiment preset), run before any data is loaded.

Nothing here touches the file system: a checkpoint must still load for
``seqtk predict`` on a machine without the training data.
"""

from __future__ import annotations

from seqtk.config import checks
from seqtk.errors import SeqtkError
from seqtk.text.vector_sets import named
from seqtk_plugins.classify.config import ClassifyData, ClassifyModel, ClassifyVocab


def check_data(data: ClassifyData) -> None:
    """Raise :class:`SeqtkError` for ``[data]`` values that cannot work."""
    if data.source == "hub" and data.path:
        raise SeqtkError(
            'data.source = "hub" reads data.hub_name, but data.path is set too',
            fix='remove data.path, or set data.source = "auto" to read data.path',
        )
    if data.source in ("aclimdb", "file", "folder") and not data.path:
        raise SeqtkError(f'data.source = "{data.source}" needs data.path', fix="set data.path to the local data")
    if data.source == "hub" and not data.hub_name.strip():
        raise SeqtkError('data.source = "hub" needs data.hub_name', fix='set data.hub_name, e.g. "SetFit/bbc-news"')
    if data.label_separator and not data.multi_label:
        raise SeqtkError(
            f'data.label_separator = "{data.label_separator}" cuts a label string into several labels, '
            "but data.multi_label is false",
            fix='set data.multi_label = true, or remove data.label_separator',
        )
    if data.multi_label and data.source in ("bbc_news", "folder"):
        raise SeqtkError(
            f'data.multi_label = true, but data.source = "{data.source}" gives each text one label (its folder)',
            fix='remove data.multi_label, or use a JSONL/parquet file whose label column holds lists (data.source = "file")',
        )
    if data.multi_label and data.balance == "sampling":
        raise SeqtkError(
            'data.balance = "sampling" draws texts per class, which a multi-label text does not have',
            fix='use data.balance = "class_weights" (per-label weights) or "none"',
        )
    checks.split_fractions(data.val_fraction, data.test_fraction)
    checks.at_least("data.max_tokens", data.max_tokens, 0)
    if not 0.0 <= data.crop <= 1.0:
        raise SeqtkError(f"data.crop must be between 0 and 1, not {data.crop}: it is the shortest share of a text a "
                         "training crop keeps", fix="use e.g. 0.5 (crops of half a text or more), or 0 for whole texts")  # fmt: skip
    checks.at_least("data.bucket_factor", data.bucket_factor, 1)
    checks.at_least("data.eval_batch_size", data.eval_batch_size, 1)
    for key in ("text_column", "label_column", "hub_train_split"):
        if not getattr(data, key).strip():
            raise SeqtkError(f"data.{key} is empty", fix=f"remove data.{key} to use its default")


def check_vocab(vocab: ClassifyVocab) -> None:
    checks.at_least("vocab.max_size", vocab.max_size, 0)
    checks.at_least("vocab.min_freq", vocab.min_freq, 1)
    checks.at_least("vocab.bpe_size", vocab.bpe_size, 2)
    if vocab.num_oov_buckets < 1:
        raise SeqtkError(
            f"vocab.num_oov_buckets must be at least 1, not {vocab.num_oov_buckets}: words outside the vocabulary "
            "need a bucket, or predicting an unseen word would fail",
            fix="set vocab.num_oov_buckets = 2 (the lectures' value) or more",
        )


def check_model(model: ClassifyModel) -> None:
    """Raise :class:`SeqtkError` for a ``[model]`` section that cannot be built (the stack itself is checked
    once, by the core's ``StackConfig.check``)."""
    checks.at_least("model.embedding_dim", model.embedding_dim, 1)
    checks.dropout("model.dropout", model.dropout, example=0.2)
    checks.dropout("model.word_dropout", model.word_dropout, example=0.2)
    layers = model.stack()
    last, n = layers[-1], len(layers)
    if model.pooling == "last" and last.return_sequences:
        raise SeqtkError(
            f'model.pooling = "last" reads the last layer\'s final state, but layer {n} {last.describe()} has '
            "return_sequences = true",
            fix=f'set return_sequences = false on layer {n}, or model.pooling = "mean", "max", "mean_max" or "attention"',
        )
    if model.pooling != "last" and not last.return_sequences:
        raise SeqtkError(
            f'model.pooling = "{model.pooling}" pools over every step, but layer {n} {last.describe()} has '
            "return_sequences = false",
            fix=f'set return_sequences = true on layer {n}, or model.pooling = "last"',
        )
    if model.freeze_embeddings and not model.pretrained_vectors:
        raise SeqtkError(
            "model.freeze_embeddings = true without model.pretrained_vectors would keep random embeddings fixed",
            fix='set model.pretrained_vectors to a GloVe/word2vec file or "glove-6b-100d", or remove freeze_embeddings',
        )
    vector_set = named(model.pretrained_vectors)
    if vector_set is not None and model.embedding_dim != vector_set.dim:
        raise SeqtkError(
            f'model.pretrained_vectors = "{vector_set.name}" holds {vector_set.dim}-dimensional vectors but '
            f"model.embedding_dim is {model.embedding_dim}",
            fix=f"set model.embedding_dim = {vector_set.dim}",
        )
