"""The ``sentiment`` task: binary sentiment of reviews with a word-level recurrent classifier.

Modules: :mod:`.config` (the recipe's ``[data]``, ``[vocab]``, ``[model]``
sections), :mod:`.checks` (recipe checks before any data loads), :mod:`.data`
(Rotten Tomatoes sentences, the npm IMDB sentences, aclImdb folders) and
:mod:`.tables` (CSV/TSV/JSONL/JSON/parquet files and Hugging Face datasets),
:mod:`.splits` (stratified splits), :mod:`.batching` (encoding, bucketed
batches), :mod:`.model` (the classifier), :mod:`.metrics` (confusion counts,
the confusion-matrix image) and :mod:`.task` (``SentimentTask``).
Importing this package imports nothing else.
"""
