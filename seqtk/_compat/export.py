"""``seqtk.export``, the path before the areas became folders: it is :mod:`seqtk.inference.export`."""

import sys

from seqtk.inference import export as _module

sys.modules[__name__] = _module
