"""nengo_keras.conversion.context: the helpers converters build with (neurons, scales, synapses)."""

import keras
import nengo
import numpy as np
import pytest

import nengo_keras
from tests.helpers import check_conversion, dense_model

L = keras.layers


@pytest.mark.parametrize("scale", [10.0, {"hidden": 5.0}])
def test_scale_firing_rates_keeps_rate_outputs(scale):
    model = dense_model()
    result = check_conversion(model, scale_firing_rates=scale)
    (ens,) = result.net.all_ensembles
    factor = 10.0 if not isinstance(scale, dict) else 5.0
    assert np.allclose(ens.gain, factor)
    assert np.isclose(ens.neuron_type.amplitude, 1 / factor)


def test_scale_firing_rates_by_layer_object():
    model = dense_model()
    result = check_conversion(model, scale_firing_rates={model.get_layer("hidden"): 3})
    (ens,) = result.net.all_ensembles
    assert np.allclose(ens.gain, 3)


def test_synapse_only_on_connections_and_probes_leaving_neurons():
    inp = keras.Input((8,))
    x = L.Dense(16, activation="relu")(inp)
    model = keras.Model(inp, x)
    result = nengo_keras.to_nengo(model, synapse=0.005)
    for conn in result.net.all_connections:
        from_neurons = isinstance(conn.pre_obj, nengo.ensemble.Neurons)
        assert (conn.synapse is not None) == from_neurons
    (probe,) = result.net.all_probes
    assert probe.synapse == nengo.Lowpass(0.005)
