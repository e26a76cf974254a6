"""`ConversionContext`: options, the network being built and shared helpers."""

from __future__ import annotations

import contextlib
import warnings

import nengo
import numpy as np

from ..errors import ConversionError, Unsupported, describe
from . import activation_map
from .graph import Graph, trace_function
from .node_functions import KerasFunction, NodeFunction, to_numpy
from .registry import ACTIVATIONS, find_converter
from .time_axis import NoTimeAxis
from .transforms import Scale
from .values import Term, Value

DEFAULT = object()  # "the default synapse" (None is a synapse choice)

# What can be the ``pre`` of a nengo.Connection
NENGO_OUTPUTS = (nengo.base.NengoObject, nengo.base.ObjView, nengo.ensemble.Neurons)


class ConversionContext:
    """The state of one conversion, passed to every converter as ``ctx``.

    Converters use its helpers so that options such as ``synapse`` and
    ``scale_firing_rates`` apply uniformly:

    - `materialize` turns a `~nengo_keras.conversion.values.Value` into a Nengo object;
    - `connect` connects a value into a Nengo object;
    - `neurons` feeds a value into a new Ensemble of neurons;
    - `activate` applies a Keras activation (neurons, exact piecewise-linear
      networks, or a Node);
    - `node` wraps a NumPy function as a `nengo.Node`;
    - `weight` reads a layer variable as a NumPy array.

    Attributes
    ----------
    options : Options
    network : nengo.Network
        Where new objects go (a sub-network inside nested models).
    layer : keras.layers.Layer or keras.Operation
        The layer being converted.
    call_index : int
        Which call of the layer is being converted.
    input_shapes, output_shapes : list of tuple
        Keras shapes of the call's tensor inputs and outputs, without batch axis
        (and, in a temporal model, without the time axis: one time step).
    time : nengo_keras._temporal.TimeAxis or None
        Set in temporal conversions (see `nengo_keras.to_nengo`'s ``temporal``).
    timed : bool
        True while converting a call on tensors that carry a time axis: the
        converter works on one time step, and Keras calls made to probe the
        layer need a time axis of length 1 (`add_time_axis`).
    """

    def __init__(self, options, network):
        self.options = options
        self.network = network
        self.root_network = network
        self.swaps = activation_map.Swaps(options.swap_activations)
        self.layer = None
        self.call = None
        self.call_index = 0
        self.input_shapes = []
        self.output_shapes = []
        self.flags = set()
        self._used_scales = set()
        self._scaled_layers = set()  # layers with neurons (named if a key is unused)
        self._synapses = {}  # Ensemble -> synapse on what leaves its neurons
        self.calibrating = None  # a calibration.Recorder during calibration
        self.walker = None
        self.time = None
        self.strict = False  # inside a strict ctx.convert: no fallback Nodes
        self.axis = NoTimeAxis()  # the walk's per-call rules (a TimeAxis if temporal)
        self.timed = False

    # --- the current call -------------------------------------------------

    # the attributes that describe the call being converted
    _CALL_STATE = (
        "layer",
        "call",
        "call_index",
        "input_shapes",
        "output_shapes",
        "flags",
        "timed",
    )

    @contextlib.contextmanager
    def calling(self, graph_node, input_shapes, output_shapes, timed=False):
        saved = {name: getattr(self, name) for name in self._CALL_STATE}
        self.layer = graph_node.op
        self.call = graph_node
        self.call_index = graph_node.call_index
        self.input_shapes = input_shapes
        self.output_shapes = output_shapes
        self.flags = set()
        self.timed = timed
        try:
            yield
        finally:  # nested models and traced layers convert calls within calls
            for name, value in saved.items():
                setattr(self, name, value)

    def shape_of(self, tensor):
        """Nengo shape of a Keras tensor: no batch axis (and no time axis if
        it has one in a temporal model)."""
        if self.time is not None:
            return self.time.shape(tensor)
        return tuple(tensor.shape[1:])

    @contextlib.contextmanager
    def subnetwork(self, label):
        """Build into a new sub-network of the current network."""
        outer = self.network
        with outer:
            net = nengo.Network(label=label)
        self.network = net
        try:
            with net:
                yield net
        finally:
            self.network = outer

    # --- recursion -------------------------------------------------------------

    def convert(self, what, inputs, *, label=None, strict=False, path=None, output_shapes=None):
        """Convert a graph or another layer on ``inputs``; the one way to recurse.

        Parameters
        ----------
        what : nengo_keras.conversion.graph.Graph or keras.layers.Layer
            A graph (a nested model's, a traced call's) converts into a new
            sub-network, node by node, as the top-level graph does. A layer
            (e.g. the one a wrapper holds) converts with its converter, within
            the current call.
        inputs : list of Value
            The values of the graph's inputs / the layer's tensor arguments.
        label : str, optional
            Label of the sub-network (graphs).
        strict : bool
            Graphs: no fallback Nodes and no report lines; any problem raises
            `~nengo_keras.errors.ConversionError` and leaves no trace in the network.
        path : str, optional
            Graphs: a name added to the report paths of its layers.
        output_shapes : list of tuple, optional
            Layers: the shapes of its outputs (default: the current call's).

        Returns
        -------
        list of Value
            One per output.
        """
        if isinstance(what, Graph):
            return self.walker.convert_graph(
                what, inputs, label or self.label(), strict=strict, path=path
            )
        entry = self.require_converter(what)
        outputs = entry.call(what, self, *inputs)
        if not isinstance(outputs, (list, tuple)):
            outputs = [outputs]
        shapes = self.output_shapes if output_shapes is None else output_shapes
        return [self.as_value(o, s) for o, s in zip(outputs, shapes)]

    @property
    def fallback_allowed(self):
        """Whether an unconvertible call may become a Keras-computing Node
        (the ``allow_fallback`` option, outside strict `convert` calls)."""
        return self.options.allow_fallback and not self.strict

    def require_converter(self, op, what=""):
        """The converter `Entry` of ``op``; `Unsupported` if it has none."""
        entry = find_converter(op, self.options.converters)
        if entry is None:
            self.unsupported(
                f"no converter for {what}{type(op).__name__}", "register a converter for it"
            )
        return entry

    def unsupported(self, what, fix=None):
        """Abort this layer's conversion: it is reported or falls back."""
        raise Unsupported(what, fix)

    def label(self, suffix=None):
        name = getattr(self.layer, "name", "layer")
        if self.call is not None and self.call.op is self.layer:
            name = self.call.call_name
        elif self.call_index:
            name = f"{name}[{self.call_index}]"
        return name if suffix is None else f"{name}.{suffix}"

    # --- weights ------------------------------------------------------------

    def weight(self, layer, name):
        """A layer variable (``"kernel"``, ``"bias"``...) as a float64 array."""
        var = getattr(layer, name)
        return None if var is None else to_numpy(var)

    def weights(self, layer):
        """All of a layer's variables as float64 arrays, in ``layer.weights`` order."""
        return [to_numpy(w) for w in layer.weights]

    # --- building blocks ------------------------------------------------------

    def synapse_for(self, obj):
        """The synapse for a connection or probe leaving ``obj``.

        As in NengoDL, the ``synapse`` option applies only to what leaves neurons.
        """
        base = obj.obj if isinstance(obj, nengo.base.ObjView) else obj
        if not isinstance(base, nengo.ensemble.Neurons):
            return None
        if self.options.synapse is None:
            # a synapse the layer was trained with (see `neurons`)
            return self._synapses.get(base.ensemble)
        return self.options.synapse

    def connect(self, value, post, bias=True, synapse=DEFAULT):
        """Connect every term of ``value`` into Nengo object ``post``.

        ``bias=True`` adds the value's constant through a constant Node (when
        ``post`` is an Ensemble's neurons, prefer putting it in the bias).
        ``synapse`` (default: `synapse_for` each source) filters every
        connection, the constant's included: a filtered constant starts at 0.
        """
        if value.size != post.size_in:
            raise ValueError(
                f"cannot connect a value of {value.size} elements into {post} "
                f"({post.size_in} inputs)"
            )
        conns = []
        for term in value.merged_terms():
            target = post if term.out_idx is None else post[term.out_idx]
            # None (nengo's NoTransform) builds no weights, no multiply and no
            # intermediate signal: the cheapest identity
            transform = None if term.transform is None else term.transform.to_nengo()
            conns.append(
                nengo.Connection(
                    term.pre,
                    target,
                    transform=transform,
                    synapse=self.synapse_for(term.pre) if synapse is DEFAULT else synapse,
                )
            )
        if bias and value.bias is not None:
            const = nengo.Node(np.array(value.bias), label=self.label("bias"))
            conns.append(
                nengo.Connection(
                    const, post, synapse=None if synapse is DEFAULT else synapse
                )
            )
        return conns

    def materialize(self, value, label=None):
        """The Nengo object computing ``value`` (a pass-through Node if needed)."""
        if isinstance(value, NENGO_OUTPUTS):
            return value
        obj = value.obj
        if obj is not None:
            return obj
        if value.is_constant:
            node = nengo.Node(value.bias_or_zeros(), label=label or self.label("const"))
        else:
            node = nengo.Node(size_in=value.size, label=label or self.label())
            self.connect(value, node)
        value.become(node)
        return node

    def linear(self, value, transform, shape):
        """``transform(value)`` as a Value of ``shape``.

        The transform fuses into the value's terms where Nengo can express the
        result; otherwise the value is materialized first.
        """
        out = value.apply(transform, shape)
        if out is None:
            out = Value.of(self.materialize(value), value.shape).apply(transform, shape)
        return out

    def scale(self, value, a):
        """``value * a`` elementwise (``a`` a scalar or one factor per element).

        Like `linear`, it materializes ``value`` where the scale cannot fold
        into its transforms.
        """
        return self.linear(value, Scale(a, value.size), value.shape)

    def call_arguments(self, inputs):
        """The current call's ``(args, kwargs)`` with tensors replaced by ``inputs``.

        Useful for operations whose non-tensor arguments matter (``x + 1``).
        """
        mapping = {id(kt): v for kt, v in zip(self.call.input_tensors, inputs)}
        return self.call.fill_in(mapping)

    def relu(self, value, label=None):
        """Rectify ``value`` with the neuron type that ``"relu"`` maps to.

        Exact piecewise-linear networks (relu6, leaky relu, max...) are built
        from this, so ``swap_activations={"relu": ...}`` makes them spike too.
        """
        kind, neuron_type = self.swaps.resolve("relu")
        if kind != "neurons":
            raise Unsupported(
                "swap_activations maps relu to a non-neuron activation, which the "
                "exact piecewise-linear networks need",
                "map relu to a nengo neuron type",
            )
        return self.neurons(value, neuron_type, label=label)

    def as_value(self, obj, shape):
        """Wrap a converter's return (Nengo object or Value) as a Value."""
        if isinstance(obj, Value):
            if obj.size != int(np.prod(shape)):
                raise ValueError(
                    f"the converter returned a value of shape {obj.shape}, expected "
                    f"{tuple(shape)}"
                )
            return obj if obj.shape == tuple(shape) else obj.reshape(shape)
        if isinstance(obj, nengo.Ensemble):
            obj = obj.neurons if obj.dimensions != int(np.prod(shape)) else obj
        if not isinstance(obj, NENGO_OUTPUTS):
            raise TypeError(
                f"the converter returned {obj!r}; expected a Nengo object (Node, "
                f"Ensemble.neurons, ...) or a nengo_keras Value"
            )
        if obj.size_out != int(np.prod(shape)):
            raise ValueError(
                f"the converter returned {obj} with size_out={obj.size_out}, but the "
                f"layer output has shape {tuple(shape)} "
                f"({int(np.prod(shape))} elements, C order, no batch axis)"
            )
        return Value.of(obj, shape)

    def rate_scale(self, layer=None, default=1.0):
        """The ``scale_firing_rates`` factor for ``layer`` (default: current).

        ``default`` is returned where the option sets no scale for the layer.
        """
        scale = self.options.scale_firing_rates
        layer = self.layer if layer is None else layer
        if scale is None:
            return default
        if not isinstance(scale, dict):
            return scale
        self._scaled_layers.add(getattr(layer, "name", str(layer)))
        for key in (layer, getattr(layer, "name", None)):
            if key is not None and key in scale:
                self._used_scales.add(key)
                return scale[key]
        return default

    def neurons(self, value, neuron_type, label=None, scale=None, synapse=None):
        """Feed ``value`` into a new Ensemble's neurons; return their output.

        One neuron per element. The value's constant becomes the neurons' bias,
        so no bias Node is needed. ``scale`` (default: the ``scale_firing_rates``
        option for the current layer; a number, or an array broadcast against
        the value's shape or flat) multiplies the neurons' input and divides
        their output: a rate neuron computes the same function, a spiking one
        fires ``scale`` times faster. ``synapse`` goes on what leaves the
        neurons unless the ``synapse`` option is set.
        """
        scale = np.asarray(self.rate_scale() if scale is None else scale, float)
        if scale.ndim == 1 and scale.size == value.size:
            pass  # already one scale per neuron
        else:
            scale = _broadcast_scale(self.layer, scale, value.shape)
        if self.calibrating is not None:
            neuron_type, scale = self.calibrating.substitute(self, neuron_type, value, scale)
        value, gain = _scale_as_gain(value, scale)
        uniform = np.all(scale == scale[0])
        out_scale = None
        if uniform and activation_map.has_amplitude(neuron_type):
            neuron_type = activation_map.with_amplitude(neuron_type, 1.0 / scale[0])
        elif not np.all(scale == 1):
            out_scale = 1.0 / scale
        ens = nengo.Ensemble(
            value.size,
            1,
            neuron_type=neuron_type,
            gain=gain,
            bias=scale * value.bias_or_zeros(),
            # explicit arrays: nothing to sample at build time (these neurons
            # are driven through .neurons, so encoders and eval points are unused)
            encoders=np.ones((value.size, 1)),
            eval_points=np.zeros((1, 1)),
            label=label or self.label(),
        )
        if synapse is not None:
            self._synapses[ens] = synapse
        if self.calibrating is not None:
            self.calibrating.record(self, ens, value.shape)
        self.connect(value, ens.neurons, bias=False)
        out = Value.of(ens.neurons, value.shape)
        return out if out_scale is None else out.scale(out_scale)

    def activate(self, value, activation, **params):
        """Apply a Keras activation (function or name) to ``value``.

        Uses ``swap_activations`` and the default neuron map; activations with no
        neuron type use the builders registered with
        `nengo_keras.activations.register_activation`; anything else becomes a
        fallback Node (or is reported when fallback is not allowed).
        ``params`` (``alpha=``, ``axis=``...) override the activation's
        defaults; see `nengo_keras.activations.parameters`.
        """
        special = ACTIVATIONS.by_mro(type(activation))
        if special is not None:  # activation objects that carry their own conversion
            return special(self, value, activation)
        kind, target = self.swaps.resolve(activation)
        if kind == "linear":
            return value
        if kind == "neurons":
            return self.neurons(value, target)
        if isinstance(target, str):
            builder = activation_map.builder(target)
            if builder is not None:
                kwargs = activation_map.parameters(activation, target, builder, params)
                # named if the layer misses the allowed tiers (see the walker)
                self.flags.add(f"activation:{target}")
                return builder(self, value, **kwargs)
        if callable(activation) and self.options.trace_layers:
            traced = self._traced_activation(activation, value)
            if traced is not None:
                return traced
        return self.fallback_function(activation if callable(activation) else target, [value], value.shape)

    def _traced_activation(self, fn, value):
        """An unknown activation function converted through the ``keras.ops``
        it is made of (keras_hub's ``gelu_approximate``...), or None."""
        try:
            graph = trace_function(fn, value.shape)
        except Exception:  # arbitrary code: not traceable, use the fallback
            return None
        label = f"{self.label()}_{getattr(fn, '__name__', 'activation')}"
        try:
            (out,) = self.convert(graph, [value], label=label, strict=True)
        except ConversionError:
            return None
        return out

    def node(self, fn, inputs, shape, label=None):
        """A `nengo.Node` computing ``fn(*arrays)`` on the given values.

        ``fn`` receives one NumPy array per input, shaped as the Keras tensor
        without the batch axis, and returns an array of ``shape``. Use a
        module-level function or callable object so the network can be pickled.
        """
        in_shapes = [v.shape for v in inputs]
        node = nengo.Node(
            output=NodeFunction(fn, in_shapes, shape),
            size_in=sum(v.size for v in inputs),
            size_out=int(np.prod(shape)),
            label=label or self.label(),
        )
        # one value over all inputs: slicing the node instead would fail for
        # terms that are already scattered (Nengo cannot index an ObjView)
        total, start = node.size_in, 0
        combined = Value((total,))
        for v in inputs:
            flat = v.reshape((v.size,))
            combined = combined + flat.place(np.arange(start, start + v.size), (total,))
            start += v.size
        self.connect(combined, node)
        return Value.of(node, shape)

    def outputs_node(self, fn, inputs):
        """A `node` computing all of the current call's outputs, flattened and
        stacked by ``fn``; returns one value per output (a single value for a
        call with one output)."""
        sizes = [int(np.prod(s)) for s in self.output_shapes]
        node = self.node(fn, inputs, (sum(sizes),))
        if len(sizes) == 1:
            return node.reshape(self.output_shapes[0])
        obj, start, outs = node.obj, 0, []
        for size, shape in zip(sizes, self.output_shapes):
            outs.append(self.as_value(obj[start : start + size], shape))
            start += size
        return outs

    def fallback_function(self, fn, inputs, shape):
        """A Node that runs a Keras function (fallback tier)."""
        name = getattr(fn, "__name__", repr(fn))
        if not self.fallback_allowed:
            raise Unsupported(
                f"activation {name!r} has no Nengo equivalent",
                "choose a supported activation, map it with swap_activations, "
                "or register one with nengo_keras.activations.register_activation",
            )
        warnings.warn(
            f"{describe(self.layer)}: activation {name!r} has no Nengo equivalent; "
            f"it runs as a Node that calls Keras",
            UserWarning,
            stacklevel=2,
        )
        self.flags.add("fallback")
        return self.node(KerasFunction(fn), inputs, shape)


def _broadcast_scale(layer, scale, shape):
    """``scale`` broadcast against the neurons' ``shape``, flat; a ValueError
    naming the layer and the option if it does not fit."""
    try:
        return np.broadcast_to(scale, shape).ravel()
    except ValueError:
        name = getattr(layer, "name", layer)
        raise ValueError(
            f"option scale_firing_rates: the scale for {describe(layer)} has shape "
            f"{scale.shape}, which fits neither its {int(np.prod(shape))} neurons "
            f"(one scale each) nor their shape {tuple(shape)} (by broadcasting, e.g. "
            f"one per channel: shape {tuple(shape)[-1:]}). Pass a number or an "
            f"array of a fitting shape, e.g. scale_firing_rates={{{name!r}: 100}}"
        ) from None


def _scale_as_gain(value, scale):
    """``(value, gain)`` for neurons fed ``value`` with input scale ``scale``.

    Where the value is one source times a positive elementwise factor (e.g. a
    batch-norm scale that could not fold into a kernel), the factor moves
    into the neurons' gains: the same currents, one elementwise multiply and
    one intermediate signal fewer per step.
    """
    if len(value.terms) == 1:
        (term,) = value.terms
        if term.out_idx is None and isinstance(term.transform, Scale):
            factor = term.transform.vector()
            if np.all(factor > 0):
                return Value(value.shape, [Term(term.pre)], value.bias), scale * factor
    return value, np.array(scale)
