"""NengoDL's ``converter`` module path: ``nengo_keras.converter.LayerConverter``.

NengoDL users write ``nengo_dl.converter.LayerConverter``; the same path works
here (the classes live in `nengo_keras.nengo_dl.compat`). The engine's
``to_nengo`` and ``convert``, which this module used to hold, moved to
`nengo_keras.conversion` (old names still work here for one release, with a
``DeprecationWarning``).

Examples
--------
>>> class ConvertAddOne(nengo_keras.converter.LayerConverter):
...     def convert(self, node_id):
...         return self.add_nengo_obj(node_id)
"""

import warnings

from .conversion import pipeline as _pipeline
from .nengo_dl.compat import Converter, LayerConverter
from .nengo_dl.compat import configure_trainable as _configure_trainable

__all__ = ["Converter", "LayerConverter"]

_MOVED = {"to_nengo", "convert", "LayerReport"}


def __getattr__(name):
    if name in _MOVED:
        warnings.warn(
            f"nengo_keras.converter.{name} moved to nengo_keras.conversion.{name}",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(_pipeline, name)
    if name == "configure_trainable":
        warnings.warn(
            "nengo_keras.converter.configure_trainable moved to "
            "nengo_keras.nengo_dl.compat.configure_trainable",
            DeprecationWarning,
            stacklevel=2,
        )
        return _configure_trainable
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
