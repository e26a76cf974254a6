"""Deprecated path: this module moved to `nengo_keras.nengo_dl.compat`."""

from ._deprecated import moved
from .nengo_dl import compat as _module

moved(__name__, _module)
