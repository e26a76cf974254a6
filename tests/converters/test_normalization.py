import keras
import numpy as np
import pytest

from tests.helpers import check_conversion

L = keras.layers


def _set_stats(bn, rng):
    for w in bn.weights:
        w.assign(rng.uniform(0.5, 1.5, size=w.shape).astype("float32"))


@pytest.mark.parametrize("fold", [True, False])
@pytest.mark.parametrize("where", ["after_conv", "after_relu", "after_dense"])
def test_batch_normalization(fold, where, rng):
    inp = keras.Input((6, 6, 3))
    if where == "after_conv":
        x = L.Conv2D(4, 3)(inp)
        bn = L.BatchNormalization()
        out = L.Activation("relu")(bn(x))
    elif where == "after_relu":
        x = L.Conv2D(4, 3, activation="relu")(inp)
        bn = L.BatchNormalization()
        out = L.Conv2D(2, 3, activation="relu")(bn(x))
    else:
        x = L.Dense(5)(L.Flatten()(inp))
        bn = L.BatchNormalization()
        out = bn(x)
    model = keras.Model(inp, out)
    _set_stats(bn, rng)
    result = check_conversion(model, fold_batchnorm=fold)
    if fold and where != "after_dense":
        assert len(result.net.all_nodes) == 1  # folded into the kernel and biases


@pytest.mark.parametrize("axis", [1, 2, -1])
def test_batch_normalization_axes(axis, rng):
    inp = keras.Input((3, 4, 5))
    bn = L.BatchNormalization(axis=axis, center=False) if axis != 2 else L.BatchNormalization(axis=axis, scale=False)
    model = keras.Model(inp, bn(inp))
    _set_stats(bn, rng)
    check_conversion(model)
