"""Convolutions: Nengo convolution transforms where exact, sparse matrices elsewhere.

Regular, depthwise and separable convolutions use `nengo.Convolution`
(depthwise ones as grouped convolutions), transposed ones
`nengo.ConvolutionTranspose`; where Nengo cannot express a layer exactly
(3-D, dilation, causal padding, some output shapes) the layer becomes an
exact sparse matrix built by `windows.conv_matrix`.
"""

from __future__ import annotations

import keras
import nengo
import numpy as np

from nengo.transforms import ChannelShape

from ..conversion.transforms import Conv, Matrix
from ..conversion.registry import register
from ._lib import windows


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


# grouped convolutions with at most this many input channels per group
# (depthwise ones) become sparse matrices
SPARSE_BELOW_GROUP_WIDTH = 1


def conv_transform(ctx, kernel, in_shape, out_shape, strides, padding, dilation, groups, axis):
    """The `Linear` map of a convolution with a Keras-layout kernel.

    `nengo.Convolution` (fast im2col in the reference simulator, supported by
    every backend) for 1-D/2-D convolutions without dilation and with
    "valid"/"same" padding; an exact sparse matrix otherwise (the reference
    simulator has no 3-D convolution, and Nengo none with dilation), and for
    depthwise-like grouped convolutions, where the matrix is faster.
    """
    rank = kernel.ndim - 2
    strides, dilation = tuple(strides), tuple(dilation)
    if groups > 1 and kernel.shape[-2] <= SPARSE_BELOW_GROUP_WIDTH:
        # depthwise-like: Nengo's grouped convolution runs one tiny product per
        # group, about 5x slower than the sparse matrix (measured on
        # MobileNet-sized depthwise layers); the matrix also has no ``groups``
        # for other backends to mishandle
        return Matrix(
            windows.conv_matrix(
                in_shape, out_shape, kernel, strides, padding, dilation, groups, axis
            )
        )
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
        windows.conv_matrix(
            in_shape, out_shape, kernel, strides, padding, dilation, groups, axis
        )
    )


def channel_bias(bias, shape, axis):
    """A per-channel bias broadcast over a feature map (flat)."""
    view = [1] * len(shape)
    view[axis] = -1
    return np.broadcast_to(bias.reshape(view), shape).ravel()


def finish(layer, ctx, y):
    """Add a convolution layer's bias and apply its activation."""
    if layer.use_bias:
        axis = windows.channel_axis(layer, layer.rank)
        y = y + channel_bias(ctx.weight(layer, "bias"), y.shape, axis)
    return ctx.activate(y, layer.activation)


def layer_transform(ctx, layer, kernel, in_shape, out_shape, groups=1):
    """`conv_transform` with the layer's strides, padding and dilation."""
    axis = windows.channel_axis(layer, layer.rank)
    args = (layer.strides, layer.padding, layer.dilation_rate, groups, axis)
    return conv_transform(ctx, kernel, in_shape, out_shape, *args)


def as_grouped(depthwise):
    """A depthwise kernel ``(*window, channels, multiplier)`` in grouped layout.

    Output channel ``c * multiplier + m`` reads input channel ``c`` through
    ``kernel[..., c, m]``: with one group (of one input channel) per channel,
    Keras' grouped layout ``(*window, 1, channels * multiplier)`` is the same
    array reshaped. Returns the kernel and the number of groups.
    """
    return depthwise.reshape(depthwise.shape[:-2] + (1, -1)), depthwise.shape[-2]


def convert_conv(layer, ctx, x, **_):
    """Conv1D/2D/3D (any strides, padding, dilation, groups)."""
    out_shape = ctx.output_shapes[0]
    kernel = ctx.weight(layer, "kernel")
    transform = layer_transform(ctx, layer, kernel, x.shape, out_shape, layer.groups)
    return finish(layer, ctx, ctx.linear(x, transform, out_shape))


def convert_depthwise(layer, ctx, x, **_):
    """DepthwiseConv1D/2D (depth multiplier, strides, padding, dilation)."""
    out_shape = ctx.output_shapes[0]
    kernel, groups = as_grouped(ctx.weight(layer, "kernel"))
    transform = layer_transform(ctx, layer, kernel, x.shape, out_shape, groups)
    return finish(layer, ctx, ctx.linear(x, transform, out_shape))


def convert_separable(layer, ctx, x, **_):
    """SeparableConv1D/2D: a depthwise then a pointwise (1x1) convolution.

    Both are linear, so they fuse into one full convolution when that costs
    no more multiply-adds than the two steps (small windows, few filters).
    Otherwise the depthwise result is held by one pass-through Node (Nengo
    cannot chain two convolution transforms), the smallest place to cut.
    """
    out_shape = ctx.output_shapes[0]
    depthwise = ctx.weight(layer, "depthwise_kernel")  # (*window, C, M)
    pointwise = ctx.weight(layer, "pointwise_kernel")  # (1, ..., C * M, F)
    window = int(np.prod(depthwise.shape[:-2]))
    channels, multiplier = depthwise.shape[-2:]
    filters = pointwise.shape[-1]
    if window * filters <= multiplier * (window + filters):
        per_channel = pointwise.reshape(channels, multiplier, filters)
        kernel = np.einsum("...cm,cmf->...cf", depthwise, per_channel)
        transform = layer_transform(ctx, layer, kernel, x.shape, out_shape)
        return finish(layer, ctx, ctx.linear(x, transform, out_shape))
    axis = windows.channel_axis(layer, layer.rank)
    mid_shape = list(out_shape)
    mid_shape[axis] = channels * multiplier
    mid_shape = tuple(mid_shape)
    kernel, groups = as_grouped(depthwise)
    transform = layer_transform(ctx, layer, kernel, x.shape, mid_shape, groups)
    mid = ctx.linear(x, transform, mid_shape)
    ones = (1,) * layer.rank
    args = (ones, "valid", ones, 1, axis)
    transform = conv_transform(ctx, pointwise, mid_shape, out_shape, *args)
    return finish(layer, ctx, ctx.linear(mid, transform, out_shape))


def transpose_transform(
    kernel, in_shape, out_shape, strides, padding, output_padding, dilation, axis
):
    """The `Linear` map of a Keras transposed convolution.

    ``kernel`` has Keras layout ``(*window, filters, in_channels)``. For 1-D/2-D
    without dilation, `nengo.ConvolutionTranspose` pads exactly as Keras does
    whenever it accepts Keras' output shape; otherwise (3-D, dilation, an
    output shape Nengo rejects) the map is the transpose of the sparse matrix
    of the convolution it reverses.
    """
    rank = kernel.ndim - 2
    channels_last = axis != 0
    if rank <= 2 and set(dilation) == {1}:
        try:
            return Conv(
                nengo.ConvolutionTranspose(
                    n_filters=kernel.shape[-2],
                    input_shape=ChannelShape(in_shape, channels_last),
                    output_shape=ChannelShape(out_shape, channels_last),
                    kernel_size=kernel.shape[:rank],
                    strides=tuple(strides),
                    padding=padding,
                    channels_last=channels_last,
                    init=np.swapaxes(kernel, -1, -2),
                )
            )
        except nengo.exceptions.ValidationError:
            pass  # Nengo has no padding for this output shape
    window = kernel.shape[:rank]
    pads = windows.transpose_pads(padding, window, strides, dilation, output_padding)
    forward = windows.conv_matrix(
        out_shape, in_shape, kernel, strides, pads, dilation, 1, axis
    )
    return Matrix(forward.T.tocsr())


def convert_transpose(layer, ctx, x, **_):
    """Conv1D/2D/3DTranspose (strides, padding, ``output_padding``, dilation)."""
    out_shape = ctx.output_shapes[0]
    transform = transpose_transform(
        ctx.weight(layer, "kernel"),
        x.shape,
        out_shape,
        layer.strides,
        layer.padding,
        layer.output_padding,
        layer.dilation_rate,
        windows.channel_axis(layer, layer.rank),
    )
    return finish(layer, ctx, ctx.linear(x, transform, out_shape))


_L = keras.layers
for _classes, _fn in (
    ((_L.Conv1D, _L.Conv2D, _L.Conv3D), convert_conv),
    ((_L.DepthwiseConv1D, _L.DepthwiseConv2D), convert_depthwise),
    ((_L.SeparableConv1D, _L.SeparableConv2D), convert_separable),
    ((_L.Conv1DTranspose, _L.Conv2DTranspose, _L.Conv3DTranspose), convert_transpose),
):
    for _cls in _classes:
        register(_cls, _fn)
