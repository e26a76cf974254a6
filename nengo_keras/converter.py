"""`to_nengo`: walk a Keras graph and build the equivalent Nengo network."""

from __future__ import annotations

import collections
import dataclasses
import time
import warnings

import keras
import nengo
import numpy as np

from . import _keras_graph as kg
from . import _temporal
from .context import ConversionContext, Options, Unsupported
from .errors import ConversionError, describe
from .converters.traced import convert_traced
from .registry import Entry, find_converter
from .values import Value


# layers with no converter are converted through the graph of their call
TRACED = Entry(convert_traced, values=True, source="trace")


@dataclasses.dataclass
class LayerReport:
    """What one call of a Keras layer became.

    Attributes
    ----------
    name : str
        Layer name (with ``[i]`` for the i-th call of a shared layer).
    type : str
        Layer class name.
    converter : str
        The converter used (``"fallback"`` for Keras-computing Nodes).
    tier : str
        ``"neural"`` (Ensembles and linear connections: runs on neuromorphic
        backends), ``"node"`` (a Node with a NumPy function) or ``"fallback"``
        (a Node calling Keras).
    n_neurons : int
        Neurons created for this layer.
    n_nodes : int
        Nodes created for this layer (pass-through and constant Nodes included).
    output_shape : tuple
        Keras output shape without the batch axis (first output).
    path : str
        Enclosing nested models, ``"outer/inner"`` (empty at the top level).
    ensembles : tuple of nengo.Ensemble
        The Ensembles created for this layer (used to measure firing rates per
        layer, see `nengo_keras.evaluate`).
    """

    name: str
    type: str
    converter: str
    tier: str
    n_neurons: int
    n_nodes: int
    output_shape: tuple
    path: str = ""
    ensembles: tuple = dataclasses.field(default=(), repr=False, compare=False)


def to_nengo(
    model,
    *,
    allow_fallback=True,
    swap_activations=None,
    scale_firing_rates=None,
    synapse=None,
    max_to_avg_pool=False,
    split_shared_weights=False,
    inference_only=False,
    fold_batchnorm=True,
    groups_as_dense=False,
    trace_layers=True,
    tiers=("neural", "node", "fallback"),
    converters=None,
    temporal=None,
    label=None,
):
    """Convert a Keras 3 model into a native Nengo network.

    Parameters
    ----------
    model : keras.Model
        A Functional or Sequential model (nested models, shared layers, several
        inputs and outputs are all fine). It is never modified.
    allow_fallback : bool
        If True, a layer with no Nengo equivalent becomes a `nengo.Node` that
        computes it with Keras (a ``UserWarning`` names it). If False, a
        `ConversionError` lists every such layer.
    swap_activations : dict, optional
        Replaces activations: keys are activation functions (any framework's),
        their names or Nengo neuron types; values are Nengo neuron types (or
        activations). Applied before and after the default map (relu ->
        `nengo.RectifiedLinear`, sigmoid -> `nengo.Sigmoid`, tanh ->
        `nengo.Tanh`), e.g. ``{"relu": nengo.SpikingRectifiedLinear()}``.
    scale_firing_rates : float or dict or RateCalibration or array, optional
        Multiplies neuron inputs by this factor and divides their output by it,
        so rate neurons compute the same function while spiking neurons fire
        faster (more accurately). A dict maps layers (or layer names) to factors
        (a factor may be an array: one per neuron, or broadcast against the
        layer's output shape, e.g. one per channel). A
        `nengo_keras.calibration.RateCalibration`, or an array of input
        samples, chooses a factor per layer from activation statistics (see
        `nengo_keras.calibration`); the result's ``firing_rates`` then lists
        them with the expected rates. Layers trained with
        `nengo_keras.spiking.SpikeAware` activations keep their trained factor
        unless this option sets one for them.
    synapse : float or nengo.synapses.Synapse, optional
        Synapse on every connection and probe leaving neurons. If None, layers
        trained with `nengo_keras.spiking.SpikeAware` activations use the
        synapse stored with them (none elsewhere).
    max_to_avg_pool : bool
        Convert max pooling to average pooling (NengoDL's behaviour).
    split_shared_weights : bool
        Allow a layer with weights to be called more than once; each call gets
        its own copy of the weights in Nengo (weights are never shared there).
    inference_only : bool
        Accepted for NengoDL compatibility. Nengo networks made here are
        inference networks either way.
    fold_batchnorm : bool
        Fold inference BatchNormalization into the preceding linear layer where
        exact (otherwise it becomes its own elementwise connection).
    groups_as_dense : bool
        Emit grouped / depthwise convolutions as full kernels with zeros off the
        groups, for backends that ignore or reject ``groups``.
    trace_layers : bool
        Convert layers that have no converter through the ``keras.ops`` their
        ``call`` is made of (so most custom layers need no conversion code).
        False treats them as unconvertible (NengoDL's behaviour).
    tiers : tuple of str
        Allowed tiers: ``"neural"``, ``"node"``, ``"fallback"``. Targeting
        neuromorphic hardware, pass ``("neural",)`` to get an error listing
        every layer that needs a Node.
    converters : dict, optional
        Per-call converter overrides: ``{layer class or layer or name: fn}``.
    temporal : bool, optional
        Whether axis 1 of the model's inputs is time. Then Nengo's time is the
        Keras time axis: the axis is dropped from every Nengo value (one value
        per time step), layers that act on each step separately (Dense on the
        last axis, elementwise maths, ``TimeDistributed``...) convert on the
        per-step shape, and `nengo_keras.layers` spiking and synapse layers
        become spiking neurons and synapses. Layers that mix time steps
        (recurrent layers, Flatten over time...) are reported; the user's own
        converters (``to_nengo``, `register_converter`) get one step's shapes
        and are trusted to act per step. ``None`` (the
        default) auto-detects: True iff the model contains a
        `nengo_keras.layers.SpikingActivation`, ``Lowpass`` or ``Alpha``.
        Run the result with ``result.run(x)``, ``x`` shaped
        ``(batch, n_steps, ...)``.
    label : str, optional
        Label of the network (default: the model name).

    Returns
    -------
    ConvertedModel
        ``.net``, ``.inputs`` (Nodes), ``.outputs`` (Probes), ``.layers``,
        ``.report``, ``.run()``, ``.verify()``.

    Examples
    --------
    >>> result = nengo_keras.to_nengo(model)
    >>> with nengo.Simulator(result.net) as sim:
    ...     sim.step()
    >>> result.verify()
    True
    """
    options = Options(
        allow_fallback=allow_fallback,
        swap_activations=swap_activations,
        scale_firing_rates=scale_firing_rates,
        synapse=synapse,
        max_to_avg_pool=max_to_avg_pool,
        split_shared_weights=split_shared_weights,
        inference_only=inference_only,
        fold_batchnorm=fold_batchnorm,
        groups_as_dense=groups_as_dense,
        trace_layers=trace_layers,
        tiers=tiers,
        converters=converters,
        temporal=temporal,
    )
    if not isinstance(model, keras.Model):
        raise TypeError(f"to_nengo expects a keras.Model, got {type(model).__name__}")
    from .calibration import as_calibration, run_calibration

    start = time.perf_counter()
    calibration = as_calibration(scale_firing_rates)
    table = None
    if calibration is not None:
        table = run_calibration(model, options, calibration, label)
        options.scale_firing_rates = table.scales
    result = convert(model, options, label)
    result.firing_rates = table
    result.conversion_time = time.perf_counter() - start
    return result


def convert(model, options, label=None, calibrating=None):
    """`to_nengo` with validated `Options`.

    ``calibrating`` (a `nengo_keras.calibration.Recorder`) builds the rate
    version of the network that calibration measures.
    """
    from . import converters as _  # noqa: F401  (registers the built-in converters)

    start = time.perf_counter()
    graph = kg.graph_of(model)
    net = nengo.Network(label=label or model.name)
    configure_trainable(net)
    ctx = ConversionContext(options, net)
    ctx.calibrating = calibrating
    ctx.dt = _temporal.model_dt(model)
    if _temporal.resolve(options.temporal, model):
        ctx.time = _temporal.TimeAxis()
        problems = ctx.time.add_inputs(graph)
        if problems:
            raise ConversionError(problems)
    _check_input_shapes(graph, ctx.shape_of)

    values = {}
    inputs = []
    with net:
        for kt in graph.inputs:
            shape = ctx.shape_of(kt)
            node = nengo.Node(
                output=InputFeed(shape), size_out=kg.size_of(shape), label=_name(kt)
            )
            values[id(kt)] = Value.of(node, shape)
            inputs.append((kt, node))
    walker = Walker(ctx)
    walker.walk(graph, values)
    if walker.problems:
        raise ConversionError(walker.problems)

    outputs = []
    with net:
        for kt in graph.outputs:
            obj = ctx.materialize(values[id(kt)], label=_name(kt))
            outputs.append((kt, nengo.Probe(obj, synapse=ctx.synapse_for(obj))))
    ctx.swaps.warn_unused()
    _warn_unused_scales(ctx)
    from .result import ConvertedModel

    return ConvertedModel(
        net=net,
        model=model,
        inputs=inputs,
        outputs=outputs,
        values=walker.tensors,
        report=walker.report,
        context=ctx,
        conversion_time=time.perf_counter() - start,
    )


def configure_trainable(net):
    """Add NengoDL's ``trainable`` config parameter (None: not set) to ``net``."""
    for cls in (nengo.Ensemble, nengo.Connection, nengo.ensemble.Neurons, nengo.Node):
        if cls not in net.config.params:
            net.config.configures(cls)
        params = net.config[cls]
        if "trainable" not in params._extra_params:
            params.set_param(
                "trainable", nengo.params.BoolParam("trainable", None, optional=True)
            )


def __getattr__(name):
    # nengo_dl.converter.LayerConverter lives here in NengoDL; keep the path
    if name == "LayerConverter":
        from .compat import LayerConverter

        return LayerConverter
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _name(kt):
    history = kg.producer(kt)
    return history[0].name if history else kt.name


def _check_input_shapes(graph, shape_of):
    problems = []
    for kt in graph.inputs:
        shape = shape_of(kt)
        if any(s is None for s in shape):
            except_time = " and the time axis" if len(shape) < len(kt.shape) - 1 else ""
            problems.append(
                (
                    kg.producer(kt)[0],
                    f"input {kt.name!r} has shape {tuple(kt.shape)}; Nengo needs every "
                    f"dimension except the batch axis{except_time} to be known",
                    "build the model on `keras.Input(shape=...)` with a full shape "
                    "(for keras.applications, pass `input_shape=`)",
                )
            )
    if problems:
        raise ConversionError(problems)


def _warn_unused_scales(ctx):
    scale = ctx.options.scale_firing_rates
    if isinstance(scale, dict):
        unused = [k for k in scale if k not in ctx._used_scales]
        if unused:
            names = [getattr(k, "name", k) for k in unused]
            warnings.warn(
                f"scale_firing_rates keys {names!r} matched no layer with neurons",
                UserWarning,
                stacklevel=3,
            )


class Walker:
    """Converts the nodes of a Keras graph one by one (see `to_nengo`)."""

    def __init__(self, ctx):
        self.ctx = ctx
        ctx.walker = self
        self.problems = []
        self.report = []
        self.tensors = []  # (keras tensor, Value, path), for ConvertedModel.layers
        self.calls = collections.Counter()
        self.path = []

    def walk(self, graph, values):
        """Convert ``graph`` given the values of its inputs; fills ``values``."""
        uses = collections.Counter(id(x) for n in graph.nodes for x in n.input_tensors)
        uses.update(id(x) for x in graph.outputs)
        for node in graph.nodes:
            inputs = []
            for kt in node.input_tensors:
                value = values[id(kt)]
                if uses[id(kt)] > 1 and value.is_expensive and value.obj is None:
                    # several consumers: compute it once, not once per consumer
                    with self.ctx.network:
                        self.ctx.materialize(value)
                inputs.append(value)
            outputs = self.convert_node(node, inputs)
            for kt, value in zip(node.output_tensors, outputs):
                values[id(kt)] = value
                self.tensors.append((kt, value, "/".join(self.path)))

    def walk_strict(self, graph, values, label):
        """Walk ``graph`` inside a sub-network, without fallback or reports.

        Returns the problems found; on any problem the sub-network is removed
        again, so a failed attempt leaves no trace in the network.
        """
        ctx = self.ctx
        saved = (self.problems, self.report, ctx.options.allow_fallback)
        self.problems, self.report = [], []
        ctx.options.allow_fallback = False
        try:
            with ctx.subnetwork(label) as net:
                self.walk(graph, values)
        finally:
            problems = self.problems
            self.problems, self.report, ctx.options.allow_fallback = saved
        if problems:
            ctx.network.networks.remove(net)
        return problems

    def convert_node(self, node, inputs):
        ctx, op = self.ctx, node.op
        entry = find_converter(op, ctx.options.converters)
        if entry is None and ctx.options.trace_layers:
            entry = TRACED
        timed = self._enter_time(node, entry)
        if timed is None:
            return self._placeholders([ctx.shape_of(kt) for kt in node.output_tensors])
        out_shapes = [ctx.shape_of(kt) for kt in node.output_tensors]
        in_shapes = [v.shape for v in inputs]
        nested = timed and ctx.time.walks_inside(node)  # shapes known after its walk
        if not nested and any(s is None for shape in out_shapes for s in shape):
            self.problems.append(
                (op, f"output shape {out_shapes} is not fully known", None)
            )
            return self._placeholders(out_shapes)
        self._check_shared(op)

        net = ctx.network
        counts = (len(net.nodes), len(net.ensembles), len(net.networks))
        converter_name = entry.name if entry is not None else "fallback"
        with ctx.calling(node, in_shapes, out_shapes, timed=timed):
            try:
                if entry is None:
                    raise Unsupported(
                        f"no converter for {type(op).__name__}",
                        "give the layer a to_nengo method (mix in "
                        "nengo_keras.NengoConvertible), register one with "
                        f"@nengo_keras.register_converter({type(op).__name__}), "
                        "or pass allow_fallback=True",
                    )
                outputs = self._call(entry, op, node, inputs)
            except Unsupported as e:
                if not self._may_fall_back(node, timed, e):
                    return self._placeholders(out_shapes)
                from .converters.fallback import fallback

                warnings.warn(
                    f"{describe(op)}: {e.what}; it runs as a Node that calls Keras "
                    f"(fallback)",
                    UserWarning,
                    stacklevel=4,
                )
                converter_name = "fallback"
                ctx.flags.add("fallback")
                with net:
                    outputs = fallback(op, ctx, *inputs)
            except ConversionError as e:
                self.problems.extend(e.problems)
                if timed:
                    ctx.time.fail(node)
                return self._placeholders(out_shapes)
            except Exception as e:
                e.add_note(
                    f"while converting {describe(op)}, call {node.call_index}, with "
                    f"{converter_name}"
                )
                raise
            flags = set(ctx.flags)
        if nested:
            ctx.time.leave(node)
            out_shapes = [ctx.shape_of(kt) for kt in node.output_tensors]
        outputs = self._as_values(op, outputs, out_shapes)
        self._record(node, converter_name, flags, net, counts, out_shapes)
        return outputs

    def _enter_time(self, node, entry):
        """Whether the call converts per time step (temporal models); None if
        it cannot be converted (a problem reported here or upstream)."""
        if self.ctx.time is None:
            return False
        try:
            return self.ctx.time.enter(node, entry)
        except _temporal.Broken:
            return None
        except Unsupported as e:
            self.problems.append((node.op, e.what, e.fix))
            return None

    def _may_fall_back(self, node, timed, error):
        """Whether an unconvertible call becomes a fallback Node; if not, it
        is reported (with ``error``)."""
        ctx, op = self.ctx, node.op
        allowed = ctx.options.allow_fallback
        what = error.what
        if allowed and timed and not ctx.time.steps_alone(op):
            allowed = False
            what += (
                "; a Keras fallback Node (which sees one time step at a time) cannot "
                "stand in for it, as it is not known to act on each step separately"
            )
        if not allowed:
            self.problems.append((op, what, error.fix))
            if timed:
                ctx.time.fail(node)
        return allowed

    def _call(self, entry, op, node, inputs):
        ctx = self.ctx
        kwargs = {k: v for k, v in node.constant_kwargs().items() if v is not None}
        with ctx.network:
            if not entry.values:
                inputs = [ctx.materialize(v) for v in inputs]
            return entry.fn(op, ctx, *inputs, **kwargs)

    def _as_values(self, op, outputs, shapes):
        if not isinstance(outputs, (list, tuple)):
            outputs = [outputs]
        if len(outputs) != len(shapes):
            raise ValueError(
                f"the converter of {describe(op)} returned {len(outputs)} outputs, "
                f"expected {len(shapes)}"
            )
        try:
            return [self.ctx.as_value(o, s) for o, s in zip(outputs, shapes)]
        except (TypeError, ValueError) as e:
            e.add_note(f"while converting {describe(op)}")
            raise

    def _placeholders(self, shapes):
        # stand-ins so the walk goes on and reports every problem at once
        return [Value(tuple(1 if d is None else d for d in s)) for s in shapes]

    def _check_shared(self, op):
        if not getattr(op, "weights", None):
            return
        self.calls[id(op)] += 1
        if self.calls[id(op)] == 2 and not self.ctx.options.split_shared_weights:
            self.problems.append(
                (
                    op,
                    "the layer is called more than once, and Nengo cannot share "
                    "weights between objects",
                    "pass split_shared_weights=True to give each call its own copy "
                    "of the weights",
                )
            )

    def _record(self, node, converter_name, flags, net, counts, out_shapes):
        new_nodes = list(net.nodes[counts[0] :])
        new_ens = list(net.ensembles[counts[1] :])
        for sub in net.networks[counts[2] :]:
            new_nodes += sub.all_nodes
            new_ens += sub.all_ensembles
        if "fallback" in flags:
            tier = "fallback"
        elif "node" in flags or any(_computes(n) for n in new_nodes):
            tier = "node"
        else:
            tier = "neural"
        name = node.op.name + (f"[{node.call_index}]" if node.call_index else "")
        if tier not in self.ctx.options.tiers:
            self.problems.append(
                (
                    node.op,
                    f"converts to the {tier!r} tier, but tiers={self.ctx.options.tiers}",
                    "replace the layer with one that has a neural equivalent, or "
                    "allow that tier",
                )
            )
        if kg.is_graph_model(node.op):
            return  # its layers are reported one by one
        self.report.append(
            LayerReport(
                name=name,
                type=type(node.op).__name__,
                converter=converter_name,
                tier=tier,
                n_neurons=sum(e.n_neurons for e in new_ens),
                n_nodes=len(new_nodes),
                output_shape=out_shapes[0] if out_shapes else (),
                path="/".join(self.path),
                ensembles=tuple(new_ens),
            )
        )


def _computes(node):
    """Whether a Node runs a function (rather than passing or holding values)."""
    return callable(node.output) or isinstance(node.output, nengo.Process)


class InputFeed:
    """Output of an input Node: zeros, or the data `ConvertedModel.run` feeds.

    ``data`` is None (zeros), an array of the input's shape (held constant), or
    an array with a leading time axis (one row per step, the last row held).
    """

    def __init__(self, shape):
        self.shape = tuple(shape)
        self.size = kg.size_of(shape)
        self.data = None
        self._zeros = np.zeros(self.size)

    def __call__(self, t):
        data = self.data
        if data is None:
            return self._zeros
        if data.ndim == 1:
            return data
        step = min(int(round(t / self.dt)) - 1, data.shape[0] - 1)
        return data[max(step, 0)]

    def set(self, data, dt):
        """Present ``data`` (flat per step, see the class docstring)."""
        self.dt = dt
        self.data = None if data is None else np.asarray(data, dtype=np.float64)
