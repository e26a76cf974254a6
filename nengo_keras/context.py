"""Deprecated path: this module moved to `nengo_keras.conversion.context`."""

from ._deprecated import moved
from .conversion import context as _module

moved(__name__, _module)
