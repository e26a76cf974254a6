"""Deprecated path: this module moved to `nengo_keras.spiking.layers`."""

from ._deprecated import moved
from .spiking import layers as _module

moved(__name__, _module)
