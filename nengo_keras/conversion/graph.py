"""Read-only access to the computation graph of a Keras 3 model.

This is the only module of nengo_keras that touches private Keras attributes
(``_nodes_by_depth``, ``_keras_history``, ``_inbound_nodes``, ``arguments``...).
Keeping them here means a Keras upgrade that renames one of them breaks a single
file, and the rest of the package works with the plain records defined below.
"""

from __future__ import annotations

import dataclasses
import inspect
import math

import keras
import numpy as np
from keras.src.backend.common.masking import set_keras_mask

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
    masks: dict = dataclasses.field(default_factory=dict)
    """Keras' implicit masks: ``{call argument: mask tensor(s)}`` that Keras
    passes at run time but the graph does not record (their tensors end
    ``input_tensors``)."""
    masked_inputs: dict = dataclasses.field(default_factory=dict)
    """``{id(input tensor): its mask tensor}`` for the inputs that carry one."""
    shared: bool = False
    """Whether the operation has other calls in the same graph (set by the
    walk): only then do names carry the call index."""

    @property
    def call_name(self):
        """``name``, or ``name[i]`` for the i-th call of a shared layer."""
        suffix = f"[{self.call_index}]" if self.shared and self.call_index else ""
        return self.op.name + suffix

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
        args, kwargs = self._keras_node.arguments.fill_in(values)
        for name, masks in self.masks.items():
            kwargs[name] = _map_masks(lambda m: values[id(m)], masks)
        return args, kwargs

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
    # how the model's call receives the inputs (None: positionally)
    structure: object = None
    # how the model returns its outputs (None: ``outputs`` as they are)
    output_structure: object = None


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
    inputs = functional._inputs_struct
    flat = isinstance(inputs, (list, tuple)) and all(is_keras_tensor(x) for x in inputs)
    if not (is_keras_tensor(inputs) or flat):
        graph.structure = inputs  # e.g. a dict: the arrays must be packed into it
    graph.output_structure = functional._outputs_struct
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
            graph_node = _graph_node(node, nodes, traced)
            _add_implicit_masks(graph_node, known, nodes)
            known.update(id(x) for x in graph_node.output_tensors)
            nodes.append(graph_node)
    return Graph(model=model, inputs=list(inputs), outputs=list(outputs), nodes=nodes)


def _graph_node(node, earlier=(), traced=False):
    return GraphNode(
        op=node.operation,
        call_index=_call_index(node, earlier, traced),
        input_tensors=list(node.arguments.keras_tensors),
        output_tensors=list(node.outputs),
        _keras_node=node,
    )


def _map_masks(fn, masks):
    """``fn`` applied to every leaf of nested lists/tuples; None stays None."""
    if isinstance(masks, (list, tuple)):
        return type(masks)(_map_masks(fn, m) for m in masks)
    return None if masks is None else fn(masks)


def _leaves(structure):
    """The leaves of nested lists/tuples that are not None."""
    flat = []
    _map_masks(flat.append, structure)
    return flat


# operations whose ``axis`` counts the axes of their output (a new axis):
# where it lands before the batch axis, the output shape says so
_OUTPUT_AXIS = {"ExpandDims", "Stack", "OneHot", "MultiHot"}

# operations for which ``axis=None`` means every axis, the batch axis included
# (reductions to a scalar are caught by their output shape)
_ALL_AXES_IF_NONE = {"Flip", "Roll", "Cumsum", "Cumprod", "Sort", "Argsort", "Transpose"}


def mixes_samples(node):
    """Why the call combines values of different samples (Nengo runs one
    sample at a time), or None if it acts on each sample alone."""
    batched = [x for x in node.input_tensors if len(x.shape) and x.shape[0] is None]
    if not batched:
        return None
    for out in node.output_tensors:
        if not len(out.shape) or out.shape[0] is not None:
            return f"its output {tuple(out.shape)} has no batch axis first"
    op, name = node.op, type(node.op).__name__
    first = node._keras_node.arguments.args[:1]
    first = first[0] if first else None
    if isinstance(first, (list, tuple)) and first:  # concatenate([a, b]), stack...
        first = first[0]
    if not (is_keras_tensor(first) and len(first.shape) and first.shape[0] is None):
        return None  # e.g. take(table, indices): the axis is the constant's
    rank = len(first.shape)
    if name == "Reshape" and not isinstance(op, keras.layers.Layer):
        return _reshape_mixes(first, op.newshape)
    axes = getattr(op, "axis", getattr(op, "axes", ()))
    if name in _OUTPUT_AXIS:
        return None
    if axes is None:
        if name in _ALL_AXES_IF_NONE:
            return "it acts on all axes at once (axis=None), the batch axis included"
        return None
    axes = tuple(axes) if isinstance(axes, (list, tuple)) else (axes,)
    ints = [a % rank for a in axes if isinstance(a, int)]
    if name == "Transpose":
        return None if not ints or ints[0] == 0 else f"it moves the batch axis (axes={axes})"
    if 0 in ints:
        return f"it acts along the batch axis (axis={axes[0] if len(axes) == 1 else axes})"
    return None


def _reshape_mixes(x, newshape):
    newshape = tuple(newshape) if isinstance(newshape, (list, tuple)) else (newshape,)
    per_sample = x.shape[1:]
    fixed = [s for s in newshape[1:] if s != -1]
    known = None not in per_sample and -1 not in newshape[1:]
    if (
        len(newshape) < 2
        or newshape[0] not in (-1, None)
        or (known and math.prod(fixed) != math.prod(per_sample))
    ):
        return f"it reshapes to {newshape}, folding the batch axis into others"
    return None


def attach_masks(graph_node, tensors):
    """Put the implicit masks of ``graph_node`` on the concrete input tensors
    (``{id(keras tensor): tensor}``), where layers such as
    ``MultiHeadAttention`` read them."""
    for kt, mask in graph_node.masked_inputs.items():
        set_keras_mask(tensors[kt], tensors[id(mask)])


def call_takes(layer, name):
    """Whether ``layer.call`` has a parameter ``name``."""
    try:
        return name in inspect.signature(layer.call).parameters
    except (TypeError, ValueError):
        return False


def implicit_masks(node):
    """The masks Keras would pass to ``node``'s call by itself.

    A layer whose ``call`` takes ``mask`` (one tensor argument) or
    ``<argument>_mask`` (several) receives at run time the masks its input
    tensors carry (from ``Embedding(mask_zero=True)``, ``Masking``...,
    passed along by layers that support masking). Keras does not always
    record them in the graph. Returns ``{argument name: mask tensor(s)}``
    and ``{id(input tensor): mask tensor}``.
    """
    op = node.operation
    if not isinstance(op, keras.layers.Layer):
        return {}, {}
    try:
        params = inspect.signature(op.call).parameters
        bound = inspect.signature(op.call).bind(*node.arguments.args, **node.arguments.kwargs)
    except (TypeError, ValueError):
        return {}, {}
    variadic = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    tensors = {  # the arguments Keras counts as tensor arguments
        k: v for k, v in bound.arguments.items()
        if params[k].kind not in variadic
        and _leaves(v)
        and all(is_keras_tensor(x) for x in _leaves(v))
    }
    if len(tensors) == 1:
        wanted = {"mask": next(iter(tensors.values()))} if "mask" in params else {}
    else:
        wanted = {f"{k}_mask": v for k, v in tensors.items() if f"{k}_mask" in params}
    masks, masked = {}, {}
    for name, value in wanted.items():
        if bound.arguments.get(name) is not None:
            continue  # given explicitly
        found = _map_masks(lambda x: getattr(x, "_keras_mask", None), value)
        if _leaves(found):
            masks[name] = found
            for x in _leaves(value):
                if getattr(x, "_keras_mask", None) is not None:
                    masked[id(x)] = x._keras_mask
    return masks, masked


def _add_implicit_masks(graph_node, known, nodes):
    """Give ``graph_node`` Keras' implicit masks, adding the nodes that compute
    them (from tensors already ``known``) to ``nodes``; raise if they cannot be
    computed from the model's inputs."""
    masks, masked = implicit_masks(graph_node._keras_node)
    if not masks:
        return
    tensors = _leaves(list(masks.values()))
    for m in tensors:
        if not _add_producers(m, known, nodes):
            raise ConversionError(
                [
                    (
                        graph_node.op,
                        f"Keras passes this call a mask ({m.name!r}) that is not "
                        f"computed from the model's inputs",
                        "pass the mask explicitly (e.g. `attention_mask=`), or "
                        "remove `mask_zero`/`Masking` before this layer",
                    )
                ]
            )
    graph_node.masks = masks
    graph_node.masked_inputs = masked
    graph_node.input_tensors = graph_node.input_tensors + tensors


def _add_producers(tensor, known, nodes, depth=0):
    """Append the nodes computing ``tensor`` from ``known`` tensors, in order."""
    if id(tensor) in known:
        return True
    history = producer(tensor)
    if history is None or depth > 100:
        return False
    op, index, _ = history
    node = op._inbound_nodes[index]
    if node.is_input or not all(
        _add_producers(x, known, nodes, depth + 1) for x in node.arguments.keras_tensors
    ):
        return False
    graph_node = _graph_node(node)
    _add_implicit_masks(graph_node, known, nodes)
    known.update(id(x) for x in graph_node.output_tensors)
    nodes.append(graph_node)
    return True


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
    for kt, mask in graph_node.masked_inputs.items():
        # layers such as MultiHeadAttention read the mask off their inputs
        distinct[kt]._keras_mask = distinct[id(mask)]
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
        returned = layer.call(*args, **kwargs)
        outputs = keras.tree.flatten(returned)
        if not all(is_keras_tensor(x) or is_constant(x) for x in outputs):
            raise TypeError("the call returned something other than tensors")
        inputs = {id(x) for x in fresh}
        computed = [x for x in outputs if is_keras_tensor(x) and id(x) not in inputs]
        if not computed:  # the call returns its inputs (identity at inference)
            return Graph(model=layer, inputs=list(fresh), outputs=outputs, nodes=[],
                         output_structure=returned)
        distinct = list({id(x): x for x in fresh}.values())
        function = keras.Function(distinct, computed)
        graph = _graph(layer, distinct, computed, function, traced=True)
        graph.inputs = list(fresh)  # one per input position, as the caller's values
        graph.outputs = outputs
        graph.output_structure = returned
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
