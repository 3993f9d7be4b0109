"""``seqtk.tables``, the path before the areas became folders: it is :mod:`seqtk.data.tables`."""

import sys

from seqtk.data import tables as _module

sys.modules[__name__] = _module
