import keras
import pytest

from tests.helpers import check_conversion

L = keras.layers


@pytest.mark.parametrize(
    "layer, shape",
    [
        (L.Flatten(), (3, 4, 2)),
        (L.Reshape((6, 4)), (3, 4, 2)),
        (L.Reshape((-1, 2)), (3, 4, 2)),
        (L.ZeroPadding1D((1, 2)), (5, 3)),
        (L.ZeroPadding2D(((1, 0), (2, 1))), (4, 5, 3)),
        (L.ZeroPadding3D(1), (3, 3, 2, 2)),
        (L.UpSampling1D(2), (4, 3)),
        (L.UpSampling2D((2, 3)), (3, 4, 2)),
        (L.UpSampling2D(2, interpolation="bilinear"), (3, 4, 2)),
        (L.UpSampling3D(2), (2, 3, 2, 2)),
        (L.Cropping1D((1, 2)), (6, 3)),
        (L.Cropping2D(((1, 0), (1, 2))), (5, 6, 2)),
        (L.Cropping3D(1), (4, 4, 4, 2)),
        (L.Permute((2, 1)), (4, 3)),
        (L.Permute((3, 1, 2)), (2, 4, 3)),
        (L.RepeatVector(3), (4,)),
    ],
)
def test_rearranging_layers(layer, shape):
    inp = keras.Input(shape)
    x = L.Dense(shape[-1], activation="relu", bias_initializer="normal")(inp)
    out = layer(x)
    result = check_conversion(keras.Model(inp, out))
    assert result.report[-1].tier == "neural"
    assert result.report[-1].n_neurons == 0


def test_flatten_then_dense_has_no_nodes():
    inp = keras.Input((4, 4, 2))
    x = L.Conv2D(3, 3, activation="relu")(inp)
    x = L.ZeroPadding2D(1)(x)
    x = L.Flatten()(x)
    out = L.Dense(4, activation="relu")(x)
    result = check_conversion(keras.Model(inp, out))
    assert len(result.net.all_nodes) == 1


def test_padding_before_conv_after_linear_conv():
    inp = keras.Input((6, 6, 2))
    x = L.Conv2D(3, 3, padding="same")(inp)
    x = L.ZeroPadding2D(1)(x)
    out = L.Conv2D(2, 3)(x)
    check_conversion(keras.Model(inp, out))
