"""The Keras layers of `nengo_keras.layers`, against reference maths."""

import keras
import numpy as np
import pytest

from nengo_keras.spiking.layers import Alpha, Lowpass, SpikingActivation

L = keras.layers
# float64 for exact comparisons where the backend has it (JAX: x64 is off)
F64 = None if keras.backend.backend() == "jax" else "float64"


def run(layer, x):
    return keras.ops.convert_to_numpy(layer(keras.ops.convert_to_tensor(x, layer.compute_dtype)))


def x64():
    return F64 is not None


@pytest.mark.parametrize("v0", [0.0, 0.5, 0.9])
def test_spike_counts_are_rate_times_time(v0, rng):
    dt, steps = 0.001, 200
    rates = rng.uniform(0, 300, size=(3, 1, 7))
    layer = SpikingActivation("relu", dt=dt, initial_voltage=v0, dtype=F64)
    spikes = run(layer, np.repeat(rates, steps, axis=1))
    # every output is a whole number of spikes of amplitude 1/dt
    counts = spikes * dt
    np.testing.assert_allclose(counts, np.round(counts), atol=1e-9)
    # after t steps the neuron has fired floor(v0 + rate * t * dt) times
    total = counts.sum(axis=1)
    expected = np.floor(v0 + rates[:, 0] * steps * dt + 1e-9)
    np.testing.assert_array_equal(total, expected)
    # and the spikes are spread evenly: the running count never strays a spike
    running = np.cumsum(counts, axis=1)
    ideal = v0 + rates * dt * np.arange(1, steps + 1)[None, :, None]
    assert np.all(np.abs(running - ideal) < 1 + 1e-9)


def test_default_initial_voltage_rounds_counts(rng):
    rates = rng.uniform(0, 100, size=(4, 1, 5))
    spikes = run(SpikingActivation("relu", dtype=F64), np.repeat(rates, 30, axis=1))
    counts = spikes.sum(axis=1) * 0.001
    assert np.all(np.abs(counts - rates[:, 0] * 0.03) <= 0.5 + 1e-9)


def test_negative_rates_give_negative_spikes(rng):
    x = rng.uniform(-3, 3, size=(2, 1, 6))
    dt, steps = 0.01, 500
    spikes = run(SpikingActivation("tanh", dt=dt, dtype=F64), np.repeat(x, steps, axis=1))
    total = spikes.sum(axis=1) * dt
    np.testing.assert_array_equal(total, np.floor(0.5 + np.tanh(x[:, 0]) * steps * dt + 1e-9))
    assert np.any(spikes < 0)


def test_uniform_initial_voltage_is_seeded_and_stored():
    a = SpikingActivation("relu", initial_voltage="uniform", seed=3)
    b = SpikingActivation("relu", initial_voltage="uniform", seed=3)
    c = SpikingActivation("relu", initial_voltage="uniform", seed=4)
    for layer in (a, b, c):
        layer.build((None, 10, 4, 5))
    va, vb, vc = (keras.ops.convert_to_numpy(x.initial_voltages) for x in (a, b, c))
    assert va.shape == (4, 5) and np.all((va >= 0) & (va < 1))
    np.testing.assert_array_equal(va, vb)
    assert not np.allclose(va, vc)
    assert a.initial_voltages in a.non_trainable_weights
    # the first step spikes where initial voltage + rate * dt crosses 1
    x = np.full((1, 1, 4, 5), 400.0)
    first = run(a, x)[0, 0] * 0.001
    np.testing.assert_array_equal(first, np.floor(va + 0.4 + 1e-7))


def test_return_sequences_false_gives_last_step(rng):
    x = rng.uniform(0, 500, size=(2, 9, 3))
    full = run(SpikingActivation("relu"), x)
    last = run(SpikingActivation("relu", return_sequences=False), x)
    np.testing.assert_array_equal(last, full[:, -1])


def test_stateful_continues_between_calls(rng):
    x = rng.uniform(0, 300, size=(2, 20, 3)).astype("float32")
    whole = run(SpikingActivation("relu"), x)
    layer = SpikingActivation("relu", stateful=True)
    layer.build((2, 10, 3))
    halves = np.concatenate([run(layer, x[:, :10]), run(layer, x[:, 10:])], axis=1)
    np.testing.assert_allclose(halves, whole)
    layer.reset_state()
    np.testing.assert_allclose(run(layer, x[:, :10]), whole[:, :10])


def test_spiking_activation_gradient_is_the_rate_gradient():
    """Straight-through: the backward pass sees ``d relu / dx``."""
    inp = keras.Input((5, 1))
    out = SpikingActivation("relu", return_sequences=False)(L.Dense(1, use_bias=False)(inp))
    model = keras.Model(inp, out)
    model.layers[1].kernel.assign([[1.0]])
    model.compile(optimizer=keras.optimizers.SGD(1.0), loss="mse")
    x = np.full((1, 5, 1), 2.0, dtype="float32")
    y = np.zeros((1, 1), dtype="float32")
    before = float(keras.ops.convert_to_numpy(model.layers[1].kernel)[0, 0])
    # the forward pass spikes (output 1000 or 0, not the rate 2)
    assert float(model.predict(x, verbose=0)[0, 0]) in (0.0, 1000.0)
    spikes = float(model.predict(x, verbose=0)[0, 0])
    model.train_on_batch(x, y)
    after = float(keras.ops.convert_to_numpy(model.layers[1].kernel)[0, 0])
    # d/dw (out - 0)^2 = 2 * out * relu'(w x) * x = 2 * spikes * 1 * 2
    np.testing.assert_allclose(before - after, 2 * spikes * 2, rtol=1e-5)


@pytest.mark.backends
@pytest.mark.parametrize("aware", [True, False])
def test_tiny_spiking_model_trains(aware, rng):
    x = rng.uniform(0, 1, size=(64, 20, 4)).astype("float32")
    y = (x.mean(axis=1) @ rng.uniform(-1, 1, size=(4, 2))).astype("float32")
    inp = keras.Input((20, 4))
    # rates of tens of Hz: a few spikes per neuron over the 0.2 s
    h = L.Dense(16, kernel_initializer=keras.initializers.RandomUniform(-50, 50))(inp)
    h = SpikingActivation("relu", dt=0.01, spiking_aware_training=aware)(h)
    h = Lowpass(0.05, dt=0.01, train_tau=True, return_sequences=False)(h)
    small = keras.initializers.RandomNormal(stddev=0.001)
    model = keras.Model(inp, L.Dense(2, kernel_initializer=small)(h))
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    tau = model.layers[3].tau
    first = model.evaluate(x, y, verbose=0)
    model.fit(x, y, epochs=30, batch_size=16, verbose=0)
    last = model.evaluate(x, y, verbose=0)
    assert last < 0.5 * first and last < y.var(axis=0).mean()
    assert float(keras.ops.convert_to_numpy(tau)) != pytest.approx(0.05)


# --- synapses ------------------------------------------------------------------


@pytest.mark.parametrize("tau", [0.002, 0.01, 0.05])
def test_lowpass_step_response_is_exact(tau):
    dt, steps = 0.001, 100
    y = run(Lowpass(tau, dt=dt, dtype=F64), np.ones((1, steps, 1)))[0, :, 0]
    t = np.arange(steps) * dt  # the one-step delay: y[k] sees inputs < k
    tol = 1e-12 if x64() else 1e-5
    np.testing.assert_allclose(y, 1 - np.exp(-t / tau), atol=tol)


@pytest.mark.parametrize("tau", [0.002, 0.01, 0.05])
def test_alpha_step_response_is_exact(tau):
    dt, steps = 0.001, 100
    y = run(Alpha(tau, dt=dt, dtype=F64), np.ones((1, steps, 1)))[0, :, 0]
    t = np.arange(steps) * dt
    tol = 1e-12 if x64() else 1e-5
    np.testing.assert_allclose(y, 1 - (1 + t / tau) * np.exp(-t / tau), atol=tol)


@pytest.mark.parametrize("cls", [Lowpass, Alpha])
def test_synapses_are_linear_time_invariant(cls, rng):
    layer = cls(0.01, dtype=F64)
    a, b = rng.normal(size=(2, 3, 40, 2))
    tol = 1e-12 if x64() else 1e-5
    np.testing.assert_allclose(run(layer, 2 * a + b), 2 * run(layer, a) + run(layer, b), atol=tol)
    shifted = np.concatenate([np.zeros((3, 5, 2)), a[:, :-5]], axis=1)
    np.testing.assert_allclose(run(layer, shifted)[:, 5:], run(layer, a)[:, :-5], atol=tol)


@pytest.mark.parametrize("cls", [Lowpass, Alpha])
def test_tau_zero_is_a_one_step_delay(cls, rng):
    x = rng.normal(size=(2, 10, 3))
    y = run(cls(0.0, dtype=F64), x)
    np.testing.assert_allclose(y[:, 1:], x[:, :-1], atol=1e-6)
    np.testing.assert_array_equal(y[:, 0], 0)


def test_synapse_return_sequences_false(rng):
    x = rng.normal(size=(2, 10, 3))
    full = run(Alpha(0.01), x)
    np.testing.assert_allclose(run(Alpha(0.01, return_sequences=False), x), full[:, -1])


# --- serialization and errors ------------------------------------------------------


def test_save_load_round_trip(tmp_path, rng):
    inp = keras.Input((12, 3))
    h = SpikingActivation("tanh", dt=0.01, initial_voltage="uniform", seed=2)(L.Dense(4)(inp))
    h = Lowpass(0.02, dt=0.01, train_tau=True)(h)
    out = Alpha(0.03, dt=0.01, return_sequences=False)(h)
    model = keras.Model(inp, out)
    model.layers[3].tau.assign(0.015)  # as if trained: the weight, not the config
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    x = rng.uniform(-3, 3, size=(2, 12, 3)).astype("float32")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    for a, b in zip(model.layers[1:], loaded.layers[1:]):
        assert type(a) is type(b) and a.get_config() == b.get_config()


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: SpikingActivation("relu", dt=0), "dt must be a positive"),
        (lambda: SpikingActivation("relu", initial_voltage=1.0), r"in \[0, 1\)"),
        (lambda: SpikingActivation("relu", initial_voltage="random"), "'uniform'"),
        (lambda: Lowpass(-0.1), "tau must be"),
        (lambda: Alpha(0.01, dt=-1), "dt must be"),
    ],
)
def test_bad_arguments(make, match):
    with pytest.raises(ValueError, match=match):
        make()


@pytest.mark.parametrize("layer", [SpikingActivation("relu"), Lowpass(0.01)])
def test_inputs_need_a_time_axis(layer):
    with pytest.raises(ValueError, match=r"\(batch, time, \.\.\.\)"):
        layer(keras.Input(()))


def test_stateful_needs_a_batch_size():
    with pytest.raises(ValueError, match="fixed batch size"):
        SpikingActivation("relu", stateful=True)(keras.Input((5, 3)))
