"""``seqtk.vocab_io``, the path before the areas became folders: it is :mod:`seqtk.text.vocab_io`."""

import sys

from seqtk.text import vocab_io as _module

sys.modules[__name__] = _module
