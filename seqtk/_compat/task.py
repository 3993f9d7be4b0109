"""``seqtk.task``, the path before the areas became folders: it is :mod:`seqtk.tasks.task`."""

import sys

from seqtk.tasks import task as _module

sys.modules[__name__] = _module
