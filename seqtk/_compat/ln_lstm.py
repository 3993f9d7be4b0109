"""``seqtk.ln_lstm``, the path before the areas became folders: it is :mod:`seqtk.nn.ln_lstm`."""

import sys

from seqtk.nn import ln_lstm as _module

sys.modules[__name__] = _module
