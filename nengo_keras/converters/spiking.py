"""Spiking layers, synapses and ``TimeDistributed``: layers of temporal models.

`nengo_keras.layers.SpikingActivation` becomes spiking neurons and
`~nengo_keras.layers.Lowpass` / `~nengo_keras.layers.Alpha` become Nengo
synapses; both compute exactly what the Keras layers compute, step by step
(same dt, same initial voltages, same discretisation). ``TimeDistributed``
converts its wrapped layer on one time step.
"""

from __future__ import annotations

import contextlib

import keras
import nengo
import numpy as np

from .. import _keras_graph as kg
from .._linear import selection
from ..errors import ConversionError
from ..layers import Alpha, Lowpass, SpikingActivation
from ..registry import find_converter, register_converter
from ..values import Value


def _require_time(layer, ctx):
    if not ctx.timed:
        raise ConversionError(
            [
                (
                    layer,
                    "its input has no time axis in this conversion (it comes after a "
                    "return_sequences=False layer, or the conversion is not temporal)",
                    "apply the layer to (batch, time, ...) tensors of a temporal "
                    "conversion (temporal=None or True)",
                )
            ]
        )


def initial_voltages(layer, ctx, size):
    """The per-neuron initial voltages of a `SpikingActivation` (flat)."""
    if layer.initial_voltage == "uniform":
        return ctx.weight(layer, "initial_voltages").ravel()
    return np.full(size, layer.initial_voltage)


def spiking_type(rate_type, voltages):
    """The spiking neuron type that integrates ``rate_type``'s rates as
    `SpikingActivation` does, starting from ``voltages``.

    A type that already spikes (from ``swap_activations``) is used as it is.
    """
    if rate_type.spiking:
        return rate_type
    state = {"voltage": np.array(voltages)}
    if type(rate_type) is nengo.RectifiedLinear:
        return nengo.SpikingRectifiedLinear(
            amplitude=rate_type.amplitude, initial_state=state
        )
    return nengo.RegularSpiking(rate_type, initial_state=state)


@register_converter(SpikingActivation, values=True)
def convert_spiking_activation(layer, ctx, x, **_):
    """Spiking neurons: `nengo.SpikingRectifiedLinear` for relu,
    `nengo.RegularSpiking` around the rate type of other activations (sigmoid,
    tanh, ``swap_activations`` targets). Activations with no Nengo neuron type
    are computed as usual (rectifier networks, Nodes) and spike in a Node
    (`RegularSpikingProcess`, "node" tier)."""
    _require_time(layer, ctx)
    voltages = initial_voltages(layer, ctx, x.size)
    kind, target = ctx.swaps.resolve(layer.activation)
    if kind == "neurons":
        return ctx.neurons(x, spiking_type(target, voltages))
    rates = ctx.activate(x, layer.activation)
    node = nengo.Node(
        RegularSpikingProcess(voltages), size_in=x.size, label=ctx.label("spikes")
    )
    ctx.connect(rates, node)
    return Value.of(node, x.shape)


class RegularSpikingProcess(nengo.Process):
    """Integrate-and-fire on rates given as input: `nengo.RegularSpiking`'s
    maths for any rate (negative rates give negative spikes).

    Parameters
    ----------
    initial_voltage : array_like
        Voltage of each neuron at the start (and after a simulator reset).

    Examples
    --------
    >>> spikes = nengo.Node(RegularSpikingProcess(np.full(3, 0.5)), size_in=3)
    """

    def __init__(self, initial_voltage, **kwargs):
        self.initial_voltage = np.asarray(initial_voltage, dtype=np.float64)
        size = self.initial_voltage.size
        super().__init__(default_size_in=size, default_size_out=size, **kwargs)

    def make_state(self, shape_in, shape_out, dt, dtype=None):
        return {"voltage": np.array(self.initial_voltage)}

    def make_step(self, shape_in, shape_out, dt, rng, state):
        voltage = state["voltage"]
        amplitude = 1.0 / dt

        def step(t, rates):
            voltage[...] += rates * dt
            n_spikes = np.floor(voltage)
            voltage[...] -= n_spikes
            return amplitude * n_spikes

        return step


def convert_synapse(layer, ctx, x, **_):
    """`Lowpass` / `Alpha`: the value through a pass-through Node whose input
    connections have the Nengo synapse (also when the ``synapse`` option is
    set: the layer's synapse replaces it there)."""
    _require_time(layer, ctx)
    tau = float(ctx.weight(layer, "tau"))
    synapse = nengo.Alpha(tau) if isinstance(layer, Alpha) else nengo.Lowpass(tau)
    node = nengo.Node(size_in=x.size, label=ctx.label())
    ctx.connect(x, node, synapse=synapse)
    return Value.of(node, x.shape)


register_converter(Lowpass, convert_synapse, values=True)
register_converter(Alpha, convert_synapse, values=True)


@register_converter(keras.layers.TimeDistributed, values=True)
def convert_time_distributed(layer, ctx, x, *mask, **_):
    """The wrapped layer's converter on one time step.

    In a temporal model the time axis is Nengo's time, so the layer converts
    once on the per-step shape. Otherwise each of the ``x.shape[0]`` slices
    gets its own copy. A Keras ``mask`` matters only to a wrapped layer whose
    call takes one (Keras drops it otherwise).
    """
    inner = layer.layer
    if mask and kg.call_takes(inner, "mask"):
        ctx.unsupported(
            f"a Keras mask reaches the wrapped {type(inner).__name__}, which uses it",
            "allow the fallback, or remove the mask (mask_zero / Masking) before it",
        )
    entry = find_converter(inner, ctx.options.converters)
    if entry is None:
        ctx.unsupported(
            f"no converter for the wrapped {type(inner).__name__}",
            "register a converter for it",
        )
    out_shape = ctx.output_shapes[0]
    if ctx.timed:
        return _convert_step(entry, inner, ctx, x, out_shape)
    steps, in_step, out_step = x.shape[0], x.shape[1:], out_shape[1:]
    n_in, n_out = int(np.prod(in_step)), int(np.prod(out_step))
    out = Value(out_shape)
    for t in range(steps):
        xt = ctx.linear(x, selection(np.arange(t * n_in, (t + 1) * n_in), x.size), in_step)
        yt = _convert_step(entry, inner, ctx, xt, out_step)
        out = out + yt.reshape((n_out,)).place(np.arange(t * n_out, (t + 1) * n_out), out_shape)
    return out


def _convert_step(entry, inner, ctx, x, out_shape):
    with _per_step_call(ctx, x.shape, out_shape):
        arg = x if entry.values else ctx.materialize(x)
        y = entry.fn(inner, ctx, arg)
    return ctx.as_value(y, out_shape)


@contextlib.contextmanager
def _per_step_call(ctx, in_shape, out_shape):
    """Shapes of one step for the wrapped layer's converter; Keras calls made
    to probe the layer (on the TimeDistributed wrapper) get a time axis of 1."""
    saved = ctx.input_shapes, ctx.output_shapes, ctx.timed
    ctx.input_shapes, ctx.output_shapes, ctx.timed = [in_shape], [out_shape], True
    try:
        yield
    finally:
        ctx.input_shapes, ctx.output_shapes, ctx.timed = saved
