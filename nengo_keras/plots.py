"""Deprecated path: this module moved to `nengo_keras.run.plots`."""

from ._deprecated import moved
from .run import plots as _module

moved(__name__, _module)
