"""Data-driven scale_firing_rates: the scales and rates it claims are the real ones."""

import keras
import nengo
import numpy as np
import pytest

import nengo_keras
from nengo_keras.spiking.calibration import RateCalibration, calibrate

L = keras.layers
DT = 0.001
SPIKING = {"relu": nengo.SpikingRectifiedLinear()}


def model_and_data(n=200, seed=0):
    rng = np.random.default_rng(seed)
    inp = keras.Input((6,))
    h1 = L.Dense(12, activation="relu", name="h1")(inp)
    h2 = L.Conv1D(4, 2, activation="relu", name="h2")(L.Reshape((6, 2))(h1))
    model = keras.Model(inp, L.Dense(3, name="out")(L.Flatten()(h2)))
    return model, rng.uniform(0, 1, (n, 6)).astype("float32")


def activations(model, x, name):
    return keras.Model(model.inputs, model.get_layer(name).output).predict(x, verbose=0)


def positive_percentile(a, q, axis=None):
    a = np.where(a > 0, a, np.nan)
    return np.nanpercentile(a, q, axis=axis)


def spike_rates(result, x, layer, n_steps):
    """Measured firing rates (Hz) of a layer's neurons, per sample."""
    ens = next(e for e in result.net.all_ensembles if e.label == layer)
    with result.net:
        probe = nengo.Probe(ens.neurons)
    spikes = result.run(x, n_steps=n_steps, probes=[probe])
    amplitude = getattr(ens.neuron_type, "amplitude", 1.0)
    return spikes.sum(axis=1) * DT / amplitude / (n_steps * DT)


@pytest.mark.backends
def test_percentile_maps_to_max_rate():
    model, x = model_and_data()
    calib = RateCalibration(x, percentile=99.0, max_rate=150.0)
    result = nengo_keras.to_nengo(model, swap_activations=SPIKING, scale_firing_rates=calib)
    for name in ("h1", "h2"):
        level = positive_percentile(activations(model, x, name), 99.0)
        row = result.firing_rates[name]
        assert row.current == pytest.approx(level, rel=1e-4)
        assert row.scale == pytest.approx(150.0 / level, rel=1e-4)
    # measured: the 99th percentile of the first layer's rates is max_rate
    # (to the resolution of 400 steps, 2.5 Hz)
    rates = spike_rates(result, x[:50], "h1", 400)
    level = positive_percentile(activations(model, x[:50], "h1"), 99.0)
    scale = result.firing_rates["h1"].scale
    assert positive_percentile(rates, 99.0) == pytest.approx(level * scale, abs=2.5)
    assert level * scale == pytest.approx(150.0, rel=0.1)  # 50 of the 200 samples


def test_expected_rates_match_simulation():
    model, x = model_and_data(n=60)
    result = nengo_keras.to_nengo(
        model, swap_activations=SPIKING, scale_firing_rates=RateCalibration(x, max_rate=100.0)
    )
    table = result.firing_rates
    rates = spike_rates(result, x, "h1", 200)
    row = table["h1"]
    assert rates.mean() == pytest.approx(row.mean_rate, abs=2.0)
    # neurons firing below one spike per window may not spike at all
    assert row.active - 0.1 <= np.mean(rates > 0) <= row.active
    assert rates.max() <= row.peak_rate + 5.0
    assert "expected mean rate" in str(table)
    assert table.mean_rate == pytest.approx(
        sum(r.mean_rate * r.n_neurons for r in table.layers) / sum(r.n_neurons for r in table.layers)
    )


@pytest.mark.filterwarnings("ignore:All-NaN slice")
def test_per_channel_scales():
    model, x = model_and_data()
    calib = RateCalibration(x, percentile=99.0, max_rate=120.0, per_channel=True)
    table = calibrate(model, calib, swap_activations=SPIKING)
    a = activations(model, x, "h2")  # (batch, 5, 4): 4 channels
    levels = positive_percentile(a.reshape(-1, 4), 99.0, axis=0)
    # a channel that is never active gets the layer's scale
    levels = np.where(np.isnan(levels), positive_percentile(a, 99.0), levels)
    scale = np.asarray(table["h2"].scale).reshape(5, 4)
    np.testing.assert_allclose(scale, np.broadcast_to(120.0 / levels, (5, 4)), rtol=1e-4)
    np.testing.assert_allclose(np.ravel(table["h2"].keras_scale), 120.0 / levels, rtol=1e-4)
    # the converted neurons use them, and the network computes the same in rate mode
    with pytest.warns(UserWarning, match="no spiking neurons"):
        result = nengo_keras.to_nengo(model, scale_firing_rates=calib)
    assert result.firing_rates.layers == []
    result = nengo_keras.to_nengo(model, scale_firing_rates=table.scales)
    result.verify(x[:2])
    ens = next(e for e in result.net.all_ensembles if e.label == "h2")
    np.testing.assert_allclose(ens.gain, np.ravel(table["h2"].scale))


@pytest.mark.filterwarnings("ignore::RuntimeWarning", "ignore:Non-finite values")
def test_lif_scales_reach_max_rate():
    model, x = model_and_data()
    lif = nengo.LIF(tau_rc=0.02, tau_ref=0.002)
    calib = RateCalibration(x, percentile=99.9, max_rate=200.0)
    table = calibrate(model, calib, swap_activations={"relu": lif})
    # the rate network as converted, with the calibrated scales
    rate = nengo.LIFRate(tau_rc=0.02, tau_ref=0.002)
    result = nengo_keras.to_nengo(
        model, swap_activations={"relu": rate}, scale_firing_rates=table.scales
    )
    for name in ("h1", "h2"):
        ens = next(e for e in result.net.all_ensembles if e.label == name)
        with result.net:
            probe = nengo.Probe(ens.neurons, "input")
        current = result.run(x, n_steps=1, probes=[probe])[:, -1]
        level = np.percentile(current[current > 0], 99.9)
        hz = rate.rates(np.array([[level]]), 1.0, 0.0) / rate.amplitude
        assert float(hz.squeeze()) == pytest.approx(200.0, rel=1e-3)


def test_array_means_default_calibration():
    model, x = model_and_data(n=50)
    a = nengo_keras.to_nengo(model, swap_activations=SPIKING, scale_firing_rates=x)
    b = nengo_keras.to_nengo(model, swap_activations=SPIKING, scale_firing_rates=RateCalibration(x))
    assert [r.scale for r in a.firing_rates.layers] == [r.scale for r in b.firing_rates.layers]
    assert a.firing_rates.calibration.percentile == 99.9
    assert nengo_keras.to_nengo(model, scale_firing_rates=3.0).firing_rates is None


def test_calibrated_scales_override_spike_aware_ones():
    inp = keras.Input((6,))
    act = nengo_keras.spiking.SpikeAware(10, rate_scale=5.0)
    model = keras.Model(inp, L.Dense(3, activation=act, name="h")(inp))
    x = np.random.default_rng(0).uniform(size=(30, 6)).astype("float32")
    result = nengo_keras.to_nengo(model, scale_firing_rates=RateCalibration(x, max_rate=80.0))
    ens = result.net.all_ensembles[0]
    assert isinstance(ens.neuron_type, nengo.SpikingRectifiedLinear)
    assert ens.neuron_type.amplitude == pytest.approx(1 / result.firing_rates["h"].scale)
    assert result.firing_rates["h"].scale != 5.0


@pytest.mark.parametrize(
    "kwargs, error",
    [
        (dict(percentile=0), "percentile"),
        (dict(percentile=101), "percentile"),
        (dict(max_rate=0), "max_rate"),
        (dict(max_rate=float("inf")), "max_rate"),
        (dict(per_channel="yes"), "per_channel"),
    ],
)
def test_bad_arguments(kwargs, error):
    with pytest.raises((ValueError, TypeError), match=error):
        RateCalibration(np.zeros((2, 3)), **kwargs)


def test_errors_and_warnings():
    model, x = model_and_data(n=20)
    with pytest.raises(ValueError, match="cannot fire at max_rate=900"):
        calibrate(model, RateCalibration(x, max_rate=900.0),
                  swap_activations={"relu": nengo.LIF(tau_ref=0.002)})
    with pytest.raises(TypeError, match="RateCalibration or an array"):
        calibrate(model, 3.0)
    with pytest.raises(ValueError, match="scale_firing_rates"):
        nengo_keras.to_nengo(model, scale_firing_rates={"h1": -2.0})
    with pytest.warns(UserWarning, match="no spiking neurons"):
        table = calibrate(model, x)
    assert table.layers == []
    with pytest.warns(UserWarning, match="never has positive input"):
        calibrate(model, np.zeros((5, 6)), swap_activations=SPIKING)
