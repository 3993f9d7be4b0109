"""``seqtk.vectors``, the path before the areas became folders: it is :mod:`seqtk.text.vectors`."""

import sys

from seqtk.text import vectors as _module

sys.modules[__name__] = _module
