"""Deprecated path: this module moved to `nengo_keras.conversion.result`."""

from ._deprecated import moved
from .conversion import result as _module

moved(__name__, _module)
