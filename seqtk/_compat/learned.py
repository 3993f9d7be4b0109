"""``seqtk.learned``, the path before the areas became folders: it is :mod:`seqtk.tasks.learned`."""

import sys

from seqtk.tasks import learned as _module

sys.modules[__name__] = _module
