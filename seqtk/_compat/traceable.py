"""``seqtk.traceable``, the path before the areas became folders: it is :mod:`seqtk.nn.traceable`."""

import sys

from seqtk.nn import traceable as _module

sys.modules[__name__] = _module
