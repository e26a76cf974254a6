"""Average pooling (a sparse matrix) and exact max pooling (rectifier trees)."""

from __future__ import annotations

import keras
import numpy as np
import scipy.sparse as sp

from ..conversion.transforms import Matrix, selection
from ..conversion.registry import register
from ._lib import rectifiers, windows


def _maximum_over(ctx, x, candidates, shape):
    values = [ctx.linear(x, selection(c, x.size), shape) for c in candidates]
    return rectifiers.maximum(ctx, values)


def convert_pooling(layer, ctx, x, **_):
    """Average/MaxPooling1D/2D/3D with any strides and padding.

    Max pooling is exact: ``max(a, b) = b + relu(a - b)`` in a tree, using
    ``window - 1`` rectifier neurons per output. ``max_to_avg_pool=True``
    averages instead (NengoDL's approximation).
    """
    rank = len(layer.pool_size)
    axis = windows.channel_axis(layer, rank)
    out_shape = ctx.output_shapes[0]
    args = (x.shape, out_shape, layer.pool_size, layer.strides, layer.padding, axis)
    if layer.pool_mode == "average" or ctx.options.max_to_avg_pool:
        return ctx.linear(x, Matrix(windows.pool_matrix(*args)), out_shape)
    return _maximum_over(ctx, x, windows.pool_candidates(*args), out_shape)


class MaskedMean:
    """GlobalAveragePooling1D with a mask: the mean over the kept steps."""

    def __init__(self, channels_last, keepdims):
        self.channels_last = channels_last
        self.keepdims = keepdims

    def __call__(self, x, mask):
        steps = 0 if self.channels_last else 1
        keep = np.expand_dims(np.asarray(mask) > 0.5, 1 - steps)
        total = np.where(keep, x, 0.0).sum(axis=steps, keepdims=self.keepdims)
        with np.errstate(invalid="ignore", divide="ignore"):  # all masked: NaN, as Keras
            return total / keep.sum(axis=steps, keepdims=self.keepdims)


def convert_global_pooling(layer, ctx, x, *mask, **_):
    """GlobalAverage/GlobalMaxPooling1D/2D/3D (``keepdims`` too; a mask on
    GlobalAveragePooling1D, e.g. from ``Masking`` or ``Embedding(mask_zero=True)``,
    makes it a NumPy Node)."""
    if mask:
        fn = MaskedMean(layer.data_format == "channels_last", layer.keepdims)
        return ctx.node(fn, [x, mask[0]], ctx.output_shapes[0])
    rank = len(x.shape) - 1
    axis = windows.channel_axis(layer, rank)
    spatial, channels = windows.split_channels(x.shape, axis)
    out_shape = ctx.output_shapes[0]
    pos = np.arange(int(np.prod(spatial)))
    # candidates[k, c] = flat input index of spatial position k, channel c
    candidates = windows.flat_index(
        pos[:, None], np.arange(channels)[None], spatial, channels, axis
    )
    if isinstance(layer, _GLOBAL_AVERAGE) or ctx.options.max_to_avg_pool:
        rows = np.broadcast_to(np.arange(channels)[None], candidates.shape)
        m = sp.csr_matrix(
            (np.full(candidates.size, 1.0 / len(pos)), (rows.ravel(), candidates.ravel())),
            shape=(channels, x.size),
        )
        return ctx.linear(x, Matrix(m), out_shape)
    return _maximum_over(ctx, x, candidates, out_shape)


def convert_adaptive_pooling(layer, ctx, x, **_):
    """AdaptiveAverage/AdaptiveMaxPooling1D/2D/3D.

    Keras pools each spatial axis separately with windows of two sizes; the
    windows of each axis are read off the average pooling of one-hot inputs
    along that axis, so they match Keras whatever its scheme. Average: a
    sparse matrix; max: exact rectifier trees over the same windows.
    """
    rank = len(x.shape) - 1
    axis = windows.channel_axis(layer, rank)
    in_spatial, channels = windows.split_channels(x.shape, axis)
    out_shape = ctx.output_shapes[0]
    out_spatial, _ = windows.split_channels(out_shape, axis)
    per_axis = [
        _axis_windows(layer, in_spatial, d, axis) for d in range(len(in_spatial))
    ]
    plane = per_axis[0]
    for a in per_axis[1:]:
        plane = sp.kron(plane, a, format="csr")
    if isinstance(layer, _ADAPTIVE_AVERAGE) or ctx.options.max_to_avg_pool:
        eye = sp.identity(channels, format="csr")
        m = sp.kron(plane, eye) if axis else sp.kron(eye, plane)
        return ctx.linear(x, Matrix(sp.csr_matrix(m)), out_shape)
    plane = sp.csr_matrix(plane)
    width = int(np.diff(plane.indptr).max())
    inputs = np.full((plane.shape[0], width), -1, dtype=np.int64)
    for i in range(plane.shape[0]):
        cols = plane.indices[plane.indptr[i] : plane.indptr[i + 1]]
        inputs[i, : cols.size] = cols
    candidates = windows.window_candidates(inputs, x.shape, out_shape, axis)
    return _maximum_over(ctx, x, candidates, out_shape)


def _axis_windows(layer, in_spatial, d, channel_axis):
    """``(out, in)`` averaging weights of adaptive pooling along spatial axis ``d``."""
    n = in_spatial[d]
    probes = np.zeros((n,) + tuple(in_spatial))
    index = [slice(None)] * (len(in_spatial) + 1)
    index[0], index[d + 1] = np.arange(n), np.arange(n)
    probes[tuple(index)] = 1.0  # probe k: ones on the slab at position k of axis d
    probes = probes[..., None] if channel_axis else probes[:, None]
    pool = _ADAPTIVE_AVERAGE[len(in_spatial) - 1](
        layer.output_size, data_format=layer.data_format
    )
    out = keras.ops.convert_to_numpy(pool(keras.ops.convert_to_tensor(probes, "float32")))
    out = out[..., 0] if channel_axis else out[:, 0]
    # along the other axes the probe is constant: read position 0 there
    out = out[(slice(None),) + tuple(slice(None) if e == d else 0 for e in range(len(in_spatial)))]
    weights = np.where(np.abs(out) > 1e-6, out, 0.0).T
    return sp.csr_matrix(weights)


# (Keras >= 3.12; empty before)
_ADAPTIVE_AVERAGE = tuple(
    getattr(keras.layers, f"AdaptiveAveragePooling{n}D")
    for n in (1, 2, 3)
    if hasattr(keras.layers, f"AdaptiveAveragePooling{n}D")
)
_ADAPTIVE_MAX = tuple(
    getattr(keras.layers, f"AdaptiveMaxPooling{n}D")
    for n in (1, 2, 3)
    if hasattr(keras.layers, f"AdaptiveMaxPooling{n}D")
)
for _cls in _ADAPTIVE_AVERAGE + _ADAPTIVE_MAX:
    register(_cls, convert_adaptive_pooling)


_GLOBAL_AVERAGE = (
    keras.layers.GlobalAveragePooling1D,
    keras.layers.GlobalAveragePooling2D,
    keras.layers.GlobalAveragePooling3D,
)

for _cls in (
    keras.layers.AveragePooling1D,
    keras.layers.AveragePooling2D,
    keras.layers.AveragePooling3D,
    keras.layers.MaxPooling1D,
    keras.layers.MaxPooling2D,
    keras.layers.MaxPooling3D,
):
    register(_cls, convert_pooling)

for _cls in _GLOBAL_AVERAGE + (
    keras.layers.GlobalMaxPooling1D,
    keras.layers.GlobalMaxPooling2D,
    keras.layers.GlobalMaxPooling3D,
):
    register(_cls, convert_global_pooling)
