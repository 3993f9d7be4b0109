"""Text classification: the ``classify`` task (any labels, from the user's files) and its ``sentiment`` preset.

Modules: :mod:`.config` (the recipe's ``[data]``, ``[vocab]``, ``[model]``
sections), :mod:`.checks` (recipe checks before any data loads), where the
texts come from (:mod:`.sources`; :mod:`.tables` for CSV/TSV/JSONL/JSON/parquet
files and Hugging Face datasets, :mod:`.folders` for ``label/*.txt`` folders
and the BBC News articles, :mod:`.sentiment_data` for the review data sets),
:mod:`.corpus` (labelled texts), :mod:`.splits` (deduplicated, stratified
splits), :mod:`.labels` (label names between data and model),
:mod:`.batching` (encoding, bucketed or class-balanced batches),
:mod:`.model` (the classifier and its pooling), :mod:`.metrics` (confusion
counts, macro-F1, the per-class table), :mod:`.reporting` (what is printed
and logged), :mod:`.inference` (predict), :mod:`.task` (``ClassifyTask``)
and :mod:`.sentiment` (``SentimentTask``, the preset).
Importing this package imports nothing else.
"""
