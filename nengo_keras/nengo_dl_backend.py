"""Deprecated path: this module moved to `nengo_keras.nengo_dl.backend`."""

from ._deprecated import moved
from .nengo_dl import backend as _module

moved(__name__, _module)
