"""The ``toy_sequences`` task: the lectures' worked examples, each trains in seconds on a CPU.

Modules: :mod:`.config` (the recipe's ``[data]`` and ``[model]`` sections),
:mod:`.problems` (the examples, generated exactly as the lectures describe, and
the lectures' test inputs with the values they report), :mod:`.model` (the
recurrent network and its head) and :mod:`.task` (``ToySequencesTask``).
Importing this package imports nothing else.
"""
