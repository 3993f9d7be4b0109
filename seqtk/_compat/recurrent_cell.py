"""``seqtk.recurrent_cell``, the path before the areas became folders: it is :mod:`seqtk.nn.recurrent_cell`."""

import sys

from seqtk.nn import recurrent_cell as _module

sys.modules[__name__] = _module
