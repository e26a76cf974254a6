"""Deprecated path: this module moved to `nengo_keras.conversion.activation_map`."""

from ._deprecated import moved
from .conversion import activation_map as _module

moved(__name__, _module)
