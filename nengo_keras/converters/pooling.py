"""Average pooling (a sparse matrix) and exact max pooling (rectifier trees)."""

from __future__ import annotations

import keras
import numpy as np
import scipy.sparse as sp

from .._linear import Matrix, selection
from ..registry import register_converter
from . import _neural, _spatial


def _maximum_over(ctx, x, candidates, shape):
    values = [ctx.linear(x, selection(c, x.size), shape) for c in candidates]
    return _neural.maximum(ctx, values)


def convert_pooling(layer, ctx, x, **_):
    """Average/MaxPooling1D/2D/3D with any strides and padding.

    Max pooling is exact: ``max(a, b) = b + relu(a - b)`` in a tree, using
    ``window - 1`` rectifier neurons per output. ``max_to_avg_pool=True``
    averages instead (NengoDL's approximation).
    """
    rank = len(layer.pool_size)
    axis = _spatial.channel_axis(layer, rank)
    out_shape = ctx.output_shapes[0]
    args = (x.shape, out_shape, layer.pool_size, layer.strides, layer.padding, axis)
    if layer.pool_mode == "average" or ctx.options.max_to_avg_pool:
        return ctx.linear(x, Matrix(_spatial.pool_matrix(*args)), out_shape)
    return _maximum_over(ctx, x, _spatial.pool_candidates(*args), out_shape)


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
    axis = _spatial.channel_axis(layer, rank)
    spatial, channels = _spatial.split_channels(x.shape, axis)
    out_shape = ctx.output_shapes[0]
    pos = np.arange(int(np.prod(spatial)))
    # candidates[k, c] = flat input index of spatial position k, channel c
    candidates = _spatial.flat_index(
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
    register_converter(_cls, convert_pooling, values=True)

for _cls in _GLOBAL_AVERAGE + (
    keras.layers.GlobalMaxPooling1D,
    keras.layers.GlobalMaxPooling2D,
    keras.layers.GlobalMaxPooling3D,
):
    register_converter(_cls, convert_global_pooling, values=True)
