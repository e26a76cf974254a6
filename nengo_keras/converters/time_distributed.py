"""``TimeDistributed``: the wrapped layer, converted on one time step."""

from __future__ import annotations

import contextlib

import keras
import numpy as np

from ..conversion.registry import register
from ..conversion.transforms import selection
from ..conversion.values import Value


@register(keras.layers.TimeDistributed)
def convert_time_distributed(layer, ctx, x, **_):
    """The wrapped layer's converter on one time step.

    In a temporal model the time axis is Nengo's time, so the layer converts
    once on the per-step shape. Otherwise each of the ``x.shape[0]`` slices
    gets its own copy.
    """
    inner = layer.layer
    ctx.require_converter(inner, "the wrapped ")
    out_shape = ctx.output_shapes[0]
    if ctx.timed:
        return _convert_step(inner, ctx, x, out_shape)
    steps, in_step, out_step = x.shape[0], x.shape[1:], out_shape[1:]
    n_in, n_out = int(np.prod(in_step)), int(np.prod(out_step))
    out = Value(out_shape)
    for t in range(steps):
        xt = ctx.linear(x, selection(np.arange(t * n_in, (t + 1) * n_in), x.size), in_step)
        yt = _convert_step(inner, ctx, xt, out_step)
        out = out + yt.reshape((n_out,)).place(np.arange(t * n_out, (t + 1) * n_out), out_shape)
    return out


def _convert_step(inner, ctx, x, out_shape):
    with _per_step_call(ctx, x.shape, out_shape):
        (y,) = ctx.convert(inner, [x], output_shapes=[out_shape])
    return y


@contextlib.contextmanager
def _per_step_call(ctx, in_shape, out_shape):
    """Shapes of one step for the wrapped layer's converter; Keras calls made
    to probe the layer (on the TimeDistributed wrapper) get a time axis of 1."""
    saved = ctx.input_shapes, ctx.output_shapes, ctx.timed
    ctx.input_shapes, ctx.output_shapes, ctx.timed = [in_shape], [out_shape], True
    try:
        yield
    finally:
        ctx.input_shapes, ctx.output_shapes, ctx.timed = saved
