"""`nengo_keras.evaluate`: accuracy per step, firing rates, synops."""

import keras
import nengo
import numpy as np
import pytest

import nengo_keras
from nengo_keras.run import evaluation

SPIKING = {"relu": nengo.SpikingRectifiedLinear()}


def identity_model(n):
    inp = keras.Input((n,))
    out = keras.layers.Dense(n, use_bias=False, kernel_initializer="identity")(inp)
    return keras.Model(inp, out)


def hidden_model(kernel_out):
    """x -> relu(x) (1 neuron, named "hidden") -> Dense with ``kernel_out``."""
    inp = keras.Input((1,))
    h = keras.layers.Dense(
        1, activation="relu", kernel_initializer="ones", name="hidden"
    )(inp)
    out = keras.layers.Dense(len(kernel_out), use_bias=False, name="out")(h)
    model = keras.Model(inp, out)
    model.get_layer("out").set_weights([np.array([kernel_out], dtype="float32")])
    return model


def small_conv_model():
    inp = keras.Input((6, 6, 2))
    h = keras.layers.Conv2D(4, 3, activation="relu")(inp)
    h = keras.layers.Flatten()(h)
    out = keras.layers.Dense(3)(h)
    return keras.Model(inp, out)


def test_accuracy_per_step_by_hand():
    # time-varying input through an identity network: the output at each step
    # is the input, so the argmax at step t is known by construction
    x = np.zeros((4, 3, 2))
    x[:, :, 0] = 1.0  # every sample says class 0 ...
    x[1, 1:, 1] = 2.0  # ... except sample 1 from step 2 on
    x[2, 2:, 1] = 2.0  # and sample 2 at step 3
    x[3, :, 1] = 2.0  # and sample 3 always
    y = np.array([0, 1, 1, 1])
    # correct: step 1: samples 0, 3; step 2: 0, 1, 3; step 3: all four
    converted = nengo_keras.to_nengo(identity_model(2))
    res = nengo_keras.evaluate(converted, x, y, executor="serial", progress_bar=False)
    np.testing.assert_allclose(res.accuracy, [2 / 4, 3 / 4, 4 / 4])
    assert res.outputs.shape == (4, 3, 2)
    np.testing.assert_allclose(res.outputs, x, atol=1e-6)
    onehot = np.eye(2)[y]
    res2 = nengo_keras.evaluate(converted, x, onehot, executor="serial", progress_bar=False)
    np.testing.assert_array_equal(res2.accuracy, res.accuracy)
    assert res2.final_accuracy == 1.0


def test_choose_output_of_multi_output_model(rng):
    inp = keras.Input((3,))
    first = keras.layers.Dense(2, name="first")(inp)
    second = keras.layers.Dense(4, name="second")(inp)
    model = keras.Model(inp, [first, second])
    x = rng.uniform(size=(5, 3))
    y = rng.integers(0, 4, size=5)
    res = nengo_keras.evaluate(nengo_keras.to_nengo(model), x, y, output="second",
                               executor="serial", progress_bar=False)
    expected = model.predict(x, verbose=0)[1]
    np.testing.assert_allclose(res.outputs[:, 0], expected, rtol=1e-4, atol=1e-5)
    assert res.accuracy[0] == np.mean(np.argmax(expected, axis=-1) == y)


def test_labels_errors_and_shapes():
    assert evaluation.class_labels(np.array([[1], [2]]), (3,)).tolist() == [1, 2]
    with pytest.raises(ValueError, match="do not fit"):
        evaluation.class_labels(np.zeros((2, 4)), (3,))
    with pytest.raises(ValueError, match="integer labels"):
        evaluation.class_labels(np.array([0.5, 1.0]), (3,))


@pytest.mark.parametrize("spiking", [False, True])
def test_rates_for_known_input(spiking):
    # relu neuron with gain 1 and no bias: input v and scale s give v * s Hz
    model = hidden_model([1.0, 0.0, 2.0])
    scale = 100.0
    converted = nengo_keras.to_nengo(
        model, swap_activations=SPIKING if spiking else None, scale_firing_rates=scale
    )
    x = np.array([[0.2], [0.5]])
    n_steps = 1000
    res = converted.evaluate(
        x, n_steps=n_steps, executor="serial", progress_bar=False, seed=0
    )
    hidden = res.layers["hidden"]
    assert hidden.n_neurons == 1 and hidden.spiking == spiking
    expected = scale * x.mean()  # 35 Hz averaged over the two samples
    # a spiking neuron's count over 1 s is off by at most one spike per sample
    assert abs(hidden.mean_rate - expected) <= (1.0 if spiking else 1e-9)
    # fan-out 2 (the zero weight does not count)
    assert hidden.synapses == 2
    seconds = n_steps * 0.001
    if spiking:
        per_sample = scale * x[:, 0] * seconds * 2  # spikes x fan-out
        np.testing.assert_allclose(hidden.synops, per_sample, atol=2)
        assert np.all(hidden.synops % 2 == 0)
    else:
        np.testing.assert_array_equal(hidden.synops, [n_steps * 2] * 2)
    assert res.total_synops == pytest.approx(np.mean(hidden.synops))


def test_synapses_match_keras_kernels():
    model = small_conv_model()
    dense = model.layers[-1]
    kernel = dense.get_weights()[0]
    kernel[::3] = 0.0  # some zero weights
    dense.set_weights([kernel, dense.get_weights()[1]])
    res = nengo_keras.evaluate(
        nengo_keras.to_nengo(model), np.ones((1, 6, 6, 2)), n_steps=2,
        executor="serial", progress_bar=False,
    )
    conv = res.layers[model.layers[1].name]
    assert conv.synapses == np.count_nonzero(kernel)
    np.testing.assert_array_equal(conv.synops, [2 * np.count_nonzero(kernel)])


def test_summary_and_result_fields(rng):
    converted = nengo_keras.to_nengo(small_conv_model(), swap_activations=SPIKING,
                                     scale_firing_rates=50)
    res = nengo_keras.evaluate(converted, rng.uniform(size=(2, 6, 6, 2)), [0, 1],
                               n_steps=5, executor="serial", progress_bar=False)
    text = res.summary()
    name = next(iter(res.layers))
    assert name in text and "accuracy" in text and "synops" in text
    assert res.n_steps == 5 and res.evaluation_time > 0
    assert set(res.mean_rates) == set(res.synops) == set(res.layers)


