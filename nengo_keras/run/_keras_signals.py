"""Nengo signals as batched Keras tensors, for `nengo_keras.run.keras_engine`.

Every base signal that an operator writes is one tensor of shape
``(batch, base.size)`` (its flat C-order elements, one row per sample);
signals nothing writes (weights, gains, biases) are constants without a batch
axis. A view of a base is found by its flat element indices, so reads are
slices or gathers and writes rebuild the base (functionally: the backends
compile this into in-place updates).
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops


def view_indices(sig):
    """Flat indices of ``sig``'s elements in its base, in ``sig``'s C order."""
    base = sig.base
    if sig is base or (sig.size == base.size and _contiguous(sig)):
        return np.arange(base.size).reshape(sig.shape)
    flat = np.arange(base.size)
    strides = tuple(s * flat.itemsize for s in sig.elemstrides)
    return np.lib.stride_tricks.as_strided(
        flat[sig.elemoffset :], shape=sig.shape, strides=strides
    ).copy()


def _contiguous(sig):
    expected, step = [], 1
    for n in reversed(sig.shape):
        expected.insert(0, step)
        step *= n
    return sig.elemoffset == 0 and (
        sig.size <= 1
        or all(s == e for s, e, n in zip(sig.elemstrides, expected, sig.shape) if n > 1)
    )


def as_range(idx):
    """``(start, stop)`` if ``idx`` is a contiguous ascending range, else None."""
    idx = np.ravel(idx)
    if idx.size and np.array_equal(idx, np.arange(idx[0], idx[0] + idx.size)):
        return int(idx[0]), int(idx[0] + idx.size)
    return None


ZERO = "zero"  # the value of a signal known to be all zeros in this step


class State:
    """The current value of every signal during one (traced) simulation step.

    Parameters
    ----------
    values : dict
        ``{base signal: (batch, size) tensor}`` of the variable signals known
        so far in this step.
    constants : dict
        ``{base signal: ndarray}`` of the signals nothing writes.
    dtype : str
        Floating-point dtype of the computation.
    """

    def __init__(self, values, constants, dtype, batch):
        self.values = values
        self.constants = constants
        self.dtype = dtype
        self.batch = batch

    def is_constant(self, sig):
        return sig.base in self.constants

    def is_zero(self, sig):
        """Whether ``sig`` is known to be zero (reset and not yet written, or
        a constant of zeros): adding its products can be skipped."""
        if self.is_constant(sig):
            return not self.constants[sig.base].any() if not hasattr(
                self.constants[sig.base], "nnz") else self.constants[sig.base].nnz == 0
        return self.values.get(sig.base) is ZERO

    def set_zero(self, sig):
        if sig.size == sig.base.size:
            self.values[sig.base] = ZERO
        else:
            self.write(sig, ops.zeros((self.batch, sig.size), dtype=self.dtype))

    def materialized(self, base):
        value = self.values[base]
        if value is ZERO:
            return ops.zeros((self.batch, base.size), dtype=self.dtype)
        return value

    def constant(self, sig):
        """The value of a constant signal as an ndarray of its shape."""
        base = self.constants[sig.base]
        return np.ravel(base)[view_indices(sig)].reshape(sig.shape)

    def read(self, sig):
        """``(batch, *sig.shape)`` tensor (or a constant ndarray of ``sig.shape``)."""
        if self.is_constant(sig):
            return self.constant(sig).astype(self.dtype)
        if sig.base not in self.values:
            raise KeyError(f"signal {sig.base} read before it was computed in this step")
        value = self.materialized(sig.base)
        idx = view_indices(sig)
        span = as_range(idx)
        if span == (0, sig.base.size):
            out = value
        elif span is not None:
            out = value[:, span[0] : span[1]]
        else:
            out = ops.take(value, np.ravel(idx), axis=1)
        return ops.reshape(out, (-1,) + tuple(sig.shape))

    def write(self, sig, value, inc=False, sub=None):
        """Set (or with ``inc`` add to) ``sig`` (optionally ``sig[sub]``, the
        elements picked by a Copy's ``dst_slice``) with a batched ``value``."""
        base = sig.base
        idx = view_indices(sig)
        if sub is not None:
            idx = np.ravel(idx)[sub]
        idx = np.ravel(idx)
        value = ops.reshape(ops.cast(value, self.dtype), (-1, idx.size))
        if inc and np.unique(idx).size < idx.size:
            # repeated targets add up (as numpy.add.at)
            idx, value = _sum_repeats(idx, value)
        old = self.values.get(base)
        if old is ZERO:
            if inc and as_range(idx) == (0, base.size):
                self.values[base] = value
                return
            old = self.materialized(base)
        if old is None and (inc or idx.size < base.size):
            raise KeyError(f"signal {base} partially written before it was computed")
        if inc:
            value = value + (old if as_range(idx) == (0, base.size) else _gather(old, idx))
        self.values[base] = _place(old, idx, value, base.size)


def _gather(x, idx):
    span = as_range(idx)
    if span is not None:
        return x[:, span[0] : span[1]]
    return ops.take(x, idx, axis=1)


def _sum_repeats(idx, value):
    unique, inverse = np.unique(idx, return_inverse=True)
    summed = ops.segment_sum(ops.transpose(value), inverse, num_segments=unique.size)
    return unique, ops.transpose(summed)


def _place(old, idx, value, size):
    """``old`` with its columns ``idx`` replaced by ``value``."""
    span = as_range(idx)
    if span == (0, size):
        return value
    if span is not None:
        parts = [old[:, : span[0]], value, old[:, span[1] :]]
        return ops.concatenate([p for p in parts if p.shape[1] != 0], axis=1)
    perm = np.arange(size)
    perm[idx] = size + np.arange(idx.size)
    return ops.take(ops.concatenate([old, value], axis=1), perm, axis=1)


def batched(x, batch, dtype):
    """``x`` with a batch axis (constants are broadcast)."""
    if isinstance(x, np.ndarray):
        return ops.broadcast_to(ops.convert_to_tensor(x.astype(dtype)), (batch,) + x.shape)
    return x


def backend():
    return keras.backend.backend()
