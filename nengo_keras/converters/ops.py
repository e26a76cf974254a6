"""Bare `keras.ops` operations in functional graphs (``x + 1``, ``ops.add``...).

Keras 3 records these as `keras.Operation` nodes rather than layers. Each
family has one generic path:

- linear operations (arithmetic with constants, sums, means, reshapes,
  slicing, products with constant matrices...) fuse into connections, found
  by index maps or probing;
- ``maximum``/``minimum`` (elementwise and reductions), ``abs`` and ``clip``
  are exact rectifier networks;
- ``keras.ops.nn`` activations go through the activation builders
  (`nengo_keras.converters.activations`), so ``swap_activations`` applies;
- other maths (``exp``, ``x ** 2``, products of tensors, ``matmul``/``einsum``
  of two tensors, comparisons, ``where``, ``logsumexp``...) runs as NumPy
  Nodes from one table of operation -> NumPy function;
- anything else falls back to a Node that calls Keras.
"""

from __future__ import annotations

import re

import keras
import numpy as np
import scipy.special

from ..conversion import graph as kg
from ..conversion import activation_map
from ..conversion.registry import register
from ..conversion.values import Value
from ._lib import numpy_ref, rectifiers
from ._lib.probing import (
    NotLinear,
    convert_by_index_map,
    keras_call,
    linear_map,
    separable_map,
)
from .core import Lookup
from .merging import broadcast, constant_like


def _register(paths, fn):
    for path in paths:
        cls = kg.op_class(path)
        if cls is not None:
            register(cls, fn, replace=True)  # specific converters refine generic ones


def operands(ctx, inputs):
    """The call's positional arguments: Values, and constants as Values."""
    args, _ = ctx.call_arguments(inputs)
    shape = ctx.output_shapes[0]
    return [_as_value(ctx, a, shape) for a in args]


def _as_value(ctx, a, shape):
    if isinstance(a, Value):
        return broadcast(ctx, a, shape)
    return Value.constant(constant_like(a, shape), shape)


def _per_element(a, shape):
    """A constant operand as a float or a flat per-element array."""
    array = np.asarray(keras.ops.convert_to_numpy(a), dtype=np.float64)
    return float(array) if array.ndim == 0 else constant_like(array, shape)


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
        return ctx.scale(var, const.bias_or_zeros())
    return convert_numpy(op, ctx, *inputs)


def convert_divide(op, ctx, *inputs, **_):
    a, b = operands(ctx, inputs)
    if b.is_constant:
        return ctx.scale(a, 1.0 / b.bias_or_zeros())
    return convert_numpy(op, ctx, *inputs)


def convert_maximum(op, ctx, *inputs, **_):
    return rectifiers.maximum(ctx, operands(ctx, inputs))


def convert_minimum(op, ctx, *inputs, **_):
    return rectifiers.minimum(ctx, operands(ctx, inputs))


def convert_abs(op, ctx, x, **_):
    """``|x| = 2*relu(x) - x``, exact."""
    return rectifiers.piecewise_linear(ctx, x, [0.0], [2.0], slope=-1.0)


def convert_clip(op, ctx, x, **_):
    """``clip(x, lo, hi) = lo + relu(x - lo) - relu(x - hi)``, exact."""
    lo, hi = (_per_element(b, x.shape) for b in (op.x_min, op.x_max))
    return rectifiers.piecewise_linear(ctx, x, [lo, hi], [1.0, -1.0], offset=lo)


def _reduced_axes(op, ndim):
    """The reduced axes of ``x`` (no batch axis), or None if the batch is reduced."""
    axis = op.axis
    if axis is None:
        return None
    axis = numpy_ref.axis_arg(axis)
    axes = [a % (ndim + 1) - 1 for a in (axis if isinstance(axis, tuple) else [axis])]
    return None if min(axes) < 0 else sorted(axes)


def convert_reduce_max(op, ctx, x, **_):
    """``max``/``min`` over axes: exact rectifier trees (as max pooling)."""
    axes = _reduced_axes(op, len(x.shape))
    if axes is None:
        ctx.unsupported(
            f"{type(op).__name__} over the batch axis (axis={op.axis!r}) mixes samples",
            "reduce over non-batch axes only",
        )
    shape = ctx.output_shapes[0]
    idx = np.moveaxis(np.arange(x.size).reshape(x.shape), axes, range(len(axes)))
    candidates = idx.reshape(-1, int(np.prod(shape, dtype=int)))
    initial = getattr(op, "initial", None)
    if type(op).__name__ in ("Min", "Amin"):  # min(x) = -max(-x)
        initial = None if initial is None else -initial
        return -_maximum_over(ctx, -x, candidates, shape, initial)
    return _maximum_over(ctx, x, candidates, shape, initial)


def _maximum_over(ctx, x, candidates, shape, initial):
    if initial is None:
        return rectifiers.maximum_over(ctx, x, candidates, shape)
    const = Value.constant(np.full(candidates.shape[1], float(initial)), shape)
    return rectifiers.maximum(ctx, [rectifiers.maximum_over(ctx, x, candidates, shape), const])


def convert_linear(op, ctx, *inputs, **_):
    """Any operation that is affine in its single tensor input (sums, means,
    products with constant matrices...): its matrix, found by probing.
    Otherwise (products of two tensors...) a NumPy Node."""
    if len(inputs) != 1:
        return convert_numpy(op, ctx, *inputs)
    try:
        matrix, offset = linear_map(keras_call(ctx), inputs[0].shape)
    except NotLinear:
        return convert_numpy(op, ctx, *inputs)
    return ctx.linear(inputs[0], matrix, ctx.output_shapes[0]) + offset


def _snake(name):
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


# Operations computed by NumPy: op path -> NumPy function, or (function, the
# op attributes it takes as keywords). Functions take batched arrays.
_ELEMENTWISE = (
    "Exp Exp2 Expm1 Log Log2 Log10 Log1p Sqrt Square Cbrt Reciprocal Sin Cos Tan "
    "Arcsin Arccos Arctan Sinh Cosh Arcsinh Arccosh Arctanh Sign Floor Ceil Trunc "
    "Power Arctan2 Hypot Logaddexp Mod FloorDivide Multiply Divide TrueDivide "
    "Greater GreaterEqual Less LessEqual Equal NotEqual LogicalAnd LogicalOr "
    "LogicalNot Where Matmul"
)
NUMPY_OPS = {f"numpy.{n}": getattr(np, _snake(n)) for n in _ELEMENTWISE.split()}
NUMPY_OPS.update(
    {
        "numpy.Round": (np.round, "decimals"),
        "numpy.Prod": (np.prod, "axis keepdims"),
        "numpy.Var": (np.var, "axis keepdims"),
        "numpy.Any": (np.any, "axis keepdims"),
        "numpy.All": (np.all, "axis keepdims"),
        "numpy.Argmax": (np.argmax, "axis keepdims"),
        "numpy.Argmin": (np.argmin, "axis keepdims"),
        "numpy.Sort": (np.sort, "axis"),
        "numpy.Std": (np.std, "axis keepdims"),
        "numpy.Einsum": (numpy_ref.einsum, "subscripts"),
        "math.Logsumexp": (scipy.special.logsumexp, "axis keepdims"),
        "math.Rsqrt": numpy_ref.rsqrt,
        "math.Erf": scipy.special.erf,
        "math.Erfc": scipy.special.erfc,
        "nn.Normalize": (numpy_ref.normalize, "axis order epsilon"),
        "nn.LayerNorm": (numpy_ref.layer_norm, "axis epsilon rms_scaling"),
        "nn.DotProductAttention": (
            numpy_ref.dot_product_attention, "is_causal attn_logits_soft_cap"
        ),
        "nn.RMSNorm": (numpy_ref.rms_norm, "axis epsilon"),
        "core.Cast": (numpy_ref.cast, "dtype"),
    }
)
_NUMPY_BY_CLASS = {kg.op_class(p): v for p, v in NUMPY_OPS.items() if kg.op_class(p)}


def convert_numpy(op, ctx, *inputs, **_):
    """A NumPy Node computing the operation from `NUMPY_OPS` (Keras' own
    arguments, constants included), or a fallback Node calling Keras."""
    entry = _NUMPY_BY_CLASS.get(type(op))
    if entry is None:
        return ctx.fallback_function(keras_call(ctx), list(inputs), ctx.output_shapes[0])
    fn, attrs = entry if isinstance(entry, tuple) else (entry, "")
    params = {a: _constant(getattr(op, a)) for a in attrs.split()}
    if "epsilon" in params and params["epsilon"] is None:
        params["epsilon"] = keras.config.epsilon()  # what Keras uses for None
    args, kwargs = ctx.call_arguments([numpy_ref.Slot(i) for i in range(len(inputs))])
    args = [_constant(a) for a in args]
    kwargs = {k: _constant(v) for k, v in kwargs.items()}
    batched = numpy_ref.Batched(fn, args, kwargs, **params)
    return ctx.node(batched, list(inputs), ctx.output_shapes[0])


def _constant(a):
    if isinstance(a, list):
        return tuple(a)  # NumPy wants axis tuples
    if isinstance(a, numpy_ref.Slot) or a is None or isinstance(a, (bool, int, float, str, tuple)):
        return a
    return np.asarray(keras.ops.convert_to_numpy(a))


def convert_cast(op, ctx, x, **_):
    """Casts to float32/64 change nothing here (values are float64); others
    round, as NumPy's ``astype`` does."""
    dtype = keras.backend.standardize_dtype(op.dtype)
    if dtype in ("float32", "float64"):
        return x
    if kg.integer_dtype(dtype) and kg.integer_dtype(ctx.call.input_tensors[0].dtype):
        return x  # already whole numbers (token ids, masks)
    try:
        np.dtype(dtype)
    except TypeError:  # bfloat16...: NumPy has no such type
        return ctx.fallback_function(keras_call(ctx), [x], ctx.output_shapes[0])
    return convert_numpy(op, ctx, x)


def convert_filled_like(op, ctx, *inputs, **_):
    """``zeros_like`` / ``ones_like`` / ``full_like``: a constant of the
    input's shape (its values are not used)."""
    args, kwargs = ctx.call_arguments(list(inputs))
    fill = {"ZerosLike": 0.0, "OnesLike": 1.0}.get(type(op).__name__)
    if fill is None:
        fill = kwargs.get("fill_value", args[1] if len(args) > 1 else None)
    if isinstance(fill, Value):
        return convert_numpy(op, ctx, *inputs)
    shape = ctx.output_shapes[0]
    return Value.constant(constant_like(fill, shape), shape)


def convert_convert_to_tensor(op, ctx, x, **_):
    """``keras.ops.convert_to_tensor``: a cast to its ``dtype`` (if any)."""
    return x if op.dtype is None else convert_cast(op, ctx, x)


# keras.ops.nn activations -> activation builders (so swaps apply); the
# activation's name is the class name in snake case, its parameters the op's
ACTIVATION_OPS = (
    "nn.Relu nn.Relu6 nn.Sigmoid numpy.Tanh nn.LeakyRelu nn.Elu nn.Selu nn.Celu "
    "nn.Gelu nn.Softplus nn.Softsign nn.Silu nn.HardSigmoid nn.HardSilu nn.HardTanh "
    "nn.SparseSigmoid nn.SoftShrink nn.HardShrink nn.SparsePlus nn.Squareplus "
    "nn.TanhShrink nn.LogSigmoid nn.Threshold nn.Softmax nn.LogSoftmax"
).split()


def convert_activation_op(op, ctx, x, **_):
    """A `keras.ops.nn` activation, with the op's parameters (``alpha``...)."""
    name = _snake(type(op).__name__)
    names = getattr(activation_map.builder(name), "parameters", ())
    return ctx.activate(x, name, **{p: getattr(op, p) for p in names if hasattr(op, p)})


def convert_take(op, ctx, *inputs, **_):
    """``take(table, indices)`` with constant ``table`` and tensor indices (an
    embedding lookup): a lookup Node; with a tensor table, an index map."""
    args, kwargs = ctx.call_arguments([numpy_ref.Slot(i) for i in range(len(inputs))])
    table = kwargs.get("x", args[0] if args else None)
    axis = getattr(op, "axis", None)
    if isinstance(table, numpy_ref.Slot) or axis not in (0, None) or len(inputs) != 1:
        return convert_by_index_map(op, ctx, *inputs)
    table = np.asarray(keras.ops.convert_to_numpy(table), dtype=np.float64)
    if axis is None:
        table = table.ravel()
    return ctx.node(Lookup(table), list(inputs), ctx.output_shapes[0])


def convert_image_resize(op, ctx, x, **_):
    """``keras.ops.image.resize``: an exact sparse matrix, as the Resizing layer."""
    fmt = getattr(op, "data_format", None) or keras.config.image_data_format()
    axis = 0 if fmt == "channels_first" else len(x.shape) - 1
    try:
        matrix, offset = separable_map(keras_call(ctx), x.shape, axis)
    except NotLinear:
        return convert_numpy(op, ctx, x)
    return ctx.linear(x, matrix, ctx.output_shapes[0]) + offset


_register(list(NUMPY_OPS), convert_numpy)  # the specific converters below override
_register(["image.Resize"], convert_image_resize)
_register(["numpy.Take"], convert_take)
_register(["numpy.Add"], convert_add)
_register(["numpy.Subtract"], convert_subtract)
_register(["numpy.Negative"], convert_negative)
_register(["numpy.Multiply"], convert_multiply)
_register(["numpy.Divide", "numpy.TrueDivide"], convert_divide)
_register(["numpy.Maximum"], convert_maximum)
_register(["numpy.Minimum"], convert_minimum)
_register(["numpy.Absolute", "numpy.Abs"], convert_abs)
_register(["numpy.Clip"], convert_clip)
_register(["numpy.Max", "numpy.Min", "numpy.Amax", "numpy.Amin"], convert_reduce_max)
_register(["core.Cast"], convert_cast)
_register(["core.ConvertToTensor"], convert_convert_to_tensor)
_register(["numpy.ZerosLike", "numpy.OnesLike", "numpy.FullLike"], convert_filled_like)
_register(ACTIVATION_OPS, convert_activation_op)
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
        "numpy.Split",
        "core.Slice",
        "core.Unstack",
        "image.PadImages",
        "image.CropImages",
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
