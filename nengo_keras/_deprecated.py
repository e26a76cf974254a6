"""Old import paths of modules that moved into subpackages (kept one release)."""

from __future__ import annotations

import sys
import warnings


def moved(old, module):
    """Make the import path ``old`` an alias of ``module``, with a warning.

    The old path then gives the very same module object (private names and
    ``isinstance`` checks keep working), and ``DeprecationWarning`` tells the
    user where it lives now.
    """
    warnings.warn(
        f"{old} moved to {module.__name__}; import it from there (the old path "
        f"goes away in the next release)",
        DeprecationWarning,
        stacklevel=3,
    )
    sys.modules[old] = module
