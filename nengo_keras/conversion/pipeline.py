"""`to_nengo`: options -> hooks -> walk -> result.

Features above the engine plug in through `nengo_keras.conversion.registry.add_hook`
(calibration chooses firing-rate scales before the walk; the NengoDL facade adds its
``trainable`` config to the network), so this module imports none of them.
"""

from __future__ import annotations

import time
import warnings

import keras
import nengo

from ..errors import ConversionError
from . import graph as kg
from . import input_shapes as _input_shapes
from . import time_axis
from .context import ConversionContext
from .node_functions import InputFeed
from .options import Options, check_label, checks_keywords, warn_unmatched_converters
from .registry import hooks
from .result import ConvertedModel
from .values import Value
from .walk import LayerReport, Walker

__all__ = ["LayerReport", "convert", "to_nengo"]


@checks_keywords
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
    input_shapes=None,
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
    input_shapes : dict or list, optional
        Shapes (without the batch axis) for inputs with unknown dimensions,
        as a dict keyed by input name or a list in ``model.inputs`` order,
        e.g. ``{"token_ids": (128,), "padding_mask": (128,)}`` for a text
        model built on ``(batch, None)`` inputs. The model is traced again on
        inputs of these shapes (it is not modified); the converted network
        takes inputs of these shapes.
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
        input_shapes=input_shapes,
    )
    if not isinstance(model, keras.Model):
        raise TypeError(f"to_nengo expects a keras.Model, got {type(model).__name__}")
    check_label(label)
    start = time.perf_counter()
    # e.g. calibration: measures rates and returns options with the scales it chose
    finishers = []
    for hook in hooks("before"):
        change = hook(model, options, label)
        if change is not None:
            options, finish = change
            finishers.append(finish)
    result = convert(model, options, label)
    for finish in finishers:
        if finish is not None:
            finish(result)
    result.conversion_time = time.perf_counter() - start
    return result


def convert(model, options, label=None, calibrating=None):
    """`to_nengo` with validated `Options`.

    ``calibrating`` (e.g. a `nengo_keras.spiking.calibration.Recorder`)
    sees every Ensemble as it is made: ``calibrating.substitute(ctx,
    neuron_type, value, scale)`` may replace its neuron type and scale, and
    ``calibrating.record(ctx, ensemble, shape)`` learns about it.
    """
    start = time.perf_counter()
    graph = _input_shapes.apply(kg.graph_of(model), options.input_shapes)
    net = nengo.Network(label=label or model.name)
    for hook in hooks("network"):  # e.g. NengoDL's ``trainable`` config
        hook(net)
    ctx = ConversionContext(options, net)
    ctx.calibrating = calibrating
    ctx.dt = time_axis.model_dt(model)
    if time_axis.resolve(options.temporal, model):
        ctx.time = ctx.axis = time_axis.TimeAxis()
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
        raise ConversionError(walker.problems + _temporal_hint(options, walker.problems))

    outputs, probes = [], {}
    with net:
        for kt in graph.outputs:  # a tensor may be several outputs: one Probe
            if id(kt) not in probes:
                obj = ctx.materialize(values[id(kt)], label=_name(kt))
                probes[id(kt)] = nengo.Probe(obj, synapse=ctx.synapse_for(obj))
            outputs.append((kt, probes[id(kt)]))
    ctx.swaps.warn_unused()
    _warn_unused_scales(ctx)
    ops = [kg.producer(kt)[0] for kt, _, _ in walker.tensors if kg.producer(kt)]
    warn_unmatched_converters(options.converters, ops)
    return ConvertedModel(
        net=net,
        model=model,
        inputs=inputs,
        outputs=outputs,
        values=walker.tensors,
        report=walker.report,
        context=ctx,
        conversion_time=time.perf_counter() - start,
        input_structure=graph.structure,
        output_structure=graph.output_structure,
    )


def _name(kt):
    history = kg.producer(kt)
    return history[0].name if history else kt.name


def _check_input_shapes(graph, shape_of):
    problems = []
    for kt in graph.inputs:
        shape = shape_of(kt)
        if 0 in shape:
            problems.append(
                (
                    kg.producer(kt)[0],
                    f"input {_name(kt)!r} has shape {tuple(kt.shape)}, with a "
                    f"zero-sized dimension: it holds no data, and Nengo objects "
                    f"need at least one element",
                    "give every dimension of `keras.Input(shape=...)` a size >= 1",
                )
            )
        elif any(s is None for s in shape):
            except_time = " and the time axis" if len(shape) < len(kt.shape) - 1 else ""
            problems.append(
                (
                    kg.producer(kt)[0],
                    f"input {kt.name!r} has shape {tuple(kt.shape)}; Nengo needs every "
                    f"dimension except the batch axis{except_time} to be known",
                    f"pass input_shapes={{{_name(kt)!r}: (...)}} to to_nengo to "
                    "fix the unknown dimensions (or build the model on "
                    "`keras.Input(shape=...)` with a full shape)",
                )
            )
    if problems:
        raise ConversionError(problems)


def _temporal_hint(options, problems):
    """With an explicit ``temporal=True``, problems about time steps may just
    mean that axis 1 is not time: say so."""
    if options.temporal is True and any("time" in what for _, what, _ in problems):
        return [(
            None,
            "temporal=True was passed, so axis 1 of every input is treated as time",
            "if axis 1 is not time, leave temporal=None (auto-detect) or pass "
            "temporal=False",
        )]
    return []


def _warn_unused_scales(ctx):
    scale = ctx.options.scale_firing_rates
    if isinstance(scale, dict):
        unused = [k for k in scale if k not in ctx._used_scales]
        if unused:
            names = [getattr(k, "name", k) for k in unused]
            known = sorted(ctx._scaled_layers) or "none"
            warnings.warn(
                f"scale_firing_rates keys {names!r} matched no layer with neurons, so "
                f"they were not used; the layers with neurons are: {known}",
                UserWarning,
                stacklevel=3,
            )


