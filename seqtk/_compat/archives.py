"""``seqtk.archives``, the path before the areas became folders: it is :mod:`seqtk.data.archives`."""

import sys

from seqtk.data import archives as _module

sys.modules[__name__] = _module
