"""nengo_keras.spiking.spike_aware: the spike count of a neuron over a window."""

import keras
import nengo
import numpy as np
import pytest

import nengo_keras
from nengo_keras.spiking.spike_aware import (
    SpikeAware,
    make_neuron_type,
    neuron_spec,
    restore_rates,
    spike_aware_layers,
)

L = keras.layers


def test_spike_count_quantises_the_relu_rate():
    n_steps, scale, dt = 10, 50.0, 0.001
    act = SpikeAware(n_steps, scale, dt=dt)
    x = np.linspace(-1, 3, 41).astype("float32")
    window = n_steps * dt
    # v0 = 0.5: floor(0.5 + rate * window) spikes, read back as a rate
    expected = np.floor(0.5 + np.maximum(x, 0) * scale * window) / (scale * window)
    got = keras.ops.convert_to_numpy(act(keras.ops.convert_to_tensor(x)))
    np.testing.assert_allclose(got, expected, atol=1e-6)
    rates = SpikeAware(n_steps, scale, mix=0.0)(keras.ops.convert_to_tensor(x))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(rates), np.maximum(x, 0))


def test_converts_to_the_neurons_it_was_trained_for():
    lif = nengo.LIF(tau_rc=0.05, tau_ref=0.001)
    inp = keras.Input((3,))
    hidden = L.Dense(4, activation=SpikeAware(20, 70.0, lif, synapse=0.002), name="h")
    model = keras.Model(inp, L.Dense(2)(hidden(inp)))
    result = nengo_keras.to_nengo(model)
    (ens,) = result.net.all_ensembles
    assert isinstance(ens.neuron_type, nengo.LIF) and ens.neuron_type.tau_rc == 0.05
    np.testing.assert_allclose(ens.gain, 70.0)
    leaving = [
        c for c in result.net.all_connections
        if isinstance(c.pre_obj, nengo.ensemble.Neurons) and c.pre_obj.ensemble is ens
    ]
    assert leaving and all(c.synapse == nengo.Lowpass(0.002) for c in leaving)


def test_neuron_spec_round_trips_and_rejects_other_types():
    lif = nengo.LIF(tau_rc=0.03, tau_ref=0.002)
    spec = neuron_spec(lif)
    assert spec == neuron_spec(spec) == {"type": "LIF", **{
        p: float(getattr(lif, p)) for p in spec if p != "type"
    }}
    rebuilt = make_neuron_type(spec, initial_voltage=0.5)
    assert isinstance(rebuilt, nengo.LIF) and rebuilt.tau_rc == 0.03
    with pytest.raises(ValueError, match="SpikingRectifiedLinear"):
        neuron_spec(nengo.Sigmoid())
    with pytest.raises(ValueError, match="initial_voltage"):
        SpikeAware(10, initial_voltage=1.5)


def test_restore_rates_puts_relu_back():
    inp = keras.Input((3,))
    x = L.Dense(4, activation=SpikeAware(10, 20.0), name="a")(inp)
    model = keras.Model(inp, L.Dense(2, activation=SpikeAware(10, 20.0), name="b")(x))
    assert [layer.name for layer, _ in spike_aware_layers(model)] == ["a", "b"]
    assert restore_rates(model) == 2
    assert spike_aware_layers(model) == []
    x = np.random.default_rng(0).normal(size=(2, 3)).astype("float32")
    a, b = model.get_layer("a"), model.get_layer("b")
    h = np.maximum(x @ a.kernel.numpy() + a.bias.numpy(), 0)
    expected = np.maximum(h @ b.kernel.numpy() + b.bias.numpy(), 0)
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-6)
