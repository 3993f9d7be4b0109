"""``seqtk.ragged``, the path before the areas became folders: it is :mod:`seqtk.nn.ragged`."""

import sys

from seqtk.nn import ragged as _module

sys.modules[__name__] = _module
