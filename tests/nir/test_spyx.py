"""A NIR file written by nengo_keras, read and run by another framework (Spyx,
on JAX: ``pip install nengo-keras[nir-verify]``), classifies the digits as
accurately as nengo_keras does."""

import keras
import nengo
import numpy as np
import pytest
from sklearn.datasets import load_digits

import nengo_keras

nir = pytest.importorskip("nir")
spyx_nir = pytest.importorskip(
    "spyx.nir", reason="Spyx is not installed (pip install 'nengo-keras[nir-verify]')"
)

N_STEPS = 60


def digits_cnn():
    digits = load_digits()
    x = (digits.images / 16.0).astype("float32")[..., None]
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Conv2D(16, 3, padding="same", activation="relu"),
            keras.layers.Conv2D(32, 3, strides=2, activation="relu"),
            keras.layers.Conv2D(64, 3, activation="relu"),
            keras.layers.Flatten(),
            keras.layers.Dense(10),
        ]
    )
    model.compile(
        "adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    model.fit(x[:1297], digits.target[:1297], epochs=15, batch_size=32, verbose=0)
    return model, x[-300:], digits.target[-300:]


def without_output_synapse(graph):
    """Spyx reads no standalone LI node: drop the output synapse (argmax of
    the time-averaged output, the readout used here, does not need it)."""
    drop = {k for k, n in graph.nodes.items() if isinstance(n, nir.LI)}
    edges = [(a, b) for a, b in graph.edges if a not in drop and b not in drop]
    for k in drop:
        (pre,) = [a for a, b in graph.edges if b == k]
        edges += [(pre, b) for a, b in graph.edges if a == k]
    return nir.NIRGraph(
        nodes={k: n for k, n in graph.nodes.items() if k not in drop}, edges=edges
    )


def test_spyx_runs_the_exported_digits_cnn_as_accurately(tmp_path):
    model, x_test, y_test = digits_cnn()
    # NIR neurons start at v = 0: so do these (Nengo's default is random)
    neuron = nengo.SpikingRectifiedLinear(initial_state={"voltage": nengo.dists.Choice([0.0])})
    spiking = nengo_keras.to_nengo(
        model, swap_activations={"relu": neuron}, scale_firing_rates=100, synapse=0.005
    )
    nengo_out = spiking.run(x_test, n_steps=N_STEPS)
    nengo_acc = np.mean(np.argmax(nengo_out.mean(axis=1), axis=-1) == y_test)

    # Spyx 1.0 flattens convolution outputs channels-last and keeps CubaLIF
    # state 1-D only, so its file holds the convolutions as Affine matrices
    path = tmp_path / "digits.nir"
    nengo_keras.nir.write(spiking, path, time_unit="step", conv_as_affine=True)
    graph = without_output_synapse(nir.read(path))
    steps = np.broadcast_to(x_test.reshape(1, len(x_test), -1), (N_STEPS, len(x_test), 64))
    _, spyx_out = spyx_nir.from_nir(graph, np.asarray(steps), dt=1)
    spyx_acc = np.mean(np.argmax(np.asarray(spyx_out).mean(axis=0), axis=-1) == y_test)

    assert nengo_acc > 0.8  # a trained network, not chance
    assert abs(spyx_acc - nengo_acc) <= 0.01, (nengo_acc, spyx_acc)
