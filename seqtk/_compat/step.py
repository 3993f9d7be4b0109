"""``seqtk.step``, the path before the areas became folders: it is :mod:`seqtk.tasks.step`."""

import sys

from seqtk.tasks import step as _module

sys.modules[__name__] = _module
