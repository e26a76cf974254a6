"""Preprocessing layers that are affine maps: Rescaling and Normalization.

Both fold into the connections around them like batch normalization does.
"""

from __future__ import annotations

import keras
import numpy as np

from .._linear import Scale
from ..registry import register_converter
from .merging import broadcast, constant_like


def _affine(ctx, x, scale, offset):
    """``x * scale + offset`` with Keras broadcasting, as a Value."""
    shape = ctx.output_shapes[0]
    x = broadcast(ctx, x, shape)
    size = int(np.prod(shape))
    return ctx.linear(x, Scale(constant_like(scale, shape), size), shape) + constant_like(
        offset, shape
    )


@register_converter(keras.layers.Rescaling, values=True)
def convert_rescaling(layer, ctx, x, **_):
    """``x * scale + offset`` (scalars or arrays)."""
    scale = np.asarray(keras.ops.convert_to_numpy(layer.scale), dtype=np.float64)
    if scale.ndim and keras.config.image_data_format() == "channels_first":
        # Keras puts a per-channel scale on the channel axis in this case
        scale = scale.reshape(scale.shape + (1,) * (3 - scale.ndim))
    return _affine(ctx, x, scale, layer.offset)


@register_converter(keras.layers.Normalization, values=True)
def convert_normalization(layer, ctx, x, **_):
    """``(x - mean) / max(sqrt(var), eps)``, or its inverse (``invert=True``)."""
    mean = ctx.weight(layer, "mean")
    std = np.maximum(np.sqrt(ctx.weight(layer, "variance")), keras.config.epsilon())
    if layer.invert:
        return _affine(ctx, x, std, mean)
    return _affine(ctx, x, 1.0 / std, -mean / std)
