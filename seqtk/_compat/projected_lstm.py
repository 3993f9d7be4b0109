"""``seqtk.projected_lstm``, the path before the areas became folders: it is :mod:`seqtk.nn.projected_lstm`."""

import sys

from seqtk.nn import projected_lstm as _module

sys.modules[__name__] = _module
