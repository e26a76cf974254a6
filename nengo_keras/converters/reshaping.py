"""Layers that only move elements: no Nengo objects at all.

Flatten and Reshape change nothing (data are flat in C order); padding,
cropping, nearest upsampling, permutes and repeats become post indices or
selection matrices on the connections that read them.
"""

from __future__ import annotations

import keras

from ..conversion.registry import register
from ._lib.probing import convert_by_index_map
from ._lib.probing import linear_map


@register(keras.layers.Reshape)
def convert_reshape(layer, ctx, x, **_):
    return x.reshape(ctx.output_shapes[0])


@register(keras.layers.Flatten)
def convert_flatten(layer, ctx, x, **_):
    if getattr(layer, "data_format", "channels_last") == "channels_first" and len(x.shape) > 1:
        return convert_by_index_map(layer, ctx, x)  # Keras moves channels last first
    return x.reshape(ctx.output_shapes[0])


for _cls in (
    keras.layers.ZeroPadding1D,
    keras.layers.ZeroPadding2D,
    keras.layers.ZeroPadding3D,
    keras.layers.Cropping1D,
    keras.layers.Cropping2D,
    keras.layers.Cropping3D,
    keras.layers.UpSampling1D,
    keras.layers.UpSampling3D,
    keras.layers.Permute,
    keras.layers.RepeatVector,
):
    register(_cls, convert_by_index_map)


@register(keras.layers.UpSampling2D)
def convert_upsampling2d(layer, ctx, x, **_):
    """Nearest: an index map; bilinear: a sparse matrix found by probing."""
    if layer.interpolation == "nearest":
        return convert_by_index_map(layer, ctx, x)
    matrix, offset = linear_map(layer, x.shape)
    return ctx.linear(x, matrix, ctx.output_shapes[0]) + offset
