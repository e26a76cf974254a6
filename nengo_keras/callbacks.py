"""Deprecated path: this module moved to `nengo_keras.spiking.callbacks`."""

from ._deprecated import moved
from .spiking import callbacks as _module

moved(__name__, _module)
