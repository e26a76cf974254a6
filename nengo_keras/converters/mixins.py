"""Mixins that let a custom Keras layer convert by declaring what it computes.

A layer that mixes in one of these needs no conversion code: nengo_keras
finds what it needs by running the layer's own ``call`` during conversion,
and first checks, on random data, that the layer really is what it declares
(a `~nengo_keras.ConversionError` names the layer otherwise).

- `Elementwise`: each output element is a function of the same input element.
  A `nengo.Node` computes it, or, when the layer declares ``breakpoints``,
  rectifier neurons compute it exactly (piecewise-linear functions).
- `Rearranging`: the layer only moves, copies and zero-fills elements; it
  becomes post indices or selection matrices on connections (no Nengo objects).
- `Affine`: the layer is affine in its inputs; it becomes one connection per
  input (elementwise ones fold into neighbouring kernels) plus a constant.

Each mixin's ``to_nengo`` is a plain converter, so a layer class one cannot
edit (a third-party one) converts the same way through
``nengo_keras.register_converter(TheirLayer, nengo_keras.Affine.to_nengo)``.
"""

from __future__ import annotations

import keras
import numpy as np

from ..errors import ConversionError
from ..conversion.protocol import NengoConvertible
from ..conversion.registry import takes_values
from ._lib import rectifiers
from ._lib.probing import NotLinear, NotRearranging, by_affine_map, by_index_map, keras_call
from .fallback import KerasCall


def _mismatch(layer, mixin, what, fix=None):
    return ConversionError(
        [
            (
                layer,
                f"it declares itself nengo_keras.{mixin}, but {what}",
                fix
                or f"fix the layer, or remove the {mixin} mixin (the layer then "
                "converts through the Keras-calling fallback)",
            )
        ]
    )


def _run(call, batch):
    """The layer call on a float64 NumPy batch, as a float64 array."""
    out = call(keras.ops.convert_to_tensor(batch, dtype="float32"))
    return np.asarray(keras.ops.convert_to_numpy(out), dtype=np.float64)


def _same(got, expected):
    scale = np.nanmax(np.abs(expected), initial=1.0)
    return np.allclose(got, expected, rtol=1e-4, atol=1e-5 * scale, equal_nan=True)


@takes_values
def convert_elementwise(layer, ctx, *inputs, **_):
    """Converter of `Elementwise` layers (see there)."""
    if len(inputs) != 1 or ctx.output_shapes != [inputs[0].shape]:
        raise _mismatch(
            layer,
            "Elementwise",
            f"it maps inputs of shapes {[x.shape for x in inputs]} to outputs of "
            f"shapes {ctx.output_shapes}; expected one input and one output of the "
            f"same shape",
        )
    (x,) = inputs
    call = keras_call(ctx)
    _check_elementwise(layer, call, x.shape)
    breakpoints = getattr(layer, "breakpoints", None)
    if breakpoints is not None:
        return _piecewise_linear(layer, ctx, call, x, breakpoints)
    numpy_call = getattr(layer, "numpy_call", None)
    if numpy_call is None:
        return ctx.node(KerasCall(layer, ctx.call), [x], x.shape)
    data = np.random.default_rng(1).uniform(-2, 2, size=(1,) + x.shape)
    expected = _run(call, data)[0]
    got = np.asarray(numpy_call(data[0]), dtype=np.float64)
    if got.shape != expected.shape or not _same(got, expected):
        raise _mismatch(
            layer,
            "Elementwise",
            "its numpy_call differs from its Keras call on random data",
            "make numpy_call compute what call computes (on one sample, "
            "without the batch axis)",
        )
    return ctx.node(numpy_call, [x], x.shape)


def _check_elementwise(layer, call, shape):
    """Mixing two inputs elementwise must mix the outputs the same way."""
    rng = np.random.default_rng(0)
    a, b = rng.uniform(-2, 2, size=(2,) + tuple(shape))
    mask = rng.random(shape) < 0.5
    out = _run(call, np.stack([a, b, np.where(mask, a, b)]))
    if not _same(out[2], np.where(mask, out[0], out[1])):
        raise _mismatch(
            layer, "Elementwise", "some output elements depend on other input elements"
        )


def _piecewise_linear(layer, ctx, call, x, breakpoints):
    """``f(x) = f(b0) + s0 (x - b0) + sum_i (s_{i+1} - s_i) relu(x - b_i)``.

    The values at the breakpoints and one unit beyond the outer ones give
    every element's slopes; the left tail is the linear term, so only the
    breakpoints where some slope changes need neurons (none: affine).
    """
    points = np.unique(np.asarray(breakpoints, dtype=np.float64).ravel())
    anchors = points if points.size else np.zeros(1)
    grid = np.concatenate([[anchors[0] - 1], anchors, [anchors[-1] + 1]])
    size = x.size
    values = _run(call, np.repeat(grid, size).reshape((grid.size,) + x.shape))
    values = values.reshape(grid.size, size)
    slopes = np.diff(values, axis=0) / np.diff(grid)[:, None]
    kinks = np.diff(slopes, axis=0)
    # float32 round-off in the probed values is no slope change
    noise = 1e-6 * (np.abs(values).max() / np.diff(grid).min() + np.abs(slopes).max())
    kinks[np.abs(kinks) <= noise] = 0.0

    def formula(v):
        relus = np.maximum(v[None] - anchors[:, None, None], 0)
        return values[1] + slopes[0] * (v - anchors[0]) + (kinks[:, None] * relus).sum(0)

    width = max(1.0, anchors[-1] - anchors[0])
    rng = np.random.default_rng(2)
    data = rng.uniform(anchors[0] - width, anchors[-1] + width, size=(8, size))
    if not _same(formula(data), _run(call, data.reshape((8,) + x.shape)).reshape(8, size)):
        raise _mismatch(
            layer,
            "Elementwise",
            f"it is not linear between its breakpoints {points.tolist()}",
            "list every input value where the layer's slope changes in "
            "`breakpoints` (an empty list for an affine layer), or set it to None",
        )
    out = ctx.scale(x, slopes[0]) + (values[1] - slopes[0] * anchors[0])
    needed = [i for i in range(anchors.size) if np.any(kinks[i])]
    if not needed:
        return out
    flat = x.reshape((size,))
    rectified = ctx.relu(rectifiers.stack([flat - anchors[i] for i in needed]))
    for j, i in enumerate(needed):
        out = out + rectifiers.block(ctx, rectified, j, size, x.shape).scale(kinks[i])
    return out


@takes_values
def convert_rearranging(layer, ctx, *inputs, **_):
    """Converter of `Rearranging` layers (see there)."""
    # imported here: the converters package imports this module
    try:
        return by_index_map(ctx, inputs)
    except NotRearranging:
        raise _mismatch(
            layer,
            "Rearranging",
            "its outputs are not made of copies of input elements and zeros",
        ) from None


@takes_values
def convert_affine(layer, ctx, *inputs, **_):
    """Converter of `Affine` layers (see there)."""
    if len(ctx.output_shapes) != 1:
        raise _mismatch(
            layer, "Affine", f"it has {len(ctx.output_shapes)} outputs; expected one"
        )
    try:
        return by_affine_map(ctx, inputs)
    except NotLinear:
        raise _mismatch(
            layer, "Affine", "its output is not an affine function of its inputs"
        ) from None


class Elementwise(NengoConvertible):
    """Mixin for layers that apply a function to each element separately.

    Output element ``i`` must depend only on input element ``i`` (the function
    may differ between elements, e.g. per-channel parameters); the layer has
    one input and one output of the same shape. By default a `nengo.Node`
    (the "node" tier) computes the layer: it runs ``numpy_call`` if the layer
    defines it (fast, float64), else the layer's own Keras ``call`` (one
    Keras call per simulation step).

    Attributes
    ----------
    breakpoints : sequence of float or None
        Declares the function piecewise linear, with slope changes only at
        these inputs (the same for every element; ``()`` for an affine
        function). The layer then converts exactly to rectifier neurons (the
        "neural" tier, spiking with ``swap_activations={"relu": ...}``); its
        values and slopes are read off the layer itself.
    numpy_call : callable or None
        ``numpy_call(x)``: the layer's function on a NumPy array of one
        sample (the input shape without the batch axis).

    Examples
    --------
    A clipped ramp, converted to two rectifiers per element:

    >>> class Ramp(nengo_keras.Elementwise, keras.layers.Layer):
    ...     breakpoints = (0.0, 1.0)
    ...
    ...     def call(self, x):
    ...         return keras.ops.clip(x, 0.0, 1.0)

    A smooth function, computed by a Node in NumPy:

    >>> class Softsign(nengo_keras.Elementwise, keras.layers.Layer):
    ...     def call(self, x):
    ...         return x / (1 + keras.ops.abs(x))
    ...
    ...     def numpy_call(self, x):
    ...         return x / (1 + np.abs(x))
    """

    breakpoints = None
    numpy_call = None
    to_nengo = convert_elementwise


class Rearranging(NengoConvertible):
    """Mixin for layers that only move, copy and zero-fill elements.

    Running the layer on tensors that hold each element's own index shows
    where every output element comes from (any number of inputs and
    outputs). The layer then creates no Nengo objects: its outputs become
    post indices or selection matrices of the connections that read them.

    Examples
    --------
    >>> class Reverse(nengo_keras.Rearranging, keras.layers.Layer):
    ...     def call(self, x):
    ...         return keras.ops.flip(x, axis=-1)
    """

    to_nengo = convert_rearranging


class Affine(NengoConvertible):
    """Mixin for layers whose output is an affine function of their inputs.

    ``y = A_1 x_1 + ... + A_k x_k + b``: the matrices and the offset are found
    by running the layer on basis vectors (elementwise maps with a single
    probe, as scalings that fold into neighbouring kernels), so the layer
    becomes one connection per input and no Nengo objects of its own. One
    output; probing costs one layer call per input element unless the map is
    elementwise.

    Examples
    --------
    >>> class WeightedSum(nengo_keras.Affine, keras.layers.Layer):
    ...     def call(self, inputs):
    ...         a, b = inputs
    ...         return 0.3 * a + 0.7 * b + 1.0
    """

    to_nengo = convert_affine
