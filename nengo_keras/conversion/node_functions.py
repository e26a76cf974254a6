"""The callables that nengo_keras puts in `nengo.Node` outputs.

Module-level classes (not closures), so converted networks pickle and can be
sent to worker processes.
"""

from __future__ import annotations

import keras
import numpy as np


def to_numpy(x):
    """A Keras variable or tensor of any backend as a float64 NumPy array."""
    if isinstance(x, keras.Variable):
        # Variable.numpy() avoids a NumPy 2 deprecation path inside Keras
        return np.asarray(x.numpy(), dtype=np.float64)
    return np.asarray(keras.ops.convert_to_numpy(x), dtype=np.float64)


class NodeFunction:
    """Adapts ``fn(*arrays) -> array`` to a Node's ``f(t, x) -> vector``."""

    def __init__(self, fn, in_shapes, out_shape):
        self.fn = fn
        self.in_shapes = [tuple(s) for s in in_shapes]
        self.out_shape = tuple(out_shape)
        sizes = [int(np.prod(s)) for s in self.in_shapes]
        self.splits = np.cumsum(sizes)[:-1]

    def __call__(self, t, x):
        parts = np.split(x, self.splits)
        arrays = [p.reshape(s) for p, s in zip(parts, self.in_shapes)]
        return np.asarray(self.fn(*arrays), dtype=np.float64).ravel()

    def __repr__(self):
        return f"NodeFunction({getattr(self.fn, '__name__', self.fn)!r})"


class KerasFunction:
    """Calls a Keras function (or layer) on arrays with a batch axis of 1."""

    def __init__(self, fn):
        self.fn = fn

    def __call__(self, *arrays):
        batched = [keras.ops.convert_to_tensor(a[None], dtype="float32") for a in arrays]
        return keras.ops.convert_to_numpy(self.fn(*batched))[0]

    @property
    def __name__(self):
        return getattr(self.fn, "__name__", type(self.fn).__name__)


class InputFeed:
    """Output of an input Node: zeros, or the data `ConvertedModel.run` feeds.

    ``data`` is None (zeros), an array of the input's shape (held constant), or
    an array with a leading time axis (one row per step, the last row held).
    """

    def __init__(self, shape):
        self.shape = tuple(shape)
        self.size = int(np.prod(shape))
        self.data = None
        self._zeros = np.zeros(self.size)

    def __call__(self, t):
        data = self.data
        if data is None:
            return self._zeros
        if data.ndim == 1:
            return data
        step = min(int(round(t / self.dt)) - 1, data.shape[0] - 1)
        return data[max(step, 0)]

    def set(self, data, dt):
        """Present ``data`` (flat per step, see the class docstring)."""
        self.dt = dt
        self.data = None if data is None else np.asarray(data, dtype=np.float64)
