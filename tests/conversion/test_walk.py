"""The model-level conversion: graph walk, options, errors, the result object."""

import copy
import warnings

import keras
import nengo
import numpy as np
import pytest

import nengo_keras
from tests.helpers import assert_close, check_conversion, random_inputs, tiers

L = keras.layers


def seed_model():
    inp = keras.Input(shape=(28, 28, 3))
    conv = L.Conv2D(filters=32, kernel_size=3, activation="relu")(inp)
    flat = L.Flatten()(conv)
    dense = L.Dense(units=10, activation="relu")(flat)
    return keras.Model(inputs=inp, outputs=dense)


@pytest.mark.backends
def test_seed_model_runs_in_reference_simulator():
    model = seed_model()
    result = nengo_keras.to_nengo(model)
    x = random_inputs(model, batch=1, low=0, high=1)[0]
    result.inputs[model.input].output.set(x[0].ravel(), 0.001)
    with nengo.Simulator(result.net, progress_bar=False) as sim:
        sim.step()
    got = sim.data[result.outputs[model.output]][-1]
    assert_close(got, model.predict(x, verbose=0)[0])
    assert {r.tier for r in result.report} == {"neural"}
    # no pass-through nodes: only the input node exists
    assert len(result.net.all_nodes) == 1


@pytest.mark.backends
def test_multiple_inputs_outputs_and_mid_model_output():
    a = keras.Input((5,), name="a")
    b = keras.Input((3,), name="b")
    ha = L.Dense(4, activation="tanh", name="ha")(a)
    hb = L.Dense(4, activation="sigmoid", name="hb")(b)
    s = L.Add(name="sum")([ha, hb])
    out = L.Dense(2, name="out")(s)
    model = keras.Model([a, b], [out, ha])
    result = check_conversion(model)
    assert set(result.outputs) == set(model.outputs)
    assert isinstance(result.outputs["ha"], nengo.Probe)
    assert isinstance(result.inputs["b"], nengo.Node)


def test_shared_layer_needs_split_shared_weights():
    inp = keras.Input((4,))
    dense = L.Dense(4, activation="relu", name="shared")
    out = dense(dense(inp))
    model = keras.Model(inp, out)
    with pytest.raises(nengo_keras.ConversionError, match="split_shared_weights"):
        nengo_keras.to_nengo(model)
    result = check_conversion(model, split_shared_weights=True)
    assert [r.name for r in result.report] == ["shared", "shared[1]"]


def test_bare_keras_ops_convert_natively():
    a = keras.Input((4,))
    b = keras.Input((4,))
    x = L.Dense(4)(a) + 1
    y = keras.ops.add(x, b)
    z = keras.ops.multiply(y, 2.0) - keras.ops.reshape(keras.ops.flip(keras.ops.reshape(b, (-1, 2, 2)), axis=1), (-1, 4))
    model = keras.Model([a, b], z)
    result = check_conversion(model)
    assert all(t == "neural" for t in tiers(result).values())


@pytest.mark.parametrize(
    "activation",
    ["relu", "sigmoid", "tanh", "linear", None, keras.activations.relu, keras.ops.relu],
)
def test_activation_spellings(activation):
    inp = keras.Input((6,))
    model = keras.Model(inp, L.Dense(5, activation=activation)(inp))
    result = check_conversion(model)
    assert tiers(result) == {"dense": "neural"}


def test_tensorflow_activation_functions():
    tf = pytest.importorskip("tensorflow")
    if keras.backend.backend() != "tensorflow":
        pytest.skip("tf.nn functions run only on the TensorFlow backend")
    inp = keras.Input((6,))
    x = L.Dense(5, activation=tf.nn.relu)(inp)
    x = L.Dense(5, activation=tf.nn.sigmoid)(x)
    out = L.Dense(5, activation=tf.nn.tanh)(x)
    result = check_conversion(keras.Model(inp, out))
    types = {type(e.neuron_type) for e in result.net.all_ensembles}
    assert types == {nengo.RectifiedLinear, nengo.Sigmoid, nengo.Tanh}


def _dense_model(activation="relu"):
    inp = keras.Input((8,))
    x = L.Dense(16, activation=activation, name="hidden")(inp)
    return keras.Model(inp, L.Dense(3, name="out")(x))


@pytest.mark.parametrize(
    "key", ["relu", keras.activations.relu, keras.ops.relu, nengo.RectifiedLinear()]
)
def test_swap_activations_keys(key):
    result = nengo_keras.to_nengo(
        _dense_model(), swap_activations={key: nengo.SpikingRectifiedLinear()}
    )
    (ens,) = result.net.all_ensembles
    assert isinstance(ens.neuron_type, nengo.SpikingRectifiedLinear)


def test_swap_activations_warns_on_unused_keys():
    with pytest.warns(UserWarning, match="matched no activation"):
        nengo_keras.to_nengo(_dense_model(), swap_activations={"tanh": nengo.LIF()})


def test_swap_activations_rejects_unknown_keys():
    with pytest.raises(ValueError, match="not a known activation"):
        nengo_keras.to_nengo(_dense_model(), swap_activations={"nope": nengo.LIF()})


def test_spiking_conversion_approaches_rate_output():
    model = _dense_model()
    x = random_inputs(model, batch=2, low=0, high=1)[0]
    result = nengo_keras.to_nengo(
        model,
        swap_activations={"relu": nengo.SpikingRectifiedLinear()},
        scale_firing_rates=200,
        synapse=0.01,
    )
    out = result.run(x, n_steps=300)
    expected = model.predict(x, verbose=0)
    assert_close(out[:, -50:].mean(axis=1), expected, rtol=0.1, atol=0.02)
    with pytest.raises(ValueError, match="spiking"):
        result.verify()


class Unknown(L.Layer):
    """A layer made of an operation with no Nengo equivalent (a running product)."""

    def call(self, x):
        return keras.ops.cumprod(x, axis=-1) * 2


def test_no_fallback_lists_every_unconvertible_layer():
    inp = keras.Input((4,))
    x = Unknown(name="first")(inp)
    x = L.Dense(3)(x)
    out = Unknown(name="second")(x)
    model = keras.Model(inp, out)
    with pytest.raises(nengo_keras.ConversionError) as info:
        nengo_keras.to_nengo(model, allow_fallback=False)
    assert isinstance(info.value, TypeError)
    names = [layer.name for layer, _, _ in info.value.problems]
    assert names == ["first", "second"]
    message = str(info.value)
    assert "'first' (Unknown)" in message and "register_converter" in message


def test_fallback_hint_only_when_fallback_is_a_choice():
    inp = keras.Input((4,))
    model = keras.Model(inp, Unknown(name="unknown")(inp))
    with pytest.raises(nengo_keras.ConversionError, match="allow_fallback=True"):
        nengo_keras.to_nengo(model, allow_fallback=False)
    with pytest.raises(nengo_keras.ConversionError) as info:
        nengo_keras.to_nengo(model, tiers=("neural", "node"))
    assert "allow_fallback" not in str(info.value)


def test_tiers_option_rejects_node_tier_layers():
    inp = keras.Input((4,))
    out = L.Multiply(name="product")([L.Dense(4)(inp), inp])
    model = keras.Model(inp, out)
    check_conversion(model)
    with pytest.raises(nengo_keras.ConversionError, match="'product'"):
        nengo_keras.to_nengo(model, tiers=("neural",))


def test_model_is_not_modified():
    model = _dense_model()
    config = copy.deepcopy(model.get_config())
    weights = [w.copy() for w in model.get_weights()]
    calls = [len(layer._inbound_nodes) for layer in model.layers]
    nengo_keras.to_nengo(model).verify()
    assert model.get_config() == config
    for before, after in zip(weights, model.get_weights()):
        np.testing.assert_array_equal(before, after)
    assert calls == [len(layer._inbound_nodes) for layer in model.layers]


def test_loaded_model_converts(tmp_path):
    model = seed_model()
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    x = random_inputs(model, batch=1)[0]
    result = check_conversion(loaded, x)
    assert_close(result.predict(x), model.predict(x, verbose=0))


def test_unknown_input_shape_is_a_clear_error():
    inp = keras.Input((None, 3))
    model = keras.Model(inp, L.Dense(2)(inp))
    with pytest.raises(nengo_keras.ConversionError, match="keras.Input"):
        nengo_keras.to_nengo(model)


class Sub(keras.Model):
    def __init__(self):
        super().__init__()
        self.d = L.Dense(5, activation="relu")
        self.e = L.Dense(3)

    def call(self, x):
        return self.e(keras.ops.relu(self.d(x)) + 1.0)


def test_subclassed_model_converts_by_tracing():
    model = Sub()
    model(np.zeros((1, 4)))
    inbound = [len(x._inbound_nodes) for x in (model, model.d, model.e)]
    result = nengo_keras.to_nengo(model)
    x = np.random.default_rng(0).uniform(size=(3, 4))
    assert_close(result.predict(x), model.predict(x, verbose=0))
    assert inbound == [len(x._inbound_nodes) for x in (model, model.d, model.e)]


class TwoInputs(keras.Model):
    """A subclassed model taking a list, or a dict, of two inputs."""

    def __init__(self, keyed):
        super().__init__()
        self.keyed = keyed
        self.a = L.Dense(4, activation="relu")
        self.b = L.Dense(4)
        self.out = L.Dense(2)

    def call(self, inputs):
        x, y = (inputs["x"], inputs["y"]) if self.keyed else inputs
        return self.out(self.a(x) + self.b(y))


@pytest.mark.parametrize("keyed", [False, True])
def test_subclassed_model_with_several_inputs(keyed):
    model = TwoInputs(keyed)
    rng = np.random.default_rng(0)
    x, y = rng.uniform(size=(3, 3)), rng.uniform(size=(3, 5))
    data = {"x": x, "y": y} if keyed else [x, y]
    model(data)  # built on data: its input structure is known
    result = nengo_keras.to_nengo(model, allow_fallback=False)
    assert len(result.inputs) == 2
    assert result.verify()  # calls Keras with the model's own input structure
    got = result.predict({"x": x, "y": y} if keyed else [x, y])
    assert_close(got, model.predict(data, verbose=0))


def test_unbuilt_subclassed_model_is_a_clear_error():
    with pytest.raises(nengo_keras.ConversionError, match="subclassed"):
        nengo_keras.to_nengo(Sub())


def test_model_and_sequential_classes(tmp_path):
    inp = keras.Input((4,))
    model = nengo_keras.Model(inp, L.Dense(3, activation="relu")(inp))
    assert model.to_nengo().verify()
    seq = nengo_keras.Sequential([keras.Input((4,)), L.Dense(3, activation="tanh")])
    assert seq.to_nengo().verify()
    path = tmp_path / "seq.keras"
    seq.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, nengo_keras.Sequential)
    assert loaded.to_nengo().verify()


def test_unbuilt_sequential_is_a_clear_error():
    with pytest.raises(nengo_keras.ConversionError, match="input shape"):
        nengo_keras.to_nengo(keras.Sequential([L.Dense(2)]))


def test_network_pickles():
    import pickle

    result = nengo_keras.to_nengo(_dense_model())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = pickle.loads(pickle.dumps(result.net))
    assert len(net.all_ensembles) == 1
