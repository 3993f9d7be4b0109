"""``seqtk.crf``, the path before the areas became folders: it is :mod:`seqtk.nn.crf`."""

import sys

from seqtk.nn import crf as _module

sys.modules[__name__] = _module
