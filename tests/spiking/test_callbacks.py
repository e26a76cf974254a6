"""SpikingSwap: spike-aware training, saving, and what to_nengo makes of it.

The tests marked ``backends`` also run under ``KERAS_BACKEND=jax``, whose
trainer compiles the whole train step: they check that the swap really changes
what training, evaluation and prediction compute there.
"""

import pickle

import keras
import nengo
import numpy as np
import pytest

import nengo_keras
from nengo_keras.spiking.callbacks import SpikingSwap
from nengo_keras.spiking import SpikeAware

L = keras.layers
DT = 0.001


def mlp(n_in=3, hidden=6, name_prefix=""):
    inp = keras.Input((n_in,))
    h = L.Dense(hidden, activation="relu", name=f"{name_prefix}h1")(inp)
    h = L.Dense(hidden, activation="relu", name=f"{name_prefix}h2")(h)
    return keras.Model(inp, L.Dense(2, name=f"{name_prefix}out")(h))


def data(n=16, n_in=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(0, 1, (n, n_in)).astype("float32"), rng.normal(size=(n, 2)).astype("float32")


def counts(z, scale, n_steps, v0=0.5):
    """What a SpikingRectifiedLinear neuron outputs on average over the window."""
    window = n_steps * DT
    return np.floor(v0 + np.maximum(z, 0) * scale * window) / (scale * window)


def forward(model, x, act):
    """NumPy forward pass of `mlp` with activation ``act``."""
    h = x
    for name in ("h1", "h2"):
        kernel, bias = model.get_layer(name).get_weights()
        h = act(h @ kernel + bias)
    kernel, bias = model.get_layer("out").get_weights()
    return h @ kernel + bias


@pytest.mark.backends
def test_swap_changes_what_training_evaluation_and_prediction_compute():
    x, y = data()
    model = mlp()
    # learning rate 0: the weights stay put, so each epoch's loss shows which
    # activation the compiled train step used
    model.compile(keras.optimizers.SGD(0.0), "mse")
    swap = SpikingSwap(5, scale_firing_rates=50.0, start_epoch=1)
    history = model.fit(x, y, epochs=2, batch_size=16, verbose=0, callbacks=[swap])

    rate = forward(model, x, lambda z: np.maximum(z, 0))
    spikes = forward(model, x, lambda z: counts(z, 50.0, 5))
    assert not np.allclose(rate, spikes, atol=1e-3)
    losses = history.history["loss"]
    np.testing.assert_allclose(losses[0], np.mean((rate - y) ** 2), rtol=1e-4)
    np.testing.assert_allclose(losses[1], np.mean((spikes - y) ** 2), rtol=1e-4)
    np.testing.assert_allclose(model.predict(x, verbose=0), spikes, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(model.evaluate(x, y, verbose=0), losses[1], rtol=1e-4)


@pytest.mark.backends
def test_gradients_pass_straight_through_the_spike_count():
    x, y = data()
    model = mlp()
    model.compile(keras.optimizers.SGD(0.1), "mse")
    # so few spikes that every count of h2 is 0: only straight-through
    # gradients can still move its kernel
    swap = SpikingSwap(2, scale_firing_rates=1e-3, initial_voltage=0.0, layers=["h2"])
    before = model.get_layer("h2").get_weights()[0]
    model.fit(x, y, epochs=1, batch_size=16, verbose=0, callbacks=[swap])
    assert model.get_layer("h1").activation is keras.activations.relu
    assert np.all(model.predict(x, verbose=0) == model.get_layer("out").get_weights()[1])
    assert not np.allclose(model.get_layer("h2").get_weights()[0], before)


def test_ramp_mixes_rates_and_spikes():
    x, y = data()
    model = mlp()
    model.compile(keras.optimizers.SGD(0.0), "mse")
    swap = SpikingSwap(5, scale_firing_rates=50.0, start_epoch=1, ramp_epochs=2)
    assert [swap.mix_at(e) for e in range(4)] == [0.0, 0.5, 1.0, 1.0]
    history = model.fit(x, y, epochs=2, batch_size=16, verbose=0, callbacks=[swap])
    assert model.get_layer("h1").activation.mix == 0.5

    def half(z):
        return 0.5 * np.maximum(z, 0) + 0.5 * counts(z, 50.0, 5)

    expected = forward(model, x, half)
    np.testing.assert_allclose(history.history["loss"][1], np.mean((expected - y) ** 2), rtol=1e-4)


def test_nothing_changes_before_start_epoch():
    x, y = data()
    model = mlp()
    model.compile(keras.optimizers.SGD(0.0), "mse")
    model.fit(x, y, epochs=2, verbose=0, callbacks=[SpikingSwap(5, 50.0, start_epoch=5)])
    assert model.get_layer("h1").activation is keras.activations.relu


@pytest.mark.backends
def test_saved_model_keeps_spike_aware_activations(tmp_path):
    x, y = data()
    model = mlp()
    model.compile("adam", "mse")
    swap = SpikingSwap(
        8, scale_firing_rates={"h1": 40.0, "h2": [30.0, 40, 50, 60, 70, 80]},
        synapse=0.002, readout_synapse=0.01,
    )
    model.fit(x, y, epochs=1, verbose=0, callbacks=[swap])
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    for name in ("h1", "h2"):
        act = loaded.get_layer(name).activation
        assert isinstance(act, SpikeAware)
        assert act.get_config() == model.get_layer(name).activation.get_config()
    np.testing.assert_allclose(
        loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-5, atol=1e-6
    )
    # the loaded model trains on
    loaded.fit(x, y, epochs=1, verbose=0)


@pytest.mark.filterwarnings("ignore:.Node.size_out. is being overwritten")
def test_to_nengo_uses_the_trained_neurons_scales_and_synapses():
    x, y = data()
    model = mlp()
    model.compile("adam", "mse")
    swap = SpikingSwap(8, {"h1": 40.0, "h2": 60.0}, synapse=0.002, readout_synapse=0.01)
    model.fit(x, y, epochs=1, verbose=0, callbacks=[swap])

    result = nengo_keras.to_nengo(model)
    ens = {e.label: e for e in result.net.all_ensembles}
    for name, scale in (("h1", 40.0), ("h2", 60.0)):
        neuron_type = ens[name].neuron_type
        assert isinstance(neuron_type, nengo.SpikingRectifiedLinear)
        assert neuron_type.amplitude == pytest.approx(1 / scale)
        assert list(neuron_type.initial_state["voltage"].options) == [0.5]
    synapses = {
        c.pre_obj.ensemble.label: c.synapse
        for c in result.net.all_connections
        if isinstance(c.pre_obj, nengo.ensemble.Neurons)
    }
    assert synapses == {"h1": nengo.Lowpass(0.002), "h2": nengo.Lowpass(0.01)}

    # explicit options win
    result = nengo_keras.to_nengo(model, scale_firing_rates=7.0, synapse=0.05)
    for e in result.net.all_ensembles:
        assert e.neuron_type.amplitude == pytest.approx(1 / 7)
    assert {c.synapse for c in result.net.all_connections if isinstance(c.pre_obj, nengo.ensemble.Neurons)} == {nengo.Lowpass(0.05)}
    result = nengo_keras.to_nengo(model, swap_activations={"relu": nengo.RectifiedLinear()})
    assert all(type(e.neuron_type) is nengo.RectifiedLinear for e in result.net.all_ensembles)
    # process pools (nengo_keras.evaluate) need the network to pickle
    pickle.loads(pickle.dumps(nengo_keras.to_nengo(model).net))


@pytest.mark.parametrize("neuron_type", [nengo.SpikingRectifiedLinear(), nengo.LIF(tau_rc=0.05, tau_ref=0.001)])
def test_keras_counts_match_nengo_spikes(neuron_type):
    """The first spiking layer sees constant input: Keras predicts its spikes."""
    n_steps = 20
    inp = keras.Input((4,))
    out = L.Dense(50, name="h", activation=SpikeAware(n_steps, 60.0, neuron_type))(inp)
    model = keras.Model(inp, out)
    x = np.random.default_rng(1).uniform(-1, 3, (3, 4)).astype("float32")
    expected = model.predict(x, verbose=0)
    result = nengo_keras.to_nengo(model)
    got = result.run(x, n_steps=n_steps).mean(axis=1)  # spikes averaged over the window
    if isinstance(neuron_type, nengo.LIF):
        # continuous-time spike times vs nengo's time steps: one spike apart at most
        assert np.mean(np.isclose(got, expected, atol=1e-4)) > 0.95
        np.testing.assert_allclose(got, expected, atol=1 / (60.0 * n_steps * DT) + 1e-6)
        assert np.any(expected > 0) and np.any(expected == 0)
    else:
        np.testing.assert_allclose(got, expected, atol=1e-5)


def test_nested_models_and_readout_detection():
    inner = keras.Sequential([keras.Input((3,)), L.Dense(5, activation="relu", name="a"),
                              L.Dense(5, activation="relu", name="b")], name="inner")
    inp = keras.Input((3,))
    h = inner(inp)
    model = keras.Model(inp, L.Dense(2, name="out")(L.Activation("relu", name="act")(h)))
    x, y = data()
    model.compile("adam", "mse")
    model.fit(x, y, epochs=1, verbose=0,
              callbacks=[SpikingSwap(5, 10.0, synapse=0.001, readout_synapse=0.004)])
    synapses = {
        name: model.get_layer("inner").get_layer(name).activation.synapse for name in ("a", "b")
    }
    assert synapses == {"a": 0.001, "b": 0.001}
    assert model.get_layer("act").activation.synapse == 0.004


@pytest.mark.parametrize(
    "kwargs, error",
    [
        (dict(n_steps=0, scale_firing_rates=1.0), "n_steps"),
        (dict(n_steps=5, scale_firing_rates=-1.0), "scale_firing_rates"),
        (dict(n_steps=5, scale_firing_rates=1.0, neuron_type=nengo.Sigmoid()), "neuron types"),
        (dict(n_steps=5, scale_firing_rates=1.0, synapse=-0.1), "synapse"),
        (dict(n_steps=5, scale_firing_rates=1.0, synapse=nengo.Alpha(0.01)), "Lowpass"),
        (dict(n_steps=5, scale_firing_rates=1.0, initial_voltage=1.5), "initial_voltage"),
        (dict(n_steps=5, scale_firing_rates=1.0, start_epoch=-1), "start_epoch"),
        (dict(n_steps=5, scale_firing_rates={3: 1.0}), "layer names"),
        (dict(n_steps=5, scale_firing_rates=1.0, layers="h1"), "layer names"),
    ],
)
def test_bad_arguments(kwargs, error):
    with pytest.raises((ValueError, TypeError), match=error):
        SpikingSwap(**kwargs)


@pytest.mark.parametrize(
    "make_model, kwargs, error",
    [
        (mlp, dict(scale_firing_rates={"h1": 1.0}), r"no scale for layers \['h2'\]"),
        (mlp, dict(scale_firing_rates=1.0, layers=["nope"]), r"\['nope'\] are not layers"),
        (lambda: keras.Sequential([keras.Input((3,)), L.Dense(2, activation="tanh")]),
         dict(scale_firing_rates=1.0), "no layer with a relu"),
    ],
)
def test_model_errors_leave_the_model_untouched(make_model, kwargs, error):
    model = make_model()
    model.compile("sgd", "mse")
    x, y = data()
    with pytest.raises(ValueError, match=error):
        model.fit(x, y, epochs=1, verbose=0,
                  callbacks=[SpikingSwap(5, **kwargs)])
    assert not nengo_keras.spiking.spike_aware_layers(model)


def test_failed_calibration_leaves_the_model_untouched():
    model = mlp()
    model.compile("sgd", "mse")
    x, y = data()
    calib = nengo_keras.calibration.RateCalibration(x, max_rate=5000.0)  # LIF max: 1000 Hz
    swap = SpikingSwap(5, calib, neuron_type=nengo.LIF(tau_ref=0.001))
    with pytest.raises(ValueError, match="cannot fire at max_rate=5000"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[swap])
    assert not nengo_keras.spiking.spike_aware_layers(model)
    model.fit(x, y, epochs=1, verbose=0)  # still trains


def test_calibrated_swap_and_restore_rates():
    model = mlp()
    model.compile(keras.optimizers.SGD(0.0), "mse")
    x, y = data(n=64)
    for per_channel in (False, True):
        calib = nengo_keras.calibration.RateCalibration(
            x, percentile=100, max_rate=100.0, per_channel=per_channel
        )
        model.fit(x, y, epochs=1, verbose=0, callbacks=[SpikingSwap(5, calib)])
        table = nengo_keras.calibration.calibrate(
            model, calib, swap_activations={"relu": nengo.SpikingRectifiedLinear()}
        )
        for row in table.layers:
            act = model.get_layer(row.name).activation
            np.testing.assert_allclose(act.rate_scale, row.scale, rtol=1e-6)
        result = nengo_keras.to_nengo(model)
        for ens in result.net.all_ensembles:
            np.testing.assert_allclose(ens.gain, np.broadcast_to(table[ens.label].scale, 6))
    spiking_out = model.predict(x, verbose=0)
    assert nengo_keras.spiking.restore_rates(model) == 2
    assert model.get_layer("h1").activation is keras.activations.relu
    # the compiled predict function sees the change (same batch shape as before)
    rate_out = model.predict(x, verbose=0)
    assert not np.allclose(rate_out, spiking_out)
    np.testing.assert_allclose(rate_out, model(x), rtol=1e-5, atol=1e-6)
