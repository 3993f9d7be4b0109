"""``seqtk.split_record``, the path before the areas became folders: it is :mod:`seqtk.data.split_record`."""

import sys

from seqtk.data import split_record as _module

sys.modules[__name__] = _module
