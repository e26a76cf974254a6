import keras
import pytest

from tests.helpers import check_conversion, tiers

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


def _randomize(layer, rng):
    for w in layer.weights:
        w.assign(rng.normal(1.0, 0.5, size=w.shape).astype("float32"))


def _statistics_model(layer, rng, shape=(3, 4, 6)):
    inp = keras.Input(shape)
    x = L.Dense(shape[-1], bias_initializer="normal")(inp)
    model = keras.Model(inp, layer(x))
    _randomize(layer, rng)
    return model


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(),
        dict(axis=1),
        dict(axis=[1, 3]),
        dict(axis=[-2, -1], epsilon=0.5),
        dict(center=False),
        dict(scale=False),
        dict(center=False, scale=False),
        dict(rms_scaling=True),
    ],
)
@pytest.mark.filterwarnings("ignore:You passed `rms_scaling=True`")
def test_layer_normalization(kwargs, rng):
    layer = L.LayerNormalization(name="norm", **kwargs)
    result = check_conversion(_statistics_model(layer, rng))
    assert tiers(result)["norm"] == "node"


@pytest.mark.parametrize("axis", [-1, 1, [1, 2]])
def test_unit_normalization(axis, rng):
    result = check_conversion(_statistics_model(L.UnitNormalization(axis=axis, name="norm"), rng))
    assert tiers(result)["norm"] == "node"


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(groups=2),
        dict(groups=1),
        dict(groups=-1),
        dict(groups=3, axis=1),
        dict(groups=2, axis=2, center=False),
        dict(groups=3, scale=False, epsilon=0.1),
    ],
)
def test_group_normalization(kwargs, rng):
    result = check_conversion(_statistics_model(L.GroupNormalization(name="norm", **kwargs), rng))
    assert tiers(result)["norm"] == "node"


@pytest.mark.skipif(not hasattr(L, "RMSNormalization"), reason="Keras < 3.9")
@pytest.mark.parametrize("kwargs", [dict(), dict(axis=[2, 3], epsilon=0.1)])
def test_rms_normalization(kwargs, rng):
    result = check_conversion(_statistics_model(L.RMSNormalization(name="norm", **kwargs), rng))
    assert tiers(result)["norm"] == "node"
