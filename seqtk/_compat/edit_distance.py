"""``seqtk.edit_distance``, the path before the areas became folders: it is :mod:`seqtk.text.edit_distance`."""

import sys

from seqtk.text import edit_distance as _module

sys.modules[__name__] = _module
