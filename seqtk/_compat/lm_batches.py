"""``seqtk.lm_batches``, the path before the areas became folders: it is :mod:`seqtk.data.lm_batches`."""

import sys

from seqtk.data import lm_batches as _module

sys.modules[__name__] = _module
