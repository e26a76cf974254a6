"""``simulator="keras"``: the batched Keras engine against nengo.Simulator.

Float64 runs (TensorFlow) must equal the reference simulator to rounding, spikes
included. Float32 runs (the default, and JAX without x64) agree to float32
rounding on rate networks; on spiking networks a voltage within float32
rounding of an integer can spike one step earlier or later than in float64
(a "tie"). The voltage error stays far below one spike, so a neuron's spike
count over the run differs by at most one from the reference in the first
spiking layer; deeper layers see the shifted spikes and may drift further, so
there the test bound is on rates and outputs (see `test_spiking_float32_ties`).
"""

import keras
import nengo
import numpy as np
import pytest

import nengo_keras
from nengo_keras.run import keras_engine
from nengo_keras.run._keras_ops import UnsupportedOperator
from nengo_keras.run.executors import choose_executor
from nengo_keras.run.simulation import make_plan

L = keras.layers
SPIKING = dict(swap_activations={"relu": nengo.SpikingRectifiedLinear()},
               scale_firing_rates=100, synapse=0.005)
TF = keras.backend.backend() == "tensorflow"
DTYPE = "float64" if TF else "float32"  # JAX: float64 needs global x64 mode


def conv_model():
    inp = keras.Input((8, 8, 3))
    x = L.Conv2D(4, 3, activation="relu")(inp)
    x = L.BatchNormalization(beta_initializer="normal", moving_mean_initializer="normal")(x)
    x = L.DepthwiseConv2D(3, activation="relu")(x)
    x = L.MaxPooling2D(2)(x)
    x = L.Flatten()(x)
    x = L.Dense(10, activation="relu")(x)
    return keras.Model(inp, L.Dense(3, activation="softmax")(x))


def pooling_model():
    inp = keras.Input((8, 8, 2))
    x = L.Conv2D(6, 3, strides=(1, 2), padding="same", activation="relu")(inp)
    x = L.AveragePooling2D(2)(x)
    x = L.Conv2DTranspose(3, 3, strides=2, activation="relu")(x)
    x = L.GlobalAveragePooling2D()(x)
    return keras.Model(inp, L.Dense(4)(x))


def channels_first_model():
    # TensorFlow's CPU kernels cannot convolve channels-first data: the engine
    # moves the channels last (and runs transposed convolutions as sparse maps)
    inp = keras.Input((2, 7, 6))
    x = L.Conv2D(3, 3, strides=(2, 1), data_format="channels_first", activation="relu")(inp)
    x = L.Conv2DTranspose(2, 2, strides=2, data_format="channels_first", activation="relu")(x)
    return keras.Model(inp, L.Dense(3)(L.Flatten()(x)))


def multi_io_model():
    a, b = keras.Input((6,), name="a"), keras.Input((5, 2), name="b")
    h = L.Dense(8, activation="relu")(a)
    c = L.Conv1D(3, 2, activation="relu")(b)
    merged = L.Concatenate()([h, L.Flatten()(c)])
    out1 = L.Dense(3, name="out1")(merged)
    out2 = L.Multiply(name="out2")([L.Dense(4, activation="sigmoid")(merged),
                                    L.Dense(4, activation="tanh")(h)])
    return keras.Model([a, b], [out1, out2])


class Doubler(L.Layer):
    def call(self, x):
        return x * 2.0


def fallback_model():
    inp = keras.Input((5,))
    x = L.Dense(6, activation="relu")(inp)
    x = L.Activation("mish")(Doubler()(x))
    return keras.Model(inp, L.Dense(2, activation="softmax")(x))


MODELS = {"conv": conv_model, "pooling": pooling_model, "multi_io": multi_io_model,
          "channels_first": channels_first_model}


def inputs_for(model, n, rng):
    return [rng.uniform(size=(n,) + tuple(i.shape[1:])) for i in model.inputs]


def both(result, x, n_steps, **kwargs):
    ref = result.run(x, n_steps=n_steps, seed=2)
    got = result.run(x, n_steps=n_steps, seed=2, simulator="keras", **kwargs)
    return [ref] if not isinstance(ref, list) else ref, [got] if not isinstance(got, list) else got


def assert_equalish(refs, gots, dtype):
    tol = 1e-9 if dtype == "float64" else 2e-5
    for r, g in zip(refs, gots):
        assert r.shape == g.shape
        np.testing.assert_allclose(g, r, rtol=tol, atol=tol * max(np.abs(r).max(), 1.0))


@pytest.mark.backends
@pytest.mark.parametrize("make", MODELS.values(), ids=MODELS.keys())
def test_rate_networks_equal_reference(make, rng):
    model = make()
    result = nengo_keras.to_nengo(model, synapse=0.003)
    refs, gots = both(result, inputs_for(model, 3, rng), 6, dtype=DTYPE, minibatch_size=2)
    assert_equalish(refs, gots, DTYPE)


@pytest.mark.backends
@pytest.mark.parametrize("make", MODELS.values(), ids=MODELS.keys())
def test_spiking_networks_equal_reference(make, rng):
    model = make()
    result = nengo_keras.to_nengo(model, **SPIKING)
    refs, gots = both(result, inputs_for(model, 3, rng), 15, dtype=DTYPE)
    if DTYPE == "float64":
        assert_equalish(refs, gots, DTYPE)
    else:
        for r, g in zip(refs, gots):  # ties possible: see the module docstring
            assert np.abs(g - r).max() <= 0.05 * np.abs(r).max() + 1e-6


@pytest.mark.parametrize("neuron", [
    nengo.LIF(tau_rc=0.02, tau_ref=0.002, min_voltage=-1), nengo.LIFRate(),
    nengo.RectifiedLinear(), nengo.RegularSpiking(nengo.Tanh()), nengo.Sigmoid(),
])
def test_neuron_types_with_gains_and_initial_voltages(neuron, rng):
    inp = keras.Input((4,))
    x = L.Dense(12, activation="relu", name="hidden")(inp)
    model = keras.Model(inp, L.Dense(3)(x))
    scale = np.linspace(50, 200, 12)  # per-neuron gains
    result = nengo_keras.to_nengo(model, swap_activations={"relu": neuron},
                                  scale_firing_rates={"hidden": scale}, synapse=nengo.Alpha(0.004))
    refs, gots = both(result, rng.uniform(size=(3, 4)), 30, dtype=DTYPE)
    assert_equalish(refs, gots, "float64" if TF else "float32")


def test_node_paths_and_results(rng):
    # softmax: node tier, traced as keras.ops.softmax; mish: node tier
    # (vectorised NumPy); Doubler: Keras fallback (traced); a plain Python
    # node function: once per sample
    model = fallback_model()
    with pytest.warns(UserWarning, match="fallback"):
        result = nengo_keras.to_nengo(model, trace_layers=False)
    with result.net:
        extra = nengo.Node(lambda t, x: np.sin(x) + t, size_in=2, label="python")
        nengo.Connection(result.outputs[model.output].target, extra, synapse=None)
        probe = nengo.Probe(extra)
    x = rng.uniform(size=(3, 5))
    probes = [result.outputs[model.output], probe]
    ref = result.run(x, n_steps=3, probes=probes)
    got = result.run(x, n_steps=3, probes=probes, simulator="keras", dtype=DTYPE)
    assert_equalish(ref, got, DTYPE)
    plan = make_plan(result, dt=0.001, simulator=None, seed=0, sim_kwargs={})
    paths = keras_engine.Program(plan).node_paths
    assert sorted(paths.values()) == [
        "input", "keras", "keras-ops", "numpy-batched", "numpy-per-sample"
    ]


def test_temporal_models_and_time_varying_input(rng):
    ann = keras.Sequential([keras.Input((6, 6, 1)), L.Conv2D(4, 3, activation="relu"),
                            L.Flatten(), L.Dense(3)])
    sequence, _ = nengo_keras.spiking.unroll(ann, 8, scale_firing_rates=200.0,
                                             synapse=0.002, readout_synapse=0.005)
    result = nengo_keras.to_nengo(sequence)
    x = rng.uniform(size=(3, 8, 6, 6, 1))
    refs, gots = both(result, x, 8, dtype=DTYPE)
    assert_equalish(refs, gots, DTYPE)
    rnn = keras.Sequential([keras.Input((5, 3)), L.SimpleRNN(4), L.Dense(2)])
    result = nengo_keras.to_nengo(rnn)
    refs, gots = both(result, rng.uniform(size=(2, 5, 3)), 1, dtype=DTYPE)
    assert_equalish(refs, gots, DTYPE)


@pytest.mark.backends
def test_evaluate_rates_and_synops_equal_reference(rng):
    result = nengo_keras.to_nengo(conv_model(), **SPIKING)
    x, y = rng.uniform(size=(5, 8, 8, 3)), rng.integers(0, 3, size=5)
    kwargs = dict(n_steps=20, seed=1, progress_bar=False)
    ref = nengo_keras.evaluate(result, x, y, executor="serial", **kwargs)
    got = nengo_keras.evaluate(result, x, y, simulator="keras", minibatch_size=2,
                               dtype=DTYPE, **kwargs)
    assert got.layers.keys() == ref.layers.keys()
    if DTYPE == "float64":
        np.testing.assert_array_equal(got.accuracy, ref.accuracy)
        for name, a in ref.layers.items():
            np.testing.assert_allclose(got.layers[name].rates, a.rates, rtol=1e-9)
            np.testing.assert_array_equal(got.layers[name].synops, a.synops)
    else:
        for name, a in ref.layers.items():
            np.testing.assert_allclose(got.layers[name].mean_rate, a.mean_rate, rtol=0.02)
            np.testing.assert_allclose(got.layers[name].synops, a.synops, rtol=0.05)


def test_spiking_float32_ties(rng):
    # the bound of the module docstring: in the first spiking layer, a float32
    # run's spike count per neuron and sample is within one of float64's
    result = nengo_keras.to_nengo(conv_model(), **SPIKING)
    first = result.net.all_ensembles[0]
    with result.net:
        spikes = nengo.Probe(first.neurons)
    x = rng.uniform(size=(4, 8, 8, 3))
    kwargs = dict(n_steps=50, seed=1, probes=[spikes])
    ref = result.run(x, **kwargs)
    got = result.run(x, simulator="keras", dtype="float32", **kwargs)
    per_spike = first.neuron_type.amplitude / 0.001
    counts = [np.rint(a.sum(axis=1) / per_spike) for a in (ref, got)]
    assert np.abs(counts[1] - counts[0]).max() <= 1
    assert counts[0].sum() > 0
    # deeper layers: mean rates within 2%
    kwargs = dict(n_steps=50, seed=1, progress_bar=False)
    ref = nengo_keras.evaluate(result, x, executor="serial", **kwargs)
    got = nengo_keras.evaluate(result, x, simulator="keras", dtype="float32", **kwargs)
    for name, a in ref.layers.items():
        assert abs(got.layers[name].mean_rate - a.mean_rate) <= 0.02 * a.mean_rate + 1e-9


def test_unsupported_objects_fail_before_simulating(rng):
    inp = keras.Input((3,))
    model = keras.Model(inp, L.Dense(2, activation="relu")(inp))
    result = nengo_keras.to_nengo(model, swap_activations={"relu": nengo.AdaptiveLIF()})
    with pytest.raises(UnsupportedOperator, match="AdaptiveLIF.*reference simulator"):
        result.run(rng.uniform(size=(2, 3)), simulator="keras")
    result = nengo_keras.to_nengo(model)
    with result.net:
        probe = nengo.Probe(result.outputs[model.output].target, sample_every=0.002)
    with pytest.raises(ValueError, match="sample_every"):
        result.run(rng.uniform(size=(2, 3)), simulator="keras", probes=[probe])
    with pytest.raises(ValueError, match="dtype="):
        result.run(rng.uniform(size=(2, 3)), simulator="keras", dtype="float16")
    with pytest.raises(TypeError, match="unexpected keyword arguments.*optimize"):
        result.run(rng.uniform(size=(2, 3)), simulator="keras", optimize=True)


def test_minibatches_and_padding_do_not_change_results(rng):
    result = nengo_keras.to_nengo(conv_model(), **SPIKING)
    x = rng.uniform(size=(5, 8, 8, 3))
    whole = result.run(x, n_steps=5, seed=0, simulator="keras", minibatch_size=5)
    parts = result.run(x, n_steps=5, seed=0, simulator="keras", minibatch_size=2)
    np.testing.assert_array_equal(whole, parts)


def test_choose_executor():
    # long jobs with idle CPUs pay for a pool; short or crowded ones do not
    assert choose_executor(0.5, 1.0, n_left=1000, workers=4, free_cpus=4.0) == "processes"
    assert choose_executor(0.5, 1.0, n_left=1000, workers=4, free_cpus=1.0) == "serial"
    assert choose_executor(0.01, 2.0, n_left=100, workers=2, free_cpus=2.0) == "serial"
    assert choose_executor(0.5, 1.0, n_left=1000, workers=1, free_cpus=8.0) == "serial"


def test_default_executor_equals_serial(rng):
    result = nengo_keras.to_nengo(conv_model(), **SPIKING)
    x = rng.uniform(size=(6, 8, 8, 3))
    kwargs = dict(n_steps=5, seed=4, progress_bar=False)
    auto = nengo_keras.evaluate(result, x, **kwargs)
    serial = nengo_keras.evaluate(result, x, executor="serial", **kwargs)
    np.testing.assert_array_equal(auto.outputs, serial.outputs)
    for name, a in serial.layers.items():
        np.testing.assert_array_equal(auto.layers[name].synops, a.synops)


@pytest.mark.slow
def test_digits_accuracy_equal_reference():
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = (digits.images / 16.0).astype("float32")[..., None]
    y = digits.target
    model = keras.Sequential([
        keras.Input((8, 8, 1)), L.Conv2D(16, 3, padding="same", activation="relu"),
        L.Conv2D(32, 3, strides=2, activation="relu"), L.Flatten(),
        L.Dense(64, activation="relu"), L.Dense(10),
    ])
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x[:1297], y[:1297], epochs=10, batch_size=32, verbose=0)
    result = nengo_keras.to_nengo(model, **SPIKING)
    kwargs = dict(n_steps=30, seed=0, progress_bar=False)
    ref = nengo_keras.evaluate(result, x[-200:], y[-200:], executor="serial", **kwargs)
    got = nengo_keras.evaluate(result, x[-200:], y[-200:], simulator="keras", **kwargs)
    assert ref.final_accuracy > 0.8
    # float32 ties can flip at most a sample or two
    assert abs(got.final_accuracy - ref.final_accuracy) <= 2 / 200
