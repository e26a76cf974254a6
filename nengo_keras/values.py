"""Deprecated path: this module moved to `nengo_keras.conversion.values`."""

from ._deprecated import moved
from .conversion import values as _module

moved(__name__, _module)
