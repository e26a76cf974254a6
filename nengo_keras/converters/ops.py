"""Bare `keras.ops` operations in functional graphs (``x + 1``, ``ops.add``...).

Keras 3 records these as `keras.Operation` nodes rather than layers. Linear
ones (arithmetic with constants, sums, reshapes, transposes, slicing,
reductions such as ``mean``) fuse into connections like linear layers do;
``maximum``/``minimum``/``abs``/``clip`` are exact rectifier networks; the rest
of elementwise maths runs as NumPy Nodes.
"""

from __future__ import annotations

import keras
import numpy as np

from .. import _keras_graph as kg
from ..registry import register_converter
from ..values import Value
from . import _neural
from ._probe import NotLinear, convert_by_index_map, keras_call, linear_map
from .merging import broadcast


def _register(paths, fn):
    for path in paths:
        cls = kg.op_class(path)
        if cls is not None:
            register_converter(cls, fn, values=True)


def operands(ctx, inputs):
    """The call's positional arguments: Values, and constants as Values."""
    args, _ = ctx.call_arguments(inputs)
    shape = ctx.output_shapes[0]
    return [_as_value(ctx, a, shape) for a in args]


def _as_value(ctx, a, shape):
    if isinstance(a, Value):
        return broadcast(ctx, a, shape)
    array = np.asarray(keras.ops.convert_to_numpy(a), dtype=np.float64)
    full = np.broadcast_to(array, np.broadcast_shapes(array.shape, (1,) + tuple(shape)))
    return Value.constant(full.reshape((-1,) + tuple(shape))[0], shape)


def convert_add(op, ctx, *inputs, **_):
    a, b = operands(ctx, inputs)
    return a + b


def convert_subtract(op, ctx, *inputs, **_):
    a, b = operands(ctx, inputs)
    return a - b


def convert_negative(op, ctx, x, **_):
    return -x


def convert_multiply(op, ctx, *inputs, **_):
    a, b = operands(ctx, inputs)
    if a.is_constant or b.is_constant:
        const, var = (a, b) if a.is_constant else (b, a)
        return var.scale(const.bias_or_zeros())
    return ctx.node(np.multiply, [a, b], ctx.output_shapes[0])


def convert_divide(op, ctx, *inputs, **_):
    a, b = operands(ctx, inputs)
    if b.is_constant:
        return a.scale(1.0 / b.bias_or_zeros())
    return ctx.node(np.divide, [a, b], ctx.output_shapes[0])


def convert_maximum(op, ctx, *inputs, **_):
    return _neural.maximum(ctx, operands(ctx, inputs))


def convert_minimum(op, ctx, *inputs, **_):
    return _neural.minimum(ctx, operands(ctx, inputs))


def convert_abs(op, ctx, x, **_):
    """``|x| = relu(x) + relu(-x)``, one Ensemble."""
    both = ctx.relu(_neural.stack([x, -x]))
    return _neural.block(ctx, both, 0, x.size, x.shape) + _neural.block(
        ctx, both, 1, x.size, x.shape
    )


def convert_clip(op, ctx, x, **_):
    """``clip(x, lo, hi) = lo + relu(x - lo) - relu(x - hi)``, exact."""
    lo, hi = (float(np.asarray(keras.ops.convert_to_numpy(b))) for b in (op.x_min, op.x_max))
    both = ctx.relu(_neural.stack([x - lo, x - hi]))
    n = x.size
    return (
        _neural.block(ctx, both, 0, n, x.shape) - _neural.block(ctx, both, 1, n, x.shape)
    ) + lo


def convert_linear(op, ctx, *inputs, **_):
    """Any operation that is affine in its single tensor input (sums, means,
    products with constant matrices...): its matrix, found by probing."""
    if len(inputs) != 1:
        return convert_elementwise_node(op, ctx, *inputs)
    try:
        matrix, offset = linear_map(keras_call(ctx), inputs[0].shape)
    except NotLinear:
        return convert_elementwise_node(op, ctx, *inputs)
    return ctx.linear(inputs[0], matrix, ctx.output_shapes[0]) + offset


def convert_elementwise_node(op, ctx, *inputs, **_):
    """A Node running the operation itself (through Keras)."""
    return ctx.fallback_function(keras_call(ctx), list(inputs), ctx.output_shapes[0])


def activation_op(name):
    def convert(op, ctx, x, **_):
        return ctx.activate(x, name)

    convert.__name__ = f"convert_{name}"
    return convert


def convert_leaky_relu(op, ctx, x, **_):
    return _neural.clipped_relu(ctx, x, float(op.negative_slope))


_register(["numpy.Add"], convert_add)
_register(["numpy.Subtract"], convert_subtract)
_register(["numpy.Negative"], convert_negative)
_register(["numpy.Multiply"], convert_multiply)
_register(["numpy.Divide", "numpy.TrueDivide"], convert_divide)
_register(["numpy.Maximum"], convert_maximum)
_register(["numpy.Minimum"], convert_minimum)
_register(["numpy.Absolute", "numpy.Abs"], convert_abs)
_register(["numpy.Clip"], convert_clip)
_register(["nn.LeakyRelu"], convert_leaky_relu)
_register(
    [
        "numpy.Reshape",
        "numpy.Transpose",
        "numpy.Concatenate",
        "numpy.ExpandDims",
        "numpy.Squeeze",
        "numpy.Stack",
        "numpy.Tile",
        "numpy.Repeat",
        "numpy.Flip",
        "numpy.Moveaxis",
        "numpy.Swapaxes",
        "numpy.GetItem",
        "numpy.Ravel",
        "numpy.BroadcastTo",
        "numpy.Roll",
        "numpy.Pad",
        "numpy.Hstack",
        "numpy.Vstack",
        "numpy.Take",
        "numpy.Split",
        "core.Slice",
        "core.Unstack",
    ],
    convert_by_index_map,
)
_register(
    [
        "numpy.Sum",
        "numpy.Mean",
        "numpy.Matmul",
        "numpy.Dot",
        "numpy.Tensordot",
        "numpy.Einsum",
        "numpy.Cumsum",
        "numpy.Trace",
        "numpy.Average",
        "numpy.Diff",
    ],
    convert_linear,
)
for _name, _paths in {
    "relu": ["nn.Relu"],
    "relu6": ["nn.Relu6"],
    "sigmoid": ["nn.Sigmoid"],
    "tanh": ["numpy.Tanh"],
}.items():
    _register(_paths, activation_op(_name))
