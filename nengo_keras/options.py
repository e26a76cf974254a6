"""Deprecated path: this module moved to `nengo_keras.conversion.options`."""

from ._deprecated import moved
from .conversion import options as _module

moved(__name__, _module)
