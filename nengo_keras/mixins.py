"""Deprecated path: this module moved to `nengo_keras.converters.mixins`."""

from ._deprecated import moved
from .converters import mixins as _module

moved(__name__, _module)
