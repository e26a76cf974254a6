import keras
import numpy as np
import pytest

from tests.helpers import check_conversion, tiers

L = keras.layers


@pytest.mark.parametrize(
    "scale, offset",
    [
        (1 / 255.0, 0.0),
        (2.0, -1.0),
        (np.array([0.5, 2.0, -1.0]), np.array([1.0, 0.0, 3.0])),
        (np.arange(1.0, 6.0).reshape(5, 1), 0.5),
        (np.ones((1, 1, 1, 3)) * 3.0, np.arange(3.0)),
    ],
)
def test_rescaling(scale, offset):
    inp = keras.Input((4, 5, 3))
    out = L.Rescaling(scale, offset, name="rescale")(inp)
    result = check_conversion(keras.Model(inp, out))
    assert tiers(result)["rescale"] == "neural"


def test_rescaling_folds_into_the_next_layer():
    inp = keras.Input((5, 5, 3))
    x = L.Rescaling(np.array([0.5, 2.0, 1.0]), offset=-1.0)(inp)
    out = L.Conv2D(4, 3, activation="relu")(x)
    result = check_conversion(keras.Model(inp, out))
    # only the input node and a bias constant; no pass-through node
    assert result.report[0].n_nodes == 0


@pytest.mark.parametrize("invert", [False, True])
@pytest.mark.parametrize("axis", [-1, (1, 2), None])
def test_normalization(axis, invert, rng):
    data = rng.normal(3.0, 2.0, size=(50, 3, 4)) * np.arange(1, 5)
    layer = L.Normalization(axis=axis, invert=invert, name="norm")
    layer.adapt(data.astype("float32"))
    inp = keras.Input((3, 4))
    result = check_conversion(keras.Model(inp, layer(inp)))
    assert tiers(result)["norm"] == "neural"


def test_normalization_with_given_statistics():
    layer = L.Normalization(mean=[1.0, 2.0, 0.0], variance=[4.0, 0.25, 0.0])
    inp = keras.Input((2, 3))
    check_conversion(keras.Model(inp, layer(inp)))
