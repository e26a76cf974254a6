"""Time-unrolled spiking copies of rate networks, to fine-tune with the dynamics.

`unroll` copies a chain of layers into a model with a time axis whose relus
are `~nengo_keras.spiking.layers.SpikingActivation` layers followed by
`~nengo_keras.spiking.layers.Lowpass` synapses, so training sees the delays
and lag that `~nengo_keras.spiking.spike_aware.SpikeAware` training ignores.
"""

from __future__ import annotations

import keras

from ..conversion import graph as kg
from ..conversion.activation_map import canonical_name
from . import layers as nk_layers
from .spike_aware import check_synapse


def unroll(
    model,
    n_steps,
    scale_firing_rates=1.0,
    synapse=None,
    readout_synapse=None,
    activity_l1=0.0,
    dt=0.001,
):
    """A time-unrolled spiking copy of ``model``, to fine-tune with the dynamics.

    `SpikeAware` training models each layer's spike count over the window
    but not the one-step delay and the lag each synapse adds, which take a
    large share of very short windows (about ten steps). The copy made here
    has a time axis: its input is ``(batch, n_steps, ...)`` (the sample
    repeated, for a constant presentation); each layer is wrapped in
    ``keras.layers.TimeDistributed`` (a copy, with the trained weights); and
    each relu becomes a rescaling by the firing-rate scale, a
    `nengo_keras.layers.SpikingActivation`, the inverse rescaling and a
    `nengo_keras.layers.Lowpass` synapse. Those layers compute what Nengo's
    neurons and synapses compute, delays included, so after training
    ``to_nengo(sequence)`` runs exactly as the Keras copy does.

    Parameters
    ----------
    model : keras.Model
        A chain of layers (a Sequential model, or a functional one in which
        each layer feeds the next), one input and one output. Relu (as a
        layer's ``activation``, an ``Activation("relu")`` or a plain
        ``ReLU()``) becomes spiking; other layers keep computing rates.
    n_steps : int
        The presentation window, in steps of ``dt``.
    scale_firing_rates : float or dict, optional
        Multiplies the neurons' input and divides their output (a dict maps
        layer names to scales; layers not in it use 1).
    synapse : float, optional
        Lowpass time constant (s) after each spiking layer but the last;
        None: no synapse (and no delay).
    readout_synapse : float, optional
        The same after the last spiking layer. Default: ``synapse``.
    activity_l1 : float, optional
        An L1 penalty on spikes (``keras.layers.ActivityRegularization``,
        the identity once converted) that keeps rates from growing in
        training; about 1e-7 suits rates of tens of Hz.
    dt : float, optional
        Time step (s).

    Returns
    -------
    (keras.Model, keras.Model)
        ``sequence``, with the whole output sequence (convert this one), and
        ``last``, its output at the last step (train this one). They share
        their layers.

    Examples
    --------
    >>> sequence, last = nengo_keras.spiking.unroll(
    ...     model, n_steps=10, scale_firing_rates=70, synapse=0.001,
    ...     readout_synapse=0.01, activity_l1=1e-7)
    >>> last.compile(optimizer="adam", loss=loss)
    >>> last.fit(np.repeat(x[:, None], 10, axis=1), y, epochs=20)
    >>> result = nengo_keras.to_nengo(sequence)
    """
    n_steps = int(n_steps)
    if n_steps < 1:
        raise ValueError(f"unroll: n_steps must be a positive integer, got {n_steps!r}")
    synapse = check_synapse("synapse", synapse)
    readout_synapse = (
        synapse if readout_synapse is None else check_synapse("readout_synapse", readout_synapse)
    )
    chain = _chain(model)
    spiking = [layer for layer in chain if _is_relu(layer)]
    if not spiking:
        raise ValueError(
            f"unroll: model {model.name!r} has no relu activations to make spiking"
        )

    def scale_of(layer):
        if isinstance(scale_firing_rates, dict):
            return float(scale_firing_rates.get(layer.name, 1.0))
        return float(scale_firing_rates)

    inp = keras.Input((n_steps,) + tuple(model.inputs[0].shape[1:]))
    x = inp
    for layer in chain:
        relu = _is_relu(layer)
        if not isinstance(layer, (keras.layers.Activation, keras.layers.ReLU)) or not relu:
            config = layer.get_config()
            if relu:
                config["activation"] = "linear"
            copy = type(layer).from_config(config)
            x = keras.layers.TimeDistributed(copy)(x)
            copy.set_weights(layer.get_weights())
        if relu:
            s = scale_of(layer)
            x = keras.layers.Rescaling(s)(x)
            x = nk_layers.SpikingActivation("relu", dt=dt, name=f"{layer.name}_spikes")(x)
            if activity_l1:
                x = keras.layers.ActivityRegularization(l1=activity_l1)(x)
            x = keras.layers.Rescaling(1.0 / s)(x)
            tau = readout_synapse if layer is spiking[-1] else synapse
            if tau is not None:
                x = nk_layers.Lowpass(tau, dt=dt)(x)
    sequence = keras.Model(inp, x, name=f"{model.name}_unrolled")
    return sequence, keras.Model(inp, x[:, -1], name=f"{model.name}_last_step")


def _is_relu(layer):
    if isinstance(layer, keras.layers.ReLU):
        return (
            layer.max_value is None
            and not layer.negative_slope
            and not layer.threshold
        )
    activation = getattr(layer, "activation", None)
    return activation is not None and canonical_name(activation) == "relu"


def _chain(model):
    """The layers of ``model`` in order, if each feeds the next; else an error."""
    if isinstance(model, keras.Sequential):
        return [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    graph = kg.graph_of(model)
    if len(graph.inputs) != 1 or len(graph.outputs) != 1:
        raise ValueError(
            f"unroll: model {model.name!r} has {len(graph.inputs)} inputs and "
            f"{len(graph.outputs)} outputs; unroll copies models with one of each"
        )
    previous, chain = graph.inputs[0], []
    for node in graph.nodes:
        if not isinstance(node.op, keras.layers.Layer) or [
            id(t) for t in node.input_tensors
        ] != [id(previous)] or len(node.output_tensors) != 1:
            raise ValueError(
                f"unroll: {getattr(node.op, 'name', node.op)!r} does not take the "
                f"previous layer's output as its only input; unroll copies chains "
                f"of layers (build the time-unrolled model by hand with "
                f"nengo_keras.layers for other graphs)"
            )
        chain.append(node.op)
        previous = node.output_tensors[0]
    return chain
