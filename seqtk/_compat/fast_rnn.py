"""``seqtk.fast_rnn``, the path before the areas became folders: it is :mod:`seqtk.nn.fast_rnn`."""

import sys

from seqtk.nn import fast_rnn as _module

sys.modules[__name__] = _module
