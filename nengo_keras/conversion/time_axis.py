"""Temporal models: the Keras time axis becomes Nengo's time.

In a temporal model every input is shaped ``(batch, time, ...)``. Nengo has
no time axis in its values: a Nengo value is one time step, and the simulator
steps through time. So the converter drops axis 1 from the shape of every
tensor that carries it ("timed" tensors), and converts each layer on the
per-step shape. That is exact only for layers that act on every time step
separately (Dense on the last axis, elementwise maths, ``TimeDistributed``)
and for the stateful spiking layers of `nengo_keras.layers`, whose state is
the Nengo simulator's. Anything else (recurrent layers, Flatten over time,
convolutions or pooling over time) is reported.

A layer with ``return_sequences=False`` (the spiking layers' option) outputs
the last time step: its outputs are untimed, and layers after it convert as
usual. Their Nengo output at each step is what Keras would output if the
sequence ended at that step, so the last step of a run matches Keras.

The time axis is never dropped for the tensors of a model that is not
temporal: `TimeAxis` exists only for temporal conversions.
"""

from __future__ import annotations

import keras
import numpy as np

from . import graph as kg
from ..errors import ConversionError, Unsupported, describe
from .registry import TIME_MARKERS, TIME_RULES


def temporal_layers(model):
    """The layers of ``model`` (nested ones included) that need Nengo time
    (those of a class registered with ``marks_time=True``)."""
    kinds = tuple(k for k in TIME_MARKERS.keys())
    return [layer for layer in kg.all_layers(model) if isinstance(layer, kinds)]


def register_time_rule(cls, rule, marks_time=False):
    """Say how layers of ``cls`` treat the time axis of a temporal model.

    ``rule(op, graph_node)`` returns None if the call acts on each time step
    separately, a string saying why it mixes time steps otherwise, or
    `REDUCES` if it keeps only the last step. ``marks_time``: a model that
    contains such a layer is temporal by default (``temporal=None``).

    Examples
    --------
    >>> register_time_rule(MyPerStepLayer, per_step)
    """
    TIME_RULES.register(cls, rule)
    if marks_time:
        TIME_MARKERS.register(cls, True)


def resolve(option, model):
    """Whether to convert ``model`` as a temporal model (``temporal=option``).

    ``None`` auto-detects: temporal iff the model contains `nengo_keras.layers`
    spiking or synapse layers.
    """
    found = temporal_layers(model)
    if option is None:
        return bool(found)
    if not isinstance(option, (bool, np.bool_)):
        raise TypeError(f"option temporal must be None, True or False, got {option!r}")
    if not option and found:
        raise ConversionError(
            [
                (
                    layer,
                    "this layer acts over the time axis, which a conversion with "
                    "temporal=False does not map to Nengo time",
                    "leave temporal=None (the default) or pass temporal=True",
                )
                for layer in found
            ]
        )
    return bool(option)


def model_dt(model):
    """The ``dt`` shared by the model's temporal layers (None if it has none)."""
    layers = temporal_layers(model)
    dts = {layer.dt for layer in layers}
    if len(dts) > 1:
        raise ConversionError(
            [
                (
                    layer,
                    f"has dt={layer.dt}, but other temporal layers of the model use "
                    f"dt={sorted(dts - {layer.dt})}; a Nengo simulator has one time step",
                    "give every SpikingActivation, Lowpass and Alpha layer the same dt",
                )
                for layer in layers
            ]
        )
    return dts.pop() if dts else None


class Broken(Exception):
    """A layer downstream of a temporal problem already reported."""


class NoTimeAxis:
    """The per-call rules of a conversion without a time axis: every call
    converts as it is (see `TimeAxis` for the rules of temporal models).

    The walk asks ``ctx.axis`` (this or a `TimeAxis`) about each call, so it
    has no time-axis code of its own.
    """

    def enter(self, node, entry):
        return False

    def walks_inside(self, node):
        return False

    def leave(self, node):
        pass

    def steps_alone(self, op):
        return True

    def fail(self, node):
        pass


class TimeAxis:
    """Which Keras tensors of a temporal model carry the time axis.

    Attributes
    ----------
    timed : set of int
        ``id`` of every Keras tensor whose axis 1 is time.
    """

    def __init__(self):
        self.timed = set()
        self.broken = set()
        self.nested = set()  # calls converted by walking a graph: nested models, traces
        self.graphs = {}  # id(call) -> the graph converting it

    def shape(self, kt):
        """Nengo shape of tensor ``kt``: no batch axis, no time axis."""
        shape = kg.tensor_shape(kt)
        return shape[1:] if id(kt) in self.timed else shape

    def add_inputs(self, graph):
        """Mark the model inputs as timed; return the problems found."""
        problems = []
        for kt in graph.inputs:
            if len(kt.shape) < 2:
                problems.append(
                    (
                        kg.producer(kt)[0],
                        f"input {kt.name!r} has shape {tuple(kt.shape)}, but in a "
                        f"temporal model every input is shaped (batch, time, ...)",
                        "add a time axis to the input, or convert with "
                        "temporal=False if the model has no temporal layers",
                    )
                )
            self.timed.add(id(kt))
        return problems

    def enter(self, node, entry):
        """Check ``node`` can run per time step; mark its outputs.

        Returns
        -------
        bool
            True if the call is on timed tensors (it then converts per step).

        Raises
        ------
        Broken
            If an input comes from a layer that could not be converted.
        Unsupported
            If the call mixes time steps (the walker reports it).
        """
        inputs = node.input_tensors
        if any(id(kt) in self.broken for kt in inputs):
            self._break(node)
            raise Broken()
        timed = [id(kt) in self.timed for kt in inputs]
        if not any(timed):
            return False
        try:
            if not all(timed):
                raise Unsupported(
                    "it mixes tensors that have a time axis with tensors that do "
                    "not (outputs of a return_sequences=False layer)",
                    "keep the time axis (return_sequences=True) on every input",
                )
            lengths = {kt.shape[1] for kt in inputs}
            if len(lengths) > 1:
                raise Unsupported(f"its inputs have different numbers of time steps {lengths}")
            _check_not_recurrent(node.op, entry)
            if _walks_inside(node.op, entry):
                # its layers or operations are checked one by one; see `leave`
                self.nested.add(id(node))
                if kg.is_graph_model(node.op):
                    self.open(node, kg.graph_of(node.op))
                return True
            reduces = _check_per_step(node, entry)
            for kt in node.output_tensors:
                if reduces:
                    continue
                if len(kt.shape) < 2 or kt.shape[1] != inputs[0].shape[1]:
                    raise Unsupported(
                        f"its output shape {tuple(kt.shape)} has no time axis of "
                        f"{inputs[0].shape[1]} steps at axis 1",
                        "keep the time axis at axis 1",
                    )
                self.timed.add(id(kt))
        except Unsupported:
            self._break(node)
            raise
        return True

    def walks_inside(self, node):
        """Whether ``node`` converts by walking a graph whose own layers are
        checked (its outputs' time axes are known after the walk: `leave`)."""
        return id(node) in self.nested

    def open(self, node, graph):
        """Before ``graph`` (a nested model's, or a traced call's) converts the
        timed call ``node``: its inputs carry the time axis too."""
        self.graphs[id(node)] = graph
        self.timed.update(id(kt) for kt in graph.inputs)

    def leave(self, node):
        """After a walked call: its outputs have the time axes of the graph's."""
        graph = self.graphs.pop(id(node), None)
        for outer, kt in zip(node.output_tensors, graph.outputs if graph else []):
            if id(kt) in self.timed:
                self.timed.add(id(outer))

    def steps_alone(self, op):
        """Whether ``op`` is known to act on every time step separately, so a
        Keras fallback Node (which sees one step at a time) computes it."""
        return _rule_for(type(op)) is not None

    def fail(self, node):
        """``node`` could not be converted: skip the calls that depend on it."""
        self._break(node)

    def _break(self, node):
        self.broken.update(id(kt) for kt in node.output_tensors)


# --- which layers act on each time step separately --------------------------


def _check_per_step(node, entry):
    """Raise `Unsupported` unless ``node`` acts per step; return True if it
    reduces the time axis to its last step (``return_sequences=False``)."""
    op = node.op
    if entry is not None and not _is_library(entry):
        return False  # the user's own converter: trusted to work per step
    rule = _rule_for(type(op))
    if rule is None:
        raise Unsupported(
            f"it may mix time steps: in a temporal model (whose axis 1 is Nengo "
            f"time) only layers known to act on every time step separately "
            f"convert, and {type(op).__name__} is not one of them",
            "wrap per-step layers in keras.layers.TimeDistributed, convert without "
            "the time axis (temporal=False), or give the layer a converter "
            "(nengo_keras.register_converter) that works on one time step",
        )
    problem = rule(op, node)
    if isinstance(problem, str):
        raise Unsupported(
            f"{problem}, which mixes time steps",
            "keep axis 1 (time) out of the layer's axes, or wrap the layer in "
            "keras.layers.TimeDistributed",
        )
    return problem is REDUCES


def _is_library(entry):
    """Whether ``entry`` is one of nengo_keras' own converters (whose layers
    must be known to act per step), rather than the user's (trusted)."""
    if entry.source in ("to_nengo", "converters=", "converter_scope"):
        return False
    module = getattr(entry.fn, "__module__", "") or ""
    # NengoDL-style LayerConverters are the user's too (adapted in compat)
    return module.startswith("nengo_keras.") and module != "nengo_keras.nengo_dl.compat"


def _check_not_recurrent(op, entry):
    if entry is not None and not _is_library(entry):
        return
    if isinstance(op, (keras.layers.RNN, keras.layers.Bidirectional)):
        raise Unsupported(
            f"{type(op).__name__} is recurrent: each step's output depends on earlier "
            f"steps, so it mixes time steps, and nengo_keras has no converter for it",
            "register a converter that builds the recurrence in Nengo (a recurrent "
            "nengo.Connection), or build the model from per-step layers and "
            "nengo_keras.layers (SpikingActivation, Lowpass, Alpha)",
        )


def _walks_inside(op, entry):
    """Calls converted by walking a graph of their own, whose layers are
    checked one by one: nested models, and traced layers not known per step."""
    if entry is None or not _is_library(entry):
        return False
    if entry.source == "trace":
        return _rule_for(type(op)) is None
    return kg.is_graph_model(op)


REDUCES = object()


def per_step_rule(op, node):
    return None


def sequence_rule(op, node):
    return None if getattr(op, "return_sequences", True) else REDUCES


def _last_axis(op, node):
    if len(node.input_tensors[0].shape) < 3:
        return f"{describe(op)} acts on the last axis, which here is the time axis"
    return None


def _axis(op, node):
    ndim = len(node.input_tensors[0].shape)
    if op.axis is None:
        return "it acts on all axes, the time axis included"
    axes = op.axis if isinstance(op.axis, (list, tuple)) else [op.axis]
    if any(a % ndim == 1 for a in axes):
        return f"its axis {op.axis} is the time axis"
    return None


def _reshape(op, node):
    (x,), (y,) = node.input_tensors, node.output_tensors
    same_steps = x.shape[1] == y.shape[1] and x.shape[1] is not None
    if same_steps and kg.size_of(x.shape[2:] or (1,)) == kg.size_of(y.shape[2:] or (1,)):
        return None
    return f"it reshapes {tuple(x.shape)} to {tuple(y.shape)}, not keeping the time steps apart"


def _prelu(op, node):
    if 1 not in (op.shared_axes or ()):
        return "its alpha weights differ from time step to time step (shared_axes=[1] shares them)"
    return None


def _flatten(op, node):
    if len(node.input_tensors[0].shape) > 2:
        return "it flattens the time axis into the features"
    return None


def _constants(op, node):
    """Elementwise operations: constant operands must not vary over time."""
    args, _ = node.fill_in({id(kt): kt for kt in node.input_tensors})
    ndim = len(node.output_tensors[0].shape)
    for arg in args:
        if kg.is_keras_tensor(arg) or arg is None:
            continue
        shape = np.shape(keras.ops.convert_to_numpy(arg))
        # NumPy broadcasting aligns trailing axes: which axes reach time and batch
        over = len(shape) - (ndim - 2)
        if over > 0 and any(s != 1 for s in shape[:over]):
            return f"a constant operand of shape {shape} varies along the time axis"
    return None


def _register_keras_rules():
    L = keras.layers
    per_step = [
        L.Activation, L.ReLU, L.LeakyReLU, L.ELU,
        L.Dropout, L.SpatialDropout1D, L.SpatialDropout2D, L.SpatialDropout3D,
        L.GaussianNoise, L.GaussianDropout, L.AlphaDropout,
        L.ActivityRegularization, L.Identity, L.Rescaling,
        L.Add, L.Subtract, L.Average, L.Maximum, L.Minimum, L.Multiply,
        L.TimeDistributed,
    ]  # fmt: skip
    table = {cls: per_step_rule for cls in per_step}
    table.update({L.Dense: _last_axis, L.Reshape: _reshape, L.Flatten: _flatten})
    table[L.PReLU] = _prelu
    for name in (
        "Concatenate", "BatchNormalization", "LayerNormalization", "Softmax",
        "Normalization", "UnitNormalization", "RMSNormalization",
    ):  # fmt: skip
        if hasattr(L, name):  # RMSNormalization is recent
            table[getattr(L, name)] = _axis
    for path in (
        "numpy.Add", "numpy.Subtract", "numpy.Multiply", "numpy.Divide",
        "numpy.TrueDivide", "numpy.Negative", "numpy.Maximum", "numpy.Minimum",
        "numpy.Absolute", "numpy.Abs", "numpy.Clip", "numpy.Tanh",
        "nn.Relu", "nn.Relu6", "nn.Sigmoid", "nn.LeakyRelu",
    ):  # fmt: skip
        cls = kg.op_class(path)
        if cls is not None:
            table[cls] = _constants
    for cls, rule in table.items():
        register_time_rule(cls, rule)


def _rule_for(cls):
    # a subclass with its own maths (its own ``call``) is not known to be per step
    return TIME_RULES.by_mro(cls)


_register_keras_rules()


def add_time_axis(tensors):
    """Per-step tensors ``(batch, *shape)`` as one-step sequences ``(batch, 1, *shape)``.

    For Keras calls that probe or compute a timed layer on one time step.
    """
    return [keras.ops.expand_dims(t, 1) for t in tensors]


def drop_time_axis(outputs):
    """Undo `add_time_axis` on (a structure of) outputs."""
    return keras.tree.map_structure(lambda o: o[:, 0], outputs)
