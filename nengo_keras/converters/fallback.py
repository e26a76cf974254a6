"""The last resort: a `nengo.Node` that computes a layer with Keras itself.

Unlike NengoDL's TensorNodes, these run in every Python-side Nengo simulator
(the reference one included), with any number of inputs and outputs. They are
slow (one Keras call per step) and never run on neuromorphic hardware.
"""

from __future__ import annotations

import keras
import numpy as np


class KerasCall:
    """``f(*arrays)`` running one recorded call of a Keras layer/operation."""

    def __init__(self, op, graph_node):
        self.op = op
        self.graph_node = graph_node

    def __call__(self, *arrays):
        tensors = {
            id(kt): keras.ops.convert_to_tensor(a[None], dtype="float32")
            for kt, a in zip(self.graph_node.input_tensors, arrays)
        }
        args, kwargs = self.graph_node.fill_in(tensors)
        outputs = keras.tree.flatten(self.op(*args, **kwargs))
        return np.concatenate(
            [np.ravel(keras.ops.convert_to_numpy(o)[0]) for o in outputs]
        )

    @property
    def __name__(self):
        return f"keras:{self.op.name}"


def fallback(op, ctx, *inputs):
    """Values of ``op``'s outputs computed by one Keras-calling Node."""
    sizes = [int(np.prod(s)) for s in ctx.output_shapes]
    node = ctx.node(KerasCall(op, ctx.call), list(inputs), (sum(sizes),))
    if len(sizes) == 1:
        return node.reshape(ctx.output_shapes[0])
    obj, start, outs = node.obj, 0, []
    for size, shape in zip(sizes, ctx.output_shapes):
        outs.append(ctx.as_value(obj[start : start + size], shape))
        start += size
    return outs
