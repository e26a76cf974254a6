"""Normalization layers.

Batch normalization at inference is an elementwise affine map: the scale folds
into the neighbouring linear layer's weights (the kernel of the convolution
before it, or of the one after an activation) and the offset into the
neurons' bias, so in most models batch normalization leaves no trace in the
Nengo network. ``fold_batchnorm=False`` keeps it as its own connection.

Layer, RMS, unit and group normalization divide by statistics of each
sample, which no linear map or rectifier network computes: they are NumPy
Nodes (tier "node") following Keras' formulas.
"""

from __future__ import annotations

import keras
import numpy as np

from ..conversion.registry import register
from ..conversion.transforms import Scale
from ..conversion.values import Value
from ._lib import numpy_ref


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


@register(keras.layers.BatchNormalization)
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
    return Scale(a, size)


def _statistics_node(ctx, x, fn, **params):
    return ctx.node(numpy_ref.Batched(fn, **params), [x], x.shape)


@register(keras.layers.LayerNormalization)
def convert_layer_normalization(layer, ctx, x, **_):
    """LayerNormalization (``axis``, ``center``, ``scale``, ``epsilon``,
    ``rms_scaling``)."""
    return _statistics_node(
        ctx,
        x,
        numpy_ref.layer_norm,
        gamma=ctx.weight(layer, "gamma"),
        beta=ctx.weight(layer, "beta"),
        axis=layer.axis,
        epsilon=layer.epsilon,
        rms_scaling=bool(getattr(layer, "rms_scaling", False)),
    )


@register(keras.layers.UnitNormalization)
def convert_unit_normalization(layer, ctx, x, **_):
    # the epsilon keras.layers.UnitNormalization passes to ops.normalize
    return _statistics_node(ctx, x, numpy_ref.normalize, axis=layer.axis, epsilon=1e-12)


@register(keras.layers.GroupNormalization)
def convert_group_normalization(layer, ctx, x, **_):
    return _statistics_node(
        ctx,
        x,
        numpy_ref.group_norm,
        groups=layer.groups,
        axis=layer.axis,
        epsilon=layer.epsilon,
        gamma=ctx.weight(layer, "gamma"),
        beta=ctx.weight(layer, "beta"),
    )


def convert_rms_normalization(layer, ctx, x, **_):
    return _statistics_node(
        ctx,
        x,
        numpy_ref.rms_norm,
        scale=ctx.weight(layer, "scale"),
        axis=layer.axis,
        epsilon=layer.epsilon,
    )


if hasattr(keras.layers, "RMSNormalization"):  # Keras >= 3.9
    register(keras.layers.RMSNormalization, convert_rms_normalization)
