"""Temporal models: spiking layers, synapses and TimeDistributed, step by step."""

import keras
import nengo
import numpy as np
import pytest

import nengo_keras
from nengo_keras.spiking.layers import Alpha, Lowpass, SpikingActivation
from tests.helpers import assert_close, check_conversion, tiers

L = keras.layers
# float64 Keras models (where the backend has them) match Nengo to rounding
F64 = None if keras.backend.backend() == "jax" else "float64"


def compare_sequences(model, x, rtol=1e-6, atol=1e-6, **options):
    """Convert, run the same time-varying input in nengo.Simulator, compare
    every step of every output with Keras."""
    result = nengo_keras.to_nengo(model, **options)
    assert result.temporal
    expected = model.predict(x, verbose=0)
    got = result.predict(x)
    assert_close(got, expected, rtol=rtol, atol=atol, what="output sequence")
    return result, got


def spiking_mlp(synapse, steps=None, dtype=F64, **spiking):
    inp = keras.Input((steps, 5))
    x = L.Dense(8, bias_initializer="normal", dtype=dtype, name="hidden")(inp)
    x = SpikingActivation("relu", dtype=dtype, name="spikes", **spiking)(x)
    x = synapse(x)
    out = L.Dense(3, dtype=dtype, name="readout")(x)
    return keras.Model(inp, out)


@pytest.mark.backends
@pytest.mark.parametrize("synapse", [Lowpass, Alpha])
@pytest.mark.parametrize("initial_voltage", [0.0, 0.5, "uniform"])
def test_spiking_mlp_matches_keras_step_by_step(synapse, initial_voltage, rng):
    model = spiking_mlp(
        synapse(0.01, dtype=F64), initial_voltage=initial_voltage, seed=1
    )
    x = rng.uniform(0, 100, size=(2, 60, 5))
    result, got = compare_sequences(model, x)
    assert got.shape == (2, 60, 3)
    assert set(tiers(result).values()) == {"neural"}
    (ens,) = result.net.all_ensembles
    assert type(ens.neuron_type) is nengo.SpikingRectifiedLinear
    (conn,) = [c for c in result.net.all_connections if c.synapse is not None]
    assert type(conn.synapse) is getattr(nengo, synapse.__name__)
    assert conn.synapse.tau == pytest.approx(0.01)
    # the spikes really are there: the raw spiking layer output matches too
    spikes = result.run(x, probes=[result.probe("spikes")]).reshape(2, 60, 8)
    sub = keras.Model(model.input, model.get_layer("spikes").output)
    keras_spikes = sub.predict(x, verbose=0)
    np.testing.assert_allclose(spikes, keras_spikes, atol=1e-6)
    assert 0 < np.count_nonzero(keras_spikes) < keras_spikes.size


@pytest.mark.backends
def test_float32_model_matches_within_float_tolerance(rng):
    model = spiking_mlp(Lowpass(0.005), steps=40, dtype=None)
    x = rng.uniform(0, 100, size=(3, 40, 5)).astype("float32")
    compare_sequences(model, x, rtol=1e-4, atol=1e-4)
    assert model.get_layer("spikes").compute_dtype == "float32"


@pytest.mark.parametrize(
    "activation, neuron_type",
    [("sigmoid", nengo.Sigmoid), ("tanh", nengo.Tanh)],
)
def test_other_activations_spike_regularly(activation, neuron_type, rng):
    inp = keras.Input((50, 4))
    h = L.Dense(6, bias_initializer="normal", dtype=F64)(inp)
    h = SpikingActivation(activation, dt=0.05, dtype=F64)(h)  # rates up to 1 Hz
    model = keras.Model(inp, Lowpass(0.1, dt=0.05, dtype=F64)(h))
    x = rng.uniform(-2, 2, size=(2, 50, 4))
    result, _ = compare_sequences(model, x)
    (ens,) = result.net.all_ensembles
    assert isinstance(ens.neuron_type, nengo.RegularSpiking)
    assert type(ens.neuron_type.base_type) is neuron_type
    assert result.dt == 0.05


def test_activation_without_neuron_type_spikes_in_a_node(rng):
    inp = keras.Input((30, 4))
    h = SpikingActivation("relu6", dtype=F64, name="spikes")(L.Dense(5, dtype=F64)(inp))
    model = keras.Model(inp, Lowpass(0.005, dtype=F64)(h))
    x = rng.uniform(0, 400, size=(2, 30, 4))
    result, _ = compare_sequences(model, x)
    assert tiers(result)["spikes"] == "node"  # relu6 is exact with rectifiers; spikes in a Node


def test_swapped_spiking_type_is_used_as_given(rng):
    model = spiking_mlp(Lowpass(0.01), steps=10)
    lif = nengo.LIF()
    result = nengo_keras.to_nengo(model, swap_activations={nengo.RectifiedLinear(): lif})
    (ens,) = result.net.all_ensembles
    assert ens.neuron_type is lif


def test_return_sequences_false_then_dense(rng):
    inp = keras.Input((None, 4))
    h = SpikingActivation("relu", dtype=F64)(L.Dense(6, dtype=F64)(inp))
    h = Alpha(0.01, return_sequences=False, dtype=F64)(h)
    out = L.Dense(2, activation="relu", dtype=F64, name="out")(L.Dense(3, dtype=F64)(h))
    model = keras.Model(inp, out)
    x = rng.uniform(0, 200, size=(2, 40, 4))
    result, got = compare_sequences(model, x)
    assert got.shape == (2, 2)
    # the untimed output at every step is Keras' output for the sequence so far
    every = result.run(x)
    assert_close(every[:, 20], model.predict(x[:, :21], verbose=0), rtol=1e-5, atol=1e-6)


@pytest.mark.backends
def test_time_distributed_conv2d_in_temporal_model(rng):
    inp = keras.Input((12, 8, 8, 2))
    x = L.TimeDistributed(L.Conv2D(4, 3, dtype=F64), dtype=F64, name="conv")(inp)
    x = SpikingActivation("relu", dtype=F64, name="spikes")(x)
    x = L.TimeDistributed(L.MaxPooling2D(2, dtype=F64), dtype=F64, name="pool")(x)
    x = L.TimeDistributed(L.Flatten(dtype=F64), dtype=F64, name="flat")(x)
    x = Lowpass(0.003, dtype=F64)(x)
    out = L.Dense(3, dtype=F64, name="readout")(x)
    model = keras.Model(inp, out)
    data = rng.uniform(0, 100, size=(2, 12, 8, 8, 2))
    result, _ = compare_sequences(model, data)
    assert result.report[0].tier == "neural"
    assert result.shape_of("conv") == (6, 6, 4)  # one time step, no time axis
    assert any(isinstance(c.transform, nengo.Convolution) for c in result.net.all_connections)


def test_time_distributed_outside_temporal_models_copies_per_slice():
    inp = keras.Input((3, 6, 6, 2))
    x = L.TimeDistributed(L.Conv2D(2, 3, activation="relu"))(inp)
    out = L.TimeDistributed(L.Dense(4))(L.TimeDistributed(L.Flatten())(x))
    result = check_conversion(keras.Model(inp, out), temporal=False)
    assert not result.temporal
    assert result.n_neurons == 3 * 4 * 4 * 2


@pytest.mark.backends
def test_explicit_temporal_model_without_spiking_layers(rng):
    inp = keras.Input((7, 3))
    h = L.Dense(4, activation="tanh")(inp)
    h = L.Add()([h, L.Dense(4)(inp)]) * 2.0 + 1.0
    h = L.Concatenate()([h, inp])
    out = L.TimeDistributed(L.Dense(2))(L.Activation("relu")(h))
    model = keras.Model(inp, out)
    result = nengo_keras.to_nengo(model, temporal=True)
    assert result.temporal and result.shape_of(model.input) == (3,)
    assert result.verify()  # whole sequences, no spikes: exact
    x = rng.uniform(-1, 1, size=(2, 7, 3))
    assert_close(result.predict(x), model.predict(x, verbose=0))
    # auto-detection: without spiking layers the model is not temporal
    assert not nengo_keras.to_nengo(model).temporal


def test_nested_model_in_temporal_model(rng):
    inner_in = keras.Input((None, 6))
    inner = keras.Model(inner_in, SpikingActivation("relu", dtype=F64)(inner_in), name="inner")
    inp = keras.Input((None, 4))
    out = Lowpass(0.005, dtype=F64)(inner(L.Dense(6, dtype=F64)(inp)))
    model = keras.Model(inp, out)
    x = rng.uniform(0, 300, size=(2, 25, 4))
    result, _ = compare_sequences(model, x)
    assert [r.path for r in result.report if r.type == "SpikingActivation"] == ["inner"]


@pytest.mark.parametrize(
    "make, what",
    [
        (lambda x: L.SimpleRNN(4, return_sequences=True)(x), "SimpleRNN is recurrent"),
        (lambda x: L.LSTM(4)(x), "LSTM is recurrent"),
        (lambda x: L.Bidirectional(L.GRU(2))(x), "Bidirectional is recurrent"),
        (lambda x: L.Dense(2)(L.Flatten()(x)), "flattens the time axis"),
        (lambda x: L.Conv1D(3, 3)(x), "may mix time steps"),
        (lambda x: L.Concatenate(axis=1)([x, x]), "is the time axis"),
        (lambda x: L.PReLU()(x), "differ from time step to time step"),
        (lambda x: x + np.ones((10, 5)), "varies along the time axis"),
        (lambda x: L.Add()([x, L.Lambda(lambda y: y[:, -1:])(x)]), "may mix time steps"),
    ],
)
def test_layers_that_mix_time_steps_are_reported(make, what):
    inp = keras.Input((10, 5))
    h = SpikingActivation("relu")(inp)
    model = keras.Model(inp, make(h))
    with pytest.raises(nengo_keras.ConversionError, match=what) as info:
        nengo_keras.to_nengo(model)
    assert len(info.value.problems) == 1  # layers after it are not reported again


def test_temporal_false_with_spiking_layers_is_an_error():
    model = spiking_mlp(Lowpass(0.01), steps=5)
    with pytest.raises(nengo_keras.ConversionError, match="temporal=False") as info:
        nengo_keras.to_nengo(model, temporal=False)
    assert len(info.value.problems) == 2


def test_inconsistent_dt_is_an_error():
    inp = keras.Input((5, 2))
    h = SpikingActivation("relu", dt=0.001)(inp)
    model = keras.Model(inp, Lowpass(0.01, dt=0.002)(h))
    with pytest.raises(nengo_keras.ConversionError, match="same dt"):
        nengo_keras.to_nengo(model)


def test_run_defaults_to_the_layers_dt_and_warns_otherwise(rng):
    inp = keras.Input((20, 2))
    model = keras.Model(inp, Lowpass(0.01, dt=0.002, dtype=F64)(SpikingActivation("relu", dt=0.002, dtype=F64)(inp)))
    result = nengo_keras.to_nengo(model)
    assert result.dt == 0.002
    x = rng.uniform(0, 300, size=(1, 20, 2))
    assert_close(result.run(x), model.predict(x, verbose=0), atol=1e-6)
    with pytest.warns(UserWarning, match="dt=0.002"):
        result.run(x, dt=0.001)


def test_verify_refuses_options_that_change_a_temporal_network():
    model = spiking_mlp(Lowpass(0.01), steps=5)
    result = nengo_keras.to_nengo(model, synapse=0.005)
    with pytest.raises(ValueError, match="synapse"):
        result.verify()
    assert nengo_keras.to_nengo(model).verify()


def test_inputs_without_time_axis_are_reported():
    a = keras.Input((5, 3))
    b = keras.Input(())
    h = SpikingActivation("relu")(a)
    model = keras.Model([a, b], [h, b * 2.0])
    with pytest.raises(nengo_keras.ConversionError, match=r"\(batch, time, \.\.\.\)"):
        nengo_keras.to_nengo(model)


def test_scale_firing_rates_makes_spiking_layers_fire_faster(rng):
    model = spiking_mlp(Lowpass(0.02, dtype=F64), steps=200)
    x = np.repeat(rng.uniform(0, 20, size=(2, 1, 5)), 200, axis=1)
    plain = nengo_keras.to_nengo(model)
    fast = nengo_keras.to_nengo(model, scale_firing_rates=10)
    (ens,) = fast.net.all_ensembles
    assert ens.neuron_type.amplitude == pytest.approx(0.1)
    assert np.all(ens.neuron_type.initial_state["voltage"] == 0.5)
    # rates in Keras terms: the spiking layer's output averaged over time
    rates = keras.Model(model.input, model.get_layer("hidden").output).predict(x, verbose=0)
    ideal = np.maximum(rates, 0).mean(axis=1)
    spikes = [r.run(x, probes=[r.probe("spikes")]).mean(axis=1) for r in (plain, fast)]
    errors = [np.abs(s - ideal).mean() for s in spikes]
    assert errors[1] < 0.5 * errors[0]


def test_nengo_dl_converter_temporal_model_option(rng):
    inp = keras.Input((6, 3))
    model = keras.Model(inp, L.Dense(2)(inp))
    assert nengo_keras.Converter(model, temporal_model=True).result.temporal
    assert not nengo_keras.Converter(model).result.temporal
    spiking = spiking_mlp(Lowpass(0.01), steps=6)
    assert nengo_keras.Converter(spiking).result.temporal  # auto-detected


class ScaleShift(keras.layers.Layer):
    """A custom layer with no converter: converted by tracing its call."""

    def call(self, x):
        return keras.ops.relu(x * 2.0 - 1.0)


class RunningSum(keras.layers.Layer):
    """A custom layer that mixes time steps."""

    def call(self, x):
        return keras.ops.cumsum(x, axis=1)


def test_traced_custom_layer_converts_per_step(rng):
    inp = keras.Input((None, 4))
    h = ScaleShift(dtype=F64, name="custom")(L.Dense(5, dtype=F64)(inp))
    out = Lowpass(0.005, dtype=F64)(SpikingActivation("relu", dtype=F64)(h * 100.0))
    model = keras.Model(inp, out)
    x = rng.uniform(0, 1, size=(2, 30, 4))
    result, _ = compare_sequences(model, x)
    (custom,) = [r for r in result.report if r.name == "custom"]
    assert custom.tier == "neural" and custom.n_neurons == 5


@pytest.mark.parametrize("allow_fallback", [True, False])
def test_custom_layer_mixing_time_steps_never_falls_back(allow_fallback):
    inp = keras.Input((10, 3))
    model = keras.Model(inp, RunningSum()(SpikingActivation("relu")(inp)))
    with pytest.raises(nengo_keras.ConversionError, match="one time step at a time|may mix"):
        nengo_keras.to_nengo(model, allow_fallback=allow_fallback)


@pytest.mark.parametrize(
    "layer",
    [
        L.Rescaling(2.0, offset=-1.0),
        L.LayerNormalization(),
        L.Softmax(),
        L.ELU(),
        L.PReLU(alpha_initializer="uniform", shared_axes=[1]),
    ],
)
def test_per_step_layers_in_temporal_models(layer, rng):
    inp = keras.Input((8, 5))
    h = L.Dense(5, bias_initializer="normal")(inp)
    model = keras.Model(inp, layer(h))
    result = nengo_keras.to_nengo(model, temporal=True)
    x = rng.uniform(-1, 1, size=(2, 8, 5)).astype("float32")
    assert_close(result.predict(x), model.predict(x, verbose=0), rtol=1e-4, atol=1e-5)
