"""Batch normalization at inference: an elementwise affine map.

The scale folds into the neighbouring linear layer's weights (the kernel of the
convolution before it, or of the one after an activation) and the offset into
the neurons' bias, so in most models batch normalization leaves no trace in
the Nengo network. ``fold_batchnorm=False`` keeps it as its own connection.
"""

from __future__ import annotations

import keras
import numpy as np

from ..registry import register_converter
from ..values import Value


def per_axis(vector, shape, axes):
    """Broadcast a vector over ``shape`` along ``axes`` (no batch axis)."""
    view = [1] * len(shape)
    for a in axes:
        view[a] = shape[a]
    return np.broadcast_to(np.reshape(vector, view), shape).ravel()


def feature_axes(layer, ndim):
    axes = layer.axis if isinstance(layer.axis, (list, tuple)) else [layer.axis]
    # Keras axes count the batch axis; ours do not
    return [(a % (ndim + 1)) - 1 for a in axes]


@register_converter(keras.layers.BatchNormalization, values=True)
def convert_batch_normalization(layer, ctx, x, **_):
    """``gamma * (x - mean) / sqrt(var + eps) + beta`` with moving statistics."""
    axes = feature_axes(layer, len(x.shape))
    mean = ctx.weight(layer, "moving_mean")
    var = ctx.weight(layer, "moving_variance")
    gamma = ctx.weight(layer, "gamma") if layer.scale else np.ones_like(mean)
    beta = ctx.weight(layer, "beta") if layer.center else np.zeros_like(mean)
    scale = gamma / np.sqrt(var + layer.epsilon)
    offset = beta - mean * scale
    if not ctx.options.fold_batchnorm and any(t.transform is not None for t in x.terms):
        x = Value.of(ctx.materialize(x), x.shape)
    y = ctx.linear(x, _scale(per_axis(scale, x.shape, axes), x.size), x.shape)
    return y + per_axis(offset, x.shape, axes)


def _scale(a, size):
    from .._linear import Scale

    return Scale(a, size)
