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
import numpy as np

from ..errors import ConversionError
from .registry import SHAPE_RULES


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
    # how a subclassed model's call receives the inputs (None: positionally)
    structure: object = None


def integer_dtype(dtype):
    """The standard name of ``dtype`` if it is an integer or boolean type, else
    None (Nengo carries every value as a float)."""
    dtype = keras.backend.standardize_dtype(dtype or "float32")
    return dtype if "int" in dtype or dtype == "bool" else None


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
    if functional is None and not isinstance(model, keras.Sequential):
        traced = _trace_subclassed(model)
        if traced is not None:
            return traced
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
                    f"cannot read the layer graph of the subclassed "
                    f"`{type(model).__name__}` model: it is not built (its input "
                    f"shapes are unknown), or its `call` does not run on symbolic "
                    f"tensors",
                    "call the model once on data (or `model.build(shape)`) before "
                    "converting, or build it with the functional API or "
                    "`keras.Sequential`",
                )
            ]
        )
    graph = _graph(model, functional._inputs, functional._outputs, functional)
    if isinstance(getattr(functional, "_inputs_struct", None), dict):
        graph.structure = functional._inputs_struct  # e.g. keras_hub's models
    return graph


def _graph(model, inputs, outputs, function, traced=False):
    known = {id(x) for x in inputs}
    nodes = []
    for depth in sorted(function._nodes_by_depth, reverse=True):
        for node in function._nodes_by_depth[depth]:
            if node.operation is None or node.is_input:
                continue
            node_inputs = list(node.arguments.keras_tensors)
            if any(id(x) not in known for x in node_inputs):
                continue  # not reachable from the model inputs (Keras skips these too)
            node_outputs = list(node.outputs)
            known.update(id(x) for x in node_outputs)
            nodes.append(
                GraphNode(
                    op=node.operation,
                    call_index=_call_index(node, nodes, traced),
                    input_tensors=node_inputs,
                    output_tensors=node_outputs,
                    _keras_node=node,
                )
            )
    return Graph(model=model, inputs=list(inputs), outputs=list(outputs), nodes=nodes)


def _settled(declared, known):
    """``declared`` with its unknown dimensions taken from ``known`` (the
    shape the conversion found), where the two have the same rank."""
    if known is None or len(known) != len(declared):
        return declared
    return tuple(k if d is None else d for d, k in zip(declared, known))


def trace(layer, graph_node, known=None, batch=None):
    """The graph of ``layer.call`` run on fresh symbolic inputs.

    Custom layers (and Keras layers without a converter) are usually built
    from ``keras.ops`` and other layers; calling their ``call`` on symbolic
    tensors records those operations as a graph that converts like any model.
    Keras records each symbolic call in the called layers' node lists; they
    are restored afterwards so the user's model is left exactly as it was.
    ``known`` (one shape per input, no batch axis) settles dimensions that
    the graph left unknown; ``batch`` is the batch size of the fresh inputs
    (code that builds constants from ``ops.shape(x)[0]``, such as keras_hub's
    causal masks, needs a known one).
    """
    # one fresh tensor per distinct input: a tensor passed twice (self-attention's
    # ``mha(x, x)``) stays one tensor, at both positions of ``graph.inputs``
    distinct = {}
    known = known or [None] * len(graph_node.input_tensors)
    for kt, shape in zip(graph_node.input_tensors, known):
        if id(kt) not in distinct:
            shape = (batch,) + _settled(tuple(kt.shape[1:]), shape)
            distinct[id(kt)] = keras.KerasTensor(shape, dtype=kt.dtype)
    fresh = [distinct[id(kt)] for kt in graph_node.input_tensors]
    args, kwargs = graph_node.fill_in(distinct)
    return _trace_call(layer, fresh, args, kwargs)


def trace_function(fn, shape):
    """The graph of ``fn`` (e.g. an activation function made of
    ``keras.ops``) applied to one symbolic float tensor of ``shape`` (no
    batch axis); raises if ``fn`` does not run on symbolic tensors."""
    x = keras.KerasTensor((None,) + tuple(shape))
    out = fn(x)
    if not is_keras_tensor(out):
        raise TypeError(f"{fn!r} returned {type(out).__name__}, not a tensor")
    if out is x:
        return Graph(model=fn, inputs=[x], outputs=[x], nodes=[])
    return _graph(fn, [x], [out], keras.Function([x], [out]), traced=True)


def inference_kwargs(op, kwargs):
    """``kwargs`` with ``training=False`` where ``op``'s call takes ``training``.

    ``model.predict`` runs every such layer with ``training=False``, whatever
    the graph recorded (the symbolic call records the layer's own default,
    which for Keras' random image augmentation layers is ``True``).
    """
    if getattr(op, "_call_has_training_arg", False):
        return {**kwargs, "training": False}
    # ``Layer.__call__`` takes ``training`` for every layer and records it;
    # ``call`` itself may not accept it
    return {k: v for k, v in kwargs.items() if k != "training"}


def concrete_output_shapes(node, in_shapes):
    """Output shapes (no batch axis) of ``node`` run once on zeros of
    ``in_shapes``, or None if that fails.

    Some layers declare axes as unknown that their inputs fix (e.g. the
    sequence axis inside ``MultiHeadAttention``, whose projections are built
    for any length); running the call settles them.
    """
    rule = SHAPE_RULES.by_mro(type(node.op))
    if rule is not None:
        return rule(*in_shapes)
    try:
        zeros = {
            id(kt): keras.ops.zeros((1,) + tuple(shape), dtype=kt.dtype or "float32")
            for kt, shape in zip(node.input_tensors, in_shapes)
        }
        args, kwargs = node.fill_in(zeros)
        outputs = keras.tree.flatten(node.op(*args, **inference_kwargs(node.op, kwargs)))
        return [tuple(int(s) for s in out.shape[1:]) for out in outputs]
    except Exception:  # arbitrary layer code: keep the declared shapes
        return None


def has_shape_rule(op):
    """Whether ``op`` has a rule in `SHAPE_RULES`: its declared output shape
    may be wrong even where it is fully known, so the walk uses the rule."""
    return SHAPE_RULES.by_mro(type(op)) is not None


# Output shapes (no batch axis) from input shapes, for operations whose
# declared shape is incomplete or wrong (Keras declares dot_product_attention's
# output with the query's last axis, not the value's) and which cannot always
# run on zeros (JAX's dot_product_attention rejects value heads wider than
# query heads; Keras' MultiHeadAttention then takes another path)
def _attention_shape(q, k, v, *rest):
    return [tuple(q[:-1]) + tuple(v[-1:])]


def retrace(graph, shapes):
    """The graph of ``graph.model`` called on fresh inputs of ``shapes``.

    ``shapes`` holds one full shape (no batch axis) per entry of
    ``graph.inputs``. The model is called on new symbolic inputs, which
    records a new graph through the same layers and weights; the calls are
    then removed from the layers' node lists, so the model stays as it was.
    The fresh inputs keep the names of the model's inputs.
    """
    fresh = [
        keras.KerasTensor((None,) + tuple(shape), dtype=kt.dtype, name=input_name(kt))
        for kt, shape in zip(graph.inputs, shapes)
    ]
    functional = _functional_of(graph.model)
    template = graph.structure
    if template is None and functional is not None:
        template = functional._inputs_struct
    if template is None:
        structure = fresh[0] if len(fresh) == 1 else fresh
    else:
        structure = keras.tree.pack_sequence_as(template, fresh)
    new = _trace_call(graph.model, fresh, (structure,), {})
    if graph.structure is not None:
        new.structure = structure
    return new


def input_name(kt):
    """The name of a model input: its InputLayer's name (the tensor's if none)."""
    history = producer(kt)
    return history[0].name if history else kt.name


def input_keys(graph):
    """For each input of ``graph``, the names it goes by: its InputLayer's,
    the tensor's, and its key when the model takes a dict."""
    functional = _functional_of(graph.model)
    template = graph.structure
    if template is None and functional is not None:
        template = functional._inputs_struct
    paths = [] if template is None else [p for p, _ in keras.tree.flatten_with_path(template)]
    keys = []
    for i, kt in enumerate(graph.inputs):
        names = [input_name(kt), kt.name]
        if i < len(paths) and paths[i] and isinstance(paths[i][-1], str):
            names.append(paths[i][-1])
        keys.append(list(dict.fromkeys(names)))
    return keys


def _operations_of(layer):
    """``layer``, the layers inside it, and the bare operations (``keras.ops``
    calls) of every functional graph among them: all that a call can touch."""
    found = {id(layer): layer}
    stack = [layer]
    while stack:
        op = stack.pop()
        inner = []
        if hasattr(op, "_flatten_layers"):
            inner += list(op._flatten_layers(include_self=False, recursive=False))
        functional = _functional_of(op)
        if functional is not None:
            inner += list(functional.operations)
        for x in inner:
            if id(x) not in found:
                found[id(x)] = x
                stack.append(x)
    return [x for x in found.values() if hasattr(x, "_inbound_nodes")]


def _trace_call(layer, fresh, args, kwargs):
    kwargs = inference_kwargs(layer, kwargs)
    saved = [
        (x, list(x._inbound_nodes), list(x._outbound_nodes)) for x in _operations_of(layer)
    ]
    shimmed = _shim_output_specs(x for x, _, _ in saved if x is not layer)
    try:
        outputs = keras.tree.flatten(layer.call(*args, **kwargs))
        if not all(is_keras_tensor(x) or is_constant(x) for x in outputs):
            raise TypeError("the call returned something other than tensors")
        inputs = {id(x) for x in fresh}
        computed = [x for x in outputs if is_keras_tensor(x) and id(x) not in inputs]
        if not computed:  # the call returns its inputs (identity at inference)
            return Graph(model=layer, inputs=list(fresh), outputs=outputs, nodes=[])
        distinct = list({id(x): x for x in fresh}.values())
        function = keras.Function(distinct, computed)
        graph = _graph(layer, distinct, computed, function, traced=True)
        graph.inputs = list(fresh)  # one per input position, as the caller's values
        graph.outputs = outputs
        return graph
    finally:
        for x in shimmed:
            object.__delattr__(x, "compute_output_spec")
        for x, inbound, outbound in saved:
            x._inbound_nodes[:] = inbound
            x._outbound_nodes[:] = outbound


def is_constant(x):
    """Whether ``x`` is a concrete array (a traced call's output that does not
    depend on its inputs, e.g. a position embedding)."""
    return not is_keras_tensor(x) and (
        isinstance(x, np.ndarray) or keras.ops.is_tensor(x)
    )


def _shim_output_specs(layers):
    """While tracing, infer the layers' output specs by running their ``call``.

    A layer's own ``compute_output_spec`` may leave dimensions unknown that
    its inputs fix (``EinsumDense`` declares its sequence axis as None), so
    code after it that reads ``ops.shape`` builds reshapes with unknown sizes;
    or it may not take the extra call arguments of a subclass (keras_hub's
    ``CachedMultiHeadAttention`` adds ``cache`` to ``MultiHeadAttention``).
    Keras' generic inference runs ``call`` on symbolic backend tensors, which
    settles both; the layer's own method stays the fallback. The override is
    set on the instance for the trace only; returns the layers changed.
    """
    shimmed = []
    for x in layers:
        if isinstance(x, keras.layers.Layer) and "compute_output_spec" not in vars(x):
            object.__setattr__(x, "compute_output_spec", _InferredSpec(x))
            shimmed.append(x)
    return shimmed


class _InferredSpec:
    """``compute_output_spec`` from running ``call``, else the layer's own."""

    def __init__(self, layer):
        self.layer = layer

    def __call__(self, *args, **kwargs):
        try:
            return keras.Operation.compute_output_spec(self.layer, *args, **kwargs)
        except Exception:  # e.g. code that needs a known batch size
            return type(self.layer).compute_output_spec(self.layer, *args, **kwargs)


def _trace_subclassed(model):
    """The graph of a built subclassed model's ``call``, or None.

    The model must have been built (called once, or ``model.build``) so its
    input shapes are known: one input, a list/tuple of inputs or a dict of
    them. The graph's inputs are the flat list of those (dict inputs named by
    their keys); ``graph.structure`` is how ``call`` receives them.
    """
    shapes = getattr(model, "_build_shapes_dict", None) or {}
    if len(shapes) != 1:
        return None
    (spec,) = shapes.values()

    def fresh(shape, name):
        return keras.KerasTensor((None,) + tuple(shape[1:]), name=name)

    try:
        if _is_shape(spec):
            structure = fresh(spec, "input")
        elif isinstance(spec, dict) and all(_is_shape(v) for v in spec.values()):
            structure = {k: fresh(v, str(k)) for k, v in spec.items()}
        elif isinstance(spec, (list, tuple)) and all(_is_shape(v) for v in spec):
            structure = type(spec)(fresh(v, f"input_{i}") for i, v in enumerate(spec))
        else:
            return None
        flat = keras.tree.flatten(structure)
        graph = _trace_call(model, flat, (structure,), {})
    except Exception:  # arbitrary Python in call: report it as untraceable
        return None
    graph.structure = None if _is_shape(spec) else structure
    return graph


def _is_shape(spec):
    return isinstance(spec, (tuple, list)) and all(
        isinstance(s, int) or s is None for s in spec
    )


def _call_index(node, earlier, traced):
    if traced:  # a call made while tracing (not kept): count the op's calls
        return sum(n.op is node.operation for n in earlier)
    for i, other in enumerate(getattr(node.operation, "_inbound_nodes", [])):
        if other is node:
            return i
    return 0


def producer(tensor):
    """Return ``(operation, call_index, output_index)`` that made ``tensor``."""
    history = getattr(tensor, "_keras_history", None)
    if history is None or history.operation is None:
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


if op_class("nn.DotProductAttention") is not None:
    SHAPE_RULES.register(op_class("nn.DotProductAttention"), _attention_shape)
