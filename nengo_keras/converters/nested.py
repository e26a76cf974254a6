"""Nested Functional and Sequential models become sub-networks."""

from __future__ import annotations

import keras

from ..conversion import graph as kg
from ..conversion.registry import register


def convert_model(model, ctx, *inputs, **_):
    """Convert the inner graph into a `nengo.Network` inside the current one.

    Its layers appear in the conversion report under ``outer/inner`` paths.
    """
    graph = kg.graph_of(model)
    if len(graph.inputs) != len(inputs):
        ctx.unsupported(
            f"the nested model takes {len(graph.inputs)} inputs but is called "
            f"with {len(inputs)}"
        )
    return ctx.convert(graph, list(inputs), label=ctx.label(), path=model.name)


register(kg.functional_class(), convert_model)
register(keras.Sequential, convert_model)
