"""Deprecated path: this module moved to `nengo_keras.run.evaluation`."""

from ._deprecated import moved
from .run import evaluation as _module

moved(__name__, _module)
