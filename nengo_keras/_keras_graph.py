"""Read-only access to the computation graph of a Keras 3 model.

This is the only module of nengo_keras that touches private Keras attributes
(``_nodes_by_depth``, ``_keras_history``, ``_inbound_nodes``, ``arguments``...).
Keeping them here means a Keras upgrade that renames one of them breaks a single
file, and the rest of the package works with the plain records defined below.
"""

from __future__ import annotations

import dataclasses
import math

import keras

from .errors import ConversionError


@dataclasses.dataclass(eq=False)
class GraphNode:
    """One call of a Keras layer or operation inside a functional graph."""

    op: object
    """The `keras.layers.Layer` or `keras.Operation` that was called."""
    call_index: int
    """Index of this call among the operation's calls (NengoDL's ``node_id``)."""
    input_tensors: list
    """KerasTensors passed to the call, flattened in call order."""
    output_tensors: list
    """KerasTensors produced by the call, flattened."""
    _keras_node: object = dataclasses.field(repr=False)

    @property
    def name(self):
        return self.op.name

    def fill_in(self, values):
        """Return the call's ``(args, kwargs)`` with tensors replaced.

        Parameters
        ----------
        values : dict
            Maps ``id(keras_tensor)`` to the replacement.
        """
        return self._keras_node.arguments.fill_in(values)

    def constant_kwargs(self):
        """Keyword arguments of the call that are not tensors."""
        kwargs = self._keras_node.arguments.kwargs
        return {
            k: v
            for k, v in kwargs.items()
            if not keras.tree.flatten(v)
            or not any(is_keras_tensor(x) for x in keras.tree.flatten(v))
        }


@dataclasses.dataclass(eq=False)
class Graph:
    """The computable part of a functional graph, in execution order."""

    model: object
    inputs: list
    outputs: list
    nodes: list


def is_keras_tensor(x):
    return isinstance(x, keras.KerasTensor)


def is_graph_model(op):
    """Whether ``op`` is a model whose layer graph can be read."""
    return _functional_of(op) is not None


def _functional_of(model):
    if not isinstance(model, keras.Model):
        return None
    if hasattr(model, "_nodes_by_depth") and hasattr(model, "_inputs"):
        return model
    functional = getattr(model, "_functional", None)  # built Sequential
    if functional is not None and hasattr(functional, "_nodes_by_depth"):
        return functional
    return None


def graph_of(model):
    """Return the `Graph` of a Functional or Sequential model.

    Raises
    ------
    ConversionError
        If the model has no readable graph (an unbuilt Sequential model, or a
        subclassed model whose ``call`` is arbitrary Python).
    """
    functional = _functional_of(model)
    if functional is None:
        if isinstance(model, keras.Sequential):
            raise ConversionError(
                [
                    (
                        model,
                        "Sequential model has no known input shape",
                        "start it with `keras.Input(shape=...)` or call "
                        "`model.build(input_shape)` before converting",
                    )
                ]
            )
        raise ConversionError(
            [
                (
                    model,
                    f"cannot read the layer graph of a subclassed "
                    f"`{type(model).__name__}` model (its `call` is Python code)",
                    "build the model with the functional API or "
                    "`keras.Sequential`, or give the model class a `to_nengo` "
                    "method (see `nengo_keras.NengoConvertible`)",
                )
            ]
        )
    known = {id(x) for x in functional._inputs}
    nodes = []
    for depth in sorted(functional._nodes_by_depth, reverse=True):
        for node in functional._nodes_by_depth[depth]:
            if node.operation is None or node.is_input:
                continue
            inputs = list(node.arguments.keras_tensors)
            if any(id(x) not in known for x in inputs):
                continue  # not reachable from the model inputs (Keras skips these too)
            outputs = list(node.outputs)
            known.update(id(x) for x in outputs)
            nodes.append(
                GraphNode(
                    op=node.operation,
                    call_index=_call_index(node),
                    input_tensors=inputs,
                    output_tensors=outputs,
                    _keras_node=node,
                )
            )
    return Graph(
        model=model,
        inputs=list(functional._inputs),
        outputs=list(functional._outputs),
        nodes=nodes,
    )


def _call_index(node):
    for i, other in enumerate(getattr(node.operation, "_inbound_nodes", [])):
        if other is node:
            return i
    return 0


def producer(tensor):
    """Return ``(operation, call_index, output_index)`` that made ``tensor``."""
    history = getattr(tensor, "_keras_history", None)
    if history is None:
        return None
    return history.operation, history.node_index, history.tensor_index


def tensor_shape(tensor):
    """Shape of a KerasTensor without the batch axis (may contain None)."""
    return tuple(tensor.shape[1:])


def size_of(shape):
    return int(math.prod(shape))


def all_layers(model):
    """Every layer inside ``model``: nested models' and wrapped layers too."""
    return list(model._flatten_layers(include_self=False, recursive=True))


def layer_call_count(layer):
    """How many times a layer has been called (in any graph)."""
    return len(getattr(layer, "_inbound_nodes", []))


def op_class(path):
    """Return a Keras operation class from ``"module.Class"`` under ``keras.src.ops``.

    Returns None when this Keras version lacks it, so converters for optional
    operations register only where they exist.
    """
    import importlib

    module, _, name = path.rpartition(".")
    try:
        return getattr(importlib.import_module(f"keras.src.ops.{module}"), name)
    except (ImportError, AttributeError):
        return None


def layer_class(path):
    """Return a Keras class from a path under ``keras.src`` (None if absent)."""
    import importlib

    module, _, name = path.rpartition(".")
    try:
        return getattr(importlib.import_module(f"keras.src.{module}"), name)
    except (ImportError, AttributeError):
        return None


def functional_class():
    from keras.src.models.functional import Functional

    return Functional
