"""The last resort: a `nengo.Node` that computes a layer with Keras itself.

Unlike NengoDL's TensorNodes, these run in every Python-side Nengo simulator
(the reference one included), with any number of inputs and outputs. They are
slow (one Keras call per step) and never run on neuromorphic hardware.
"""

from __future__ import annotations

import keras
import numpy as np

from ..conversion.graph import inference_kwargs, integer_dtype
from ..conversion.registry import CONVERTERS, FALLBACK, Entry


class KerasCall:
    """``f(*arrays)`` running one recorded call of a Keras layer/operation."""

    def __init__(self, op, graph_node, timed=False):
        self.op = op
        self.graph_node = graph_node
        self.timed = timed  # one step of a temporal call: add a time axis of 1

    def __call__(self, *arrays):
        lead = (None, None) if self.timed else (None,)
        tensors = {
            id(kt): _tensor(a[lead], kt.dtype)
            for kt, a in zip(self.graph_node.input_tensors, arrays)
        }
        args, kwargs = self.graph_node.fill_in(tensors)
        kwargs = inference_kwargs(self.op, kwargs)
        outputs = keras.tree.flatten(self.op(*args, **kwargs))
        first = (0, 0) if self.timed else 0
        return np.concatenate(
            [np.ravel(keras.ops.convert_to_numpy(o)[first]) for o in outputs]
        )

    @property
    def __name__(self):
        return f"keras:{self.op.name}"


def _tensor(array, dtype):
    """``array`` (Nengo's float64) as a tensor of the recorded input's dtype."""
    int_type = integer_dtype(dtype)
    if int_type:  # indices and flags travel through Nengo as floats
        return keras.ops.convert_to_tensor(np.rint(array).astype(int_type))
    dtype = keras.backend.standardize_dtype(dtype or "float32")
    return keras.ops.convert_to_tensor(array.astype(dtype if "float" in dtype else "float32"))


def fallback(op, ctx, *inputs):
    """Values of ``op``'s outputs computed by one Keras-calling Node."""
    return ctx.outputs_node(KerasCall(op, ctx.call, ctx.timed), list(inputs))


CONVERTERS.register(FALLBACK, Entry(fallback, fallback, "fallback"))
