"""``seqtk.predictor``, the path before the areas became folders: it is :mod:`seqtk.inference.predictor`."""

import sys

from seqtk.inference import predictor as _module

sys.modules[__name__] = _module
