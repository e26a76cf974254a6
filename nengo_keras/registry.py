"""Deprecated path: this module moved to `nengo_keras.conversion.registry`."""

from ._deprecated import moved
from .conversion import registry as _module

moved(__name__, _module)
