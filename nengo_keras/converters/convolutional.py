"""Convolutions: `nengo.Convolution` where it is exact, sparse matrices elsewhere."""

from __future__ import annotations

import keras
import nengo
import numpy as np

from .._linear import Conv, Matrix
from ..registry import register_converter
from . import _spatial


def expand_groups(kernel, groups):
    """A grouped kernel as a full one, zeros off the groups (``groups=1``)."""
    if groups == 1:
        return kernel
    *window, per_group_in, c_out = kernel.shape
    per_group_out = c_out // groups
    full = np.zeros(tuple(window) + (per_group_in * groups, c_out))
    for g in range(groups):
        outs = slice(g * per_group_out, (g + 1) * per_group_out)
        full[..., g * per_group_in : (g + 1) * per_group_in, outs] = kernel[..., outs]
    return full


def conv_transform(ctx, kernel, in_shape, out_shape, strides, padding, dilation, groups, axis):
    """The `Linear` map of a convolution with a Keras-layout kernel.

    `nengo.Convolution` (fast im2col in the reference simulator, supported by
    every backend) for 1-D/2-D convolutions without dilation and with
    "valid"/"same" padding; an exact sparse matrix otherwise (the reference
    simulator has no 3-D convolution, and Nengo none with dilation).
    """
    rank = kernel.ndim - 2
    strides, dilation = tuple(strides), tuple(dilation)
    if ctx.options.groups_as_dense and groups > 1:
        kernel, groups = expand_groups(kernel, groups), 1
    if rank <= 2 and set(dilation) == {1} and padding in ("valid", "same"):
        return Conv(
            nengo.Convolution(
                n_filters=kernel.shape[-1],
                input_shape=nengo.transforms.ChannelShape(
                    in_shape, channels_last=axis != 0
                ),
                kernel_size=kernel.shape[:rank],
                strides=strides,
                padding=padding,
                channels_last=axis != 0,
                init=kernel,
                groups=groups,
            )
        )
    return Matrix(
        _spatial.conv_matrix(
            in_shape, out_shape, kernel, strides, padding, dilation, groups, axis
        )
    )


def channel_bias(bias, shape, axis):
    """A per-channel bias broadcast over a feature map (flat)."""
    view = [1] * len(shape)
    view[axis] = -1
    return np.broadcast_to(bias.reshape(view), shape).ravel()


def convert_conv(layer, ctx, x, **_):
    """Conv1D/2D/3D (any strides, padding, dilation, groups)."""
    rank = layer.rank
    axis = _spatial.channel_axis(layer, rank)
    out_shape = ctx.output_shapes[0]
    transform = conv_transform(
        ctx,
        ctx.weight(layer, "kernel"),
        x.shape,
        out_shape,
        layer.strides,
        layer.padding,
        layer.dilation_rate,
        layer.groups,
        axis,
    )
    y = ctx.linear(x, transform, out_shape)
    if layer.use_bias:
        y = y + channel_bias(ctx.weight(layer, "bias"), out_shape, axis)
    return ctx.activate(y, layer.activation)


for _cls in (keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D):
    register_converter(_cls, convert_conv, values=True)
