"""Layers with no converter: convert what their ``call`` is made of.

Most custom layers (and many Keras layers) compute with ``keras.ops`` and
other layers. Running ``call`` on symbolic tensors records those operations
as a small graph (`nengo_keras.conversion.graph.trace`), which converts like a nested model.
Only if that fails does the layer fall back to a Keras-computing Node (or get
reported): so a user's ``x * self.scale + x`` layer needs no conversion code.
"""

from __future__ import annotations

import keras

from ..conversion import graph as kg
from ..conversion.registry import CONVERTERS, TRACE, Entry
from ..errors import ConversionError, describe
from ..conversion.values import Value


def convert_traced(layer, ctx, *inputs, **_):
    """Convert ``layer`` through the graph of its own ``call``."""
    fix = (
        "give the layer a to_nengo method (mix in nengo_keras.NengoConvertible) or "
        f"register one with @nengo_keras.register_converter({type(layer).__name__})"
    )
    if not isinstance(layer, keras.layers.Layer):
        ctx.unsupported(f"no converter for {type(layer).__name__}", fix)
    try:
        graph = kg.trace(layer, ctx.call)
    except Exception as e:  # any failure of symbolic execution means "can't trace"
        ctx.unsupported(
            f"no converter for {type(layer).__name__}, and its call could not be "
            f"traced into keras.ops ({type(e).__name__}: {_first_line(e)})",
            fix,
        )
    if ctx.timed:  # a temporal model's call: the traced graph has its time axis
        ctx.time.open(ctx.call, graph)
    # copies: if the trace fails half-way, the caller's values stay untouched
    copies = [Value(v.shape, v.terms, v.bias) for v in inputs]
    try:
        return ctx.convert(graph, copies, label=ctx.label(), strict=True)
    except ConversionError as e:
        what = "; ".join(f"{describe(op)}: {w}" for op, w, _ in e.problems)
        ctx.unsupported(
            f"no converter for {type(layer).__name__}, and its call uses operations "
            f"without a Nengo equivalent ({what})",
            fix,
        )


def _first_line(error, limit=160):
    text = str(error).strip().splitlines()
    text = text[0] if text else ""
    return text if len(text) <= limit else text[: limit - 3] + "..."


CONVERTERS.register(TRACE, Entry(convert_traced, convert_traced, "trace"))
