"""nengo_keras.spiking.unroll: time-unrolled spiking copies of rate networks."""

import keras
import numpy as np
import pytest

import nengo_keras
from nengo_keras.spiking.layers import Lowpass, SpikingActivation

L = keras.layers


def _ann():
    return keras.Sequential(
        [
            keras.Input((6, 6, 1)),
            L.Conv2D(4, 3, activation="relu", name="conv"),
            L.Flatten(),
            L.Dense(8, name="hidden"),
            L.ReLU(),
            L.Dense(3, activation="tanh", name="out"),
        ]
    )


@pytest.mark.backends
def test_unrolled_copy_converts_and_runs_step_for_step():
    ann = _ann()
    before = [w.copy() for w in ann.get_weights()]
    sequence, last = nengo_keras.spiking.unroll(
        ann, 8, scale_firing_rates={"conv": 200.0, "re_lu": 400.0}, synapse=0.002,
        readout_synapse=0.005, activity_l1=1e-7,
    )
    kinds = [type(layer).__name__ for layer in sequence.layers]
    assert kinds.count("SpikingActivation") == 2 and kinds.count("Lowpass") == 2
    assert sequence.output.shape[1:] == (8, 3) and last.output.shape[1:] == (3,)
    last.compile(optimizer="sgd", loss="mse")
    x = np.random.default_rng(0).uniform(size=(6, 8, 6, 6, 1))
    last.fit(x, np.zeros((6, 3)), epochs=1, verbose=0)
    # the rate network is untouched; the copy shares its trained layers
    assert all(np.array_equal(a, b) for a, b in zip(before, ann.get_weights()))
    result = nengo_keras.to_nengo(sequence)
    assert result.temporal
    assert result.verify(inputs=[x[:2]], atol=1e-4, rtol=1e-4)


def test_unroll_keeps_the_trained_weights_and_rate_layers():
    ann = _ann()
    sequence, _ = nengo_keras.spiking.unroll(ann, 3, synapse=None)
    assert not any(isinstance(layer, Lowpass) for layer in sequence.layers)
    wrapped = [layer.layer for layer in sequence.layers if isinstance(layer, L.TimeDistributed)]
    by_name = {layer.name: layer for layer in wrapped}
    for name in ("conv", "hidden", "out"):
        for a, b in zip(ann.get_layer(name).get_weights(), by_name[name].get_weights()):
            np.testing.assert_array_equal(a, b)
    assert by_name["out"].activation is keras.activations.tanh  # rates stay rates
    assert by_name["conv"].activation is keras.activations.linear


def test_unroll_functional_chain_with_activation_layers():
    inp = keras.Input((5,))
    x = L.Activation("relu")(L.Dense(4)(inp))
    model = keras.Model(inp, L.Dense(2)(x))
    sequence, _ = nengo_keras.spiking.unroll(model, 4, scale_firing_rates=100)
    assert sum(isinstance(layer, SpikingActivation) for layer in sequence.layers) == 1
    result = nengo_keras.to_nengo(sequence)
    x = np.random.default_rng(1).uniform(size=(2, 4, 5))
    assert result.verify(inputs=[x], atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda i: L.Add()([L.Dense(3, activation="relu")(i), i]), "only input"),
        (lambda i: L.Dense(3, activation="tanh")(i), "no relu"),
    ],
)
def test_unroll_errors(make, match):
    inp = keras.Input((3,))
    with pytest.raises(ValueError, match=match):
        nengo_keras.spiking.unroll(keras.Model(inp, make(inp)), 5)
    with pytest.raises(ValueError, match="n_steps"):
        nengo_keras.spiking.unroll(_ann(), 0)
