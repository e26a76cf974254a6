"""Merge layers: sums are free, Concatenate moves elements, max/min use
rectifier trees, products are Nodes."""

from __future__ import annotations

import functools

import keras
import numpy as np

from ..conversion.transforms import selection
from ..conversion.registry import register
from ._lib import numpy_ref, rectifiers
from ._lib.probing import convert_by_index_map


def broadcast(ctx, x, shape):
    """``x`` broadcast (NumPy rules) to ``shape``."""
    shape = tuple(shape)
    if x.shape == shape:
        return x
    if x.size == int(np.prod(shape)):
        return x.reshape(shape)
    idx = np.arange(x.size).reshape(x.shape)
    return ctx.linear(x, selection(np.broadcast_to(idx, shape).ravel(), x.size), shape)


def constant_like(array, shape):
    """A constant broadcast (NumPy rules) to a tensor of ``shape``, flat.

    A leading axis of one in the constant (a batch axis) is dropped, as it
    broadcasts against the batch.
    """
    array = np.asarray(keras.ops.convert_to_numpy(array), dtype=np.float64)
    full_shape = np.broadcast_shapes(array.shape, (1,) + tuple(shape))
    return np.broadcast_to(array, full_shape).reshape((-1,) + tuple(shape))[0].ravel()


def _broadcast_all(ctx, inputs):
    shape = ctx.output_shapes[0]
    return [broadcast(ctx, x, shape) for x in inputs]


@register(keras.layers.Add)
def convert_add(layer, ctx, *inputs, **_):
    return functools.reduce(lambda a, b: a + b, _broadcast_all(ctx, inputs))


@register(keras.layers.Subtract)
def convert_subtract(layer, ctx, a, b, **_):
    a, b = _broadcast_all(ctx, (a, b))
    return a - b


@register(keras.layers.Average)
def convert_average(layer, ctx, *inputs, **_):
    total = convert_add(layer, ctx, *inputs)
    return total.scale(1.0 / len(inputs))


@register(keras.layers.Maximum)
def convert_maximum(layer, ctx, *inputs, **_):
    return rectifiers.maximum(ctx, _broadcast_all(ctx, inputs))


@register(keras.layers.Minimum)
def convert_minimum(layer, ctx, *inputs, **_):
    return rectifiers.minimum(ctx, _broadcast_all(ctx, inputs))


register(keras.layers.Concatenate, convert_by_index_map)


def _product(*arrays):
    return functools.reduce(np.multiply, arrays)


@register(keras.layers.Multiply)
def convert_multiply(layer, ctx, *inputs, **_):
    """Elementwise products are not linear: a Node computes them."""
    return ctx.node(_product, _broadcast_all(ctx, inputs), ctx.output_shapes[0])


@register(keras.layers.Dot)
def convert_dot(layer, ctx, a, b, **_):
    """Dot along ``axes`` (``normalize`` too): a NumPy Node, as products of
    two tensors are not linear."""
    axes = numpy_ref.axis_arg(layer.axes)
    axes = axes if isinstance(axes, tuple) else [axes] * 2
    # Keras axes count the batch axis; negative ones count from the end
    axes = [ax % (len(x.shape) + 1) for ax, x in zip(axes, (a, b))]
    fn = numpy_ref.Batched(
        numpy_ref.batch_dot,
        axes=axes,
        normalize_inputs=bool(layer.normalize),
        epsilon=keras.config.epsilon(),
    )
    return ctx.node(fn, [a, b], ctx.output_shapes[0])
