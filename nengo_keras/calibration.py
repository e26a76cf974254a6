"""Deprecated path: this module moved to `nengo_keras.spiking.calibration`."""

from ._deprecated import moved
from .spiking import calibration as _module

moved(__name__, _module)
