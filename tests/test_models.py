"""``model.to_nengo()`` on every Keras model once nengo_keras is imported."""

import keras
import numpy as np
import pytest

import nengo_keras
from nengo_keras.models import add_to_nengo, model_to_nengo
from tests.helpers import assert_close, random_inputs


def _compare(model, result, batch=2):
    x = random_inputs(model, batch)
    assert_close(result.predict(x), model.predict(x, verbose=0))


def _dense_layers():
    return [keras.layers.Dense(5, activation="relu"), keras.layers.Dense(3)]


def test_plain_sequential():
    model = keras.Sequential([keras.Input((4,))] + _dense_layers())
    assert not isinstance(model, nengo_keras.Sequential)
    _compare(model, model.to_nengo())


def test_plain_functional():
    inp = keras.Input((4,))
    h = keras.layers.Dense(5, activation="relu")(inp)
    out = keras.layers.Add()([keras.layers.Dense(3)(h), keras.layers.Dense(3)(h)])
    model = keras.Model(inp, out)
    result = model.to_nengo(allow_fallback=False)
    _compare(model, result)
    assert isinstance(result, nengo_keras.ConvertedModel)


def test_options_reach_to_nengo():
    model = keras.Sequential([keras.Input((4,))] + _dense_layers())
    with pytest.raises(ValueError, match="tiers"):
        model.to_nengo(tiers=("nope",))


def test_loaded_model(tmp_path):
    model = keras.Sequential([keras.Input((4,))] + _dense_layers())
    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    _compare(model, loaded.to_nengo())


def test_mobilenet_v2():
    model = keras.applications.MobileNetV2(
        input_shape=(32, 32, 3), alpha=0.35, weights=None, classes=4
    )
    result = model.to_nengo(allow_fallback=False)
    x = np.random.default_rng(0).uniform(-1, 1, (1, 32, 32, 3)).astype("float32")
    expected = model.predict(x, verbose=0)
    assert_close(result.predict(x), expected, rtol=1e-3, atol=1e-4)


def test_nengo_keras_model_classes_keep_working():
    model = nengo_keras.Sequential([keras.Input((4,))] + _dense_layers())
    _compare(model, model.to_nengo())


def test_a_class_s_own_to_nengo_is_kept():
    class OwnMethod(keras.Model):
        def to_nengo(self):
            return "mine"

    assert not add_to_nengo(OwnMethod)
    assert "to_nengo" in vars(OwnMethod) and OwnMethod.to_nengo is not model_to_nengo
    inp = keras.Input((2,))
    assert OwnMethod(inp, keras.layers.Dense(1)(inp)).to_nengo() == "mine"


def test_only_the_method_is_added():
    assert keras.Model.to_nengo is model_to_nengo
    assert not add_to_nengo(keras.Model)  # already there: adding again changes nothing
    assert keras.Sequential.to_nengo is model_to_nengo


def test_nested_model_is_not_taken_for_a_layer_converter():
    # keras.Model.to_nengo(**options) converts whole models; a nested model
    # still converts as a sub-network, not through that method
    inner = keras.Sequential([keras.Input((4,))] + _dense_layers(), name="inner")
    inp = keras.Input((4,))
    model = keras.Model(inp, keras.layers.ReLU()(inner(inp)))
    result = model.to_nengo(allow_fallback=False)
    _compare(model, result)
    assert [r.path for r in result.report if r.type == "Dense"] == ["inner", "inner"]
