import keras
import pytest

from tests.helpers import check_conversion, tiers

L = keras.layers


@pytest.mark.parametrize("shape", [(7,), (3, 7), (2, 3, 7)])
@pytest.mark.parametrize("use_bias", [True, False])
def test_dense(shape, use_bias):
    inp = keras.Input(shape)
    out = L.Dense(5, use_bias=use_bias, bias_initializer="normal", name="d")(inp)
    result = check_conversion(keras.Model(inp, out))
    assert tiers(result) == {"d": "neural"}


@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh", "linear"])
def test_activation_layer(activation):
    inp = keras.Input((3, 4))
    x = L.Dense(4, bias_initializer="normal")(inp)
    out = L.Activation(activation, name="act")(x)
    check_conversion(keras.Model(inp, out))


@pytest.mark.parametrize(
    "layer",
    [
        L.Dropout(0.5),
        L.SpatialDropout1D(0.5),
        L.GaussianNoise(1.0),
        L.GaussianDropout(0.3),
        L.AlphaDropout(0.3),
        L.ActivityRegularization(l1=0.1),
        L.Identity(),
    ],
)
def test_identity_at_inference(layer):
    inp = keras.Input((4, 3))
    out = layer(L.Dense(3, activation="relu")(inp))
    result = check_conversion(keras.Model(inp, out))
    assert result.report[-1].n_nodes == 0 and result.report[-1].n_neurons == 0
