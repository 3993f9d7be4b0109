"""``seqtk.min_rnn``, the path before the areas became folders: it is :mod:`seqtk.nn.min_rnn`."""

import sys

from seqtk.nn import min_rnn as _module

sys.modules[__name__] = _module
