"""Spiking layers and synapses: layers of temporal models.

`nengo_keras.layers.SpikingActivation` becomes spiking neurons and
`~nengo_keras.layers.Lowpass` / `~nengo_keras.layers.Alpha` become Nengo
synapses; both compute exactly what the Keras layers compute, step by step
(same dt, same initial voltages, same discretisation).
"""

from __future__ import annotations

import keras
import nengo
import numpy as np

from ..errors import ConversionError
from .layers import Alpha, Lowpass, SpikingActivation
from ..conversion.registry import register
from ..conversion.time_axis import register_time_rule, sequence_rule
from ..conversion.values import Value


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


@register(SpikingActivation)
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


register(Lowpass, convert_synapse)
register(Alpha, convert_synapse)


# these layers act along the time axis, so a model containing one is temporal
for _cls in (SpikingActivation, Lowpass, Alpha):
    register_time_rule(_cls, sequence_rule, marks_time=True)
