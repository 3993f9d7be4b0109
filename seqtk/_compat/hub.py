"""``seqtk.hub``, the path before the areas became folders: it is :mod:`seqtk.inference.hub`."""

import sys

from seqtk.inference import hub as _module

sys.modules[__name__] = _module
