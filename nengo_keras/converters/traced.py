"""Layers with no converter: convert what their ``call`` is made of.

Most custom layers (and many Keras layers) compute with ``keras.ops`` and
other layers. Running ``call`` on symbolic tensors records those operations
as a small graph (`nengo_keras.conversion.graph.trace`), which converts like a nested model.
Only if that fails does the layer fall back to a Keras-computing Node (or get
reported): so a user's ``x * self.scale + x`` layer needs no conversion code.
"""

from __future__ import annotations

import dataclasses

import keras

from ..conversion import graph as kg
from ..conversion.registry import CONVERTERS, TRACE, Entry
from ..errors import ConversionError, describe
from ..conversion.values import Value
from .merging import constant_like


def convert_traced(layer, ctx, *inputs, **_):
    """Convert ``layer`` through the graph of its own ``call``."""
    fix = (
        "give the layer a to_nengo method (mix in nengo_keras.NengoConvertible) or "
        f"register one with @nengo_keras.register_converter({type(layer).__name__})"
    )
    if not isinstance(layer, keras.layers.Layer):
        ctx.unsupported(f"no converter for {type(layer).__name__}", fix)
    error = None
    # a batch of one settles code that needs the batch size; a Nengo network
    # computes one sample at a time, so that is exact (`_one_sample` checks
    # the trace did not fold other axes into the batch axis)
    for batch in (None, 1):
        try:
            graph = kg.trace(layer, ctx.call, ctx.input_shapes, batch=batch)
        except Exception as e:  # any failure of symbolic execution: "can't trace"
            error = (
                f"its call could not be traced into keras.ops "
                f"({type(e).__name__}: {_first_line(e)})"
            )
            continue
        if batch == 1 and not _one_sample(graph, ctx.output_shapes):
            error = error or "its call mixes the batch axis with others"
            continue
        try:
            return _convert(ctx, graph, inputs)
        except ConversionError as e:
            what = "; ".join(f"{describe(op)}: {w}" for op, w, _ in e.problems)
            error = f"its call uses operations without a Nengo equivalent ({what})"
    ctx.unsupported(f"no converter for {type(layer).__name__}, and {error}", fix)


def _convert(ctx, graph, inputs):
    if ctx.timed:  # a temporal model's call: the traced graph has its time axis
        ctx.time.open(ctx.call, graph)
    # outputs that do not depend on the inputs (a position embedding) are constants
    tensors = [kt for kt in graph.outputs if kg.is_keras_tensor(kt)]
    # copies: if the trace fails half-way, the caller's values stay untouched
    copies = [Value(v.shape, v.terms, v.bias) for v in inputs]
    computed = ctx.convert(
        dataclasses.replace(graph, outputs=tensors), copies, label=ctx.label(), strict=True
    )
    computed = iter(computed)
    return [
        next(computed) if kg.is_keras_tensor(kt) else _constant(kt, shape)
        for kt, shape in zip(graph.outputs, ctx.output_shapes)
    ]


def _one_sample(graph, out_shapes):
    """Whether a trace on a batch of one kept the batch axis apart."""
    return all(
        not kg.is_keras_tensor(kt)
        or (kt.shape[0] == 1 and tuple(kt.shape[1:]) == tuple(shape))
        for kt, shape in zip(graph.outputs, out_shapes)
    )


def _constant(array, shape):
    return Value.constant(constant_like(array, shape), shape)


def _first_line(error, limit=160):
    text = str(error).strip().splitlines()
    text = text[0] if text else ""
    return text if len(text) <= limit else text[: limit - 3] + "..."


CONVERTERS.register(TRACE, Entry(convert_traced, convert_traced, "trace"))
