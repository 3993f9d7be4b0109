"""The ``textgen`` task: character-level language models (char-rnn) on any text.

Modules: :mod:`.config` (the recipe's ``[data]``, ``[vocab]``, ``[model]``
sections), :mod:`.checks` (recipe checks before any data loads),
:mod:`.corpus` (Shakespeare, local files, Hugging Face datasets; splits),
:mod:`.sampling` (generation and scoring) and :mod:`.task` (``TextGenTask``).
Its batches (random windows, carried streams) are the core's
:mod:`seqtk.data.lm_batches`. Importing this package imports nothing else.
"""
