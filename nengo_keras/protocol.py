"""Deprecated path: this module moved to `nengo_keras.conversion.protocol`."""

from ._deprecated import moved
from .conversion import protocol as _module

moved(__name__, _module)
