"""``seqtk.folders``, the path before the areas became folders: it is :mod:`seqtk.data.folders`."""

import sys

from seqtk.data import folders as _module

sys.modules[__name__] = _module
