"""Deprecated path: this module moved to `nengo_keras.run.simulation`."""

from ._deprecated import moved
from .run import simulation as _module

moved(__name__, _module)
