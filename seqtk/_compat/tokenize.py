"""``seqtk.tokenize``, the path before the areas became folders: it is :mod:`seqtk.text.tokenize`."""

import sys

from seqtk.text import tokenize as _module

sys.modules[__name__] = _module
