"""Dense, Embedding, Activation, identity-at-inference layers."""

from __future__ import annotations

import keras
import nengo
import numpy as np

from ..conversion.transforms import Conv, Matrix
from ..conversion.registry import register


def last_axis_transform(w, shape):
    """The map applying ``w`` (out x in) along the last axis of ``shape``.

    With leading axes it is a 1x1 convolution over them: one matrix product
    per step in Nengo, where a block-diagonal sparse matrix is many times
    slower (measured on ConvNeXt's pointwise layers).
    """
    lead = int(np.prod(shape[:-1]))
    if lead == 1:
        return Matrix(w)
    return Conv(
        nengo.Convolution(
            n_filters=w.shape[0],
            input_shape=nengo.transforms.ChannelShape((lead, w.shape[1])),
            kernel_size=(1,),
            strides=(1,),
            init=w.T[None],
        )
    )


@register(keras.layers.Dense)
def convert_dense(layer, ctx, x, **_):
    """Dense: one connection with the kernel; the bias goes to the neurons."""
    kernel = ctx.weight(layer, "kernel")
    shape = ctx.output_shapes[0]
    y = ctx.linear(x, last_axis_transform(kernel.T, x.shape), shape)
    if layer.use_bias:
        y = y + np.broadcast_to(ctx.weight(layer, "bias"), shape).ravel()
    return ctx.activate(y, layer.activation)


class Lookup:
    """Rows of ``table`` at the given indices (cast to integers as Keras does:
    truncated; negative ones count from the end; then clipped to the table)."""

    def __init__(self, table):
        self.table = table

    def __call__(self, indices):
        idx = indices.astype(np.int64)
        idx = np.where(idx < 0, idx + len(self.table), idx)
        return self.table[np.clip(idx, 0, len(self.table) - 1)]


@register(keras.layers.Embedding)
def convert_embedding(layer, ctx, x, **_):
    """A Node that looks up rows (node tier: a lookup is not a linear map)."""
    if getattr(layer, "quantization_mode", None):
        ctx.unsupported(
            f"quantized embeddings ({layer.quantization_mode!r})",
            "convert the model before quantizing it, or allow the fallback",
        )
    table = keras.ops.convert_to_numpy(layer.embeddings).astype(np.float64)
    return ctx.node(Lookup(table), [x], ctx.output_shapes[0])


@register(keras.layers.Activation)
def convert_activation(layer, ctx, x, **_):
    return ctx.activate(x, layer.activation)


def identity(layer, ctx, x, **_):
    """Layers that are the identity at inference (dropout, noise...)."""
    return x


for _cls in (
    keras.layers.Dropout,
    keras.layers.SpatialDropout1D,
    keras.layers.SpatialDropout2D,
    keras.layers.SpatialDropout3D,
    keras.layers.GaussianNoise,
    keras.layers.GaussianDropout,
    keras.layers.AlphaDropout,
    keras.layers.ActivityRegularization,
    keras.layers.Identity,
):
    register(_cls, identity)
