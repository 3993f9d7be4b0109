"""The ``tag`` task: one label per token (POS, NER, chunking).

Modules: :mod:`.config` (the recipe's ``[data]``, ``[vocab]``, ``[model]``
sections), :mod:`.checks` (recipe checks before any data loads),
:mod:`.readers` (CoNLL-U, CoNLL-2003 columns, ``word/TAG`` lines, JSONL),
:mod:`.brown` and :mod:`.tagsets` (the Brown corpus and its stripped and
universal tag sets), :mod:`.corpus` (where the sentences come from),
:mod:`.splits` (by file, stratified by genre, or by sentence; the
fingerprint), :mod:`.batching` (words, characters and tags as ids; bucketed
batches), :mod:`.model` (embedding + character CNN/LSTM -> bidirectional
stack -> head, with the core's :mod:`seqtk.nn.crf`), :mod:`.spans` and
:mod:`.metrics` (token accuracy; span P/R/F1 as conlleval counts them),
:mod:`.report` (what is printed about the data), :mod:`.export` (the
emission model and the CRF's scores for ``seqtk export``) and :mod:`.task`
(``TagTask``). Importing this package imports nothing else.
"""
