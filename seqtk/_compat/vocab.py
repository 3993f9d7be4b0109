"""``seqtk.vocab``, the path before the areas became folders: it is :mod:`seqtk.text.vocab`."""

import sys

from seqtk.text import vocab as _module

sys.modules[__name__] = _module
