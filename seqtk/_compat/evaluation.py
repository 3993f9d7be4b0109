"""``seqtk.evaluation``, the path before the areas became folders: it is :mod:`seqtk.tasks.evaluation`."""

import sys

from seqtk.tasks import evaluation as _module

sys.modules[__name__] = _module
