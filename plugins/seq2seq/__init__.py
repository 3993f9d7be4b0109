"""The ``seq2seq`` task: a source sequence in, a target sequence out, with attention and beam search.

:mod:`.task` is the Task; :mod:`.sources` picks the examples (:mod:`.cmudict`,
:mod:`.addition`, :mod:`.files`) and :mod:`.splits` splits them by example;
:mod:`.batching` turns them into ids and batches; :mod:`.metrics` scores the
decoded outputs (WER, PER, chrF, BLEU); :mod:`.report` prints and logs;
:mod:`.inference` is ``seqtk predict``; :mod:`.export` is what ``seqtk export``
writes (the encoder and one decoder step). The model and the decoding are the
core's (:mod:`seqtk.nn.encoder_decoder`, :mod:`seqtk.nn.decoding`).
"""
