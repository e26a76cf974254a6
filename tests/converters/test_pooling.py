import keras
import nengo
import numpy as np
import pytest

from tests.helpers import check_conversion, random_inputs, tiers

L = keras.layers


@pytest.mark.parametrize("mode", ["average", "max"])
@pytest.mark.parametrize(
    "kwargs",
    [
        dict(pool_size=2),
        dict(pool_size=3, strides=2),
        dict(pool_size=3, strides=2, padding="same"),
        dict(pool_size=(2, 3), strides=1, padding="same"),
    ],
)
def test_pooling2d(mode, kwargs):
    if mode == "average" and kwargs.get("padding") == "same" and keras.backend.backend() == "torch":
        pytest.xfail("Keras' PyTorch backend averages asymmetric 'same' windows unlike TF/JAX")
    cls = L.AveragePooling2D if mode == "average" else L.MaxPooling2D
    inp = keras.Input((7, 8, 3))
    out = cls(**kwargs)(inp)
    result = check_conversion(keras.Model(inp, out))
    assert result.report[-1].tier == "neural"


@pytest.mark.parametrize("cls", [L.MaxPooling1D, L.AveragePooling1D])
def test_pooling1d(cls):
    inp = keras.Input((9, 3))
    check_conversion(keras.Model(inp, cls(3, strides=2, padding="same")(inp)))


@pytest.mark.parametrize("cls", [L.MaxPooling3D, L.AveragePooling3D])
def test_pooling3d(cls):
    inp = keras.Input((4, 5, 4, 2))
    check_conversion(keras.Model(inp, cls(2)(inp)))


def test_max_pooling_is_exact_with_rectifiers():
    inp = keras.Input((4, 4, 2))
    model = keras.Model(inp, L.MaxPooling2D(2)(inp))
    result = check_conversion(model)
    # a 2x2 window needs 3 comparisons per output
    assert result.report[-1].n_neurons == 3 * 2 * 2 * 2
    types = {type(e.neuron_type) for e in result.net.all_ensembles}
    assert types == {nengo.RectifiedLinear}


def test_max_to_avg_pool():
    inp = keras.Input((4, 4, 2))
    model = keras.Model(inp, L.MaxPooling2D(2)(inp))
    avg = keras.Model(inp, L.AveragePooling2D(2)(inp))
    result = check_conversion(avg)
    result = __import__("nengo_keras").to_nengo(model, max_to_avg_pool=True)
    x = random_inputs(model)[0]
    np.testing.assert_allclose(result.predict(x), avg.predict(x, verbose=0), atol=1e-5)
    assert not result.net.all_ensembles


@pytest.mark.parametrize(
    "cls",
    [
        L.GlobalAveragePooling1D,
        L.GlobalMaxPooling1D,
    ],
)
@pytest.mark.parametrize("keepdims", [False, True])
def test_global_pooling1d(cls, keepdims):
    inp = keras.Input((5, 3))
    check_conversion(keras.Model(inp, cls(keepdims=keepdims)(inp)))


@pytest.mark.parametrize(
    "cls",
    [L.GlobalAveragePooling2D, L.GlobalMaxPooling2D, L.GlobalAveragePooling3D, L.GlobalMaxPooling3D],
)
def test_global_pooling(cls):
    shape = (4, 5, 3) if "2D" in cls.__name__ else (3, 3, 2, 3)
    inp = keras.Input(shape)
    check_conversion(keras.Model(inp, cls()(inp)))


@pytest.mark.parametrize("source", ["masking", "embedding"])
def test_masked_global_average_pooling(source):
    """A mask from Masking or Embedding(mask_zero=True) averages the kept steps."""
    if source == "masking":
        inp = keras.Input((5, 3))
        x = L.Masking(0.0)(inp)
        data = np.random.default_rng(0).uniform(size=(3, 5, 3))
        data[0, 3:] = 0.0  # masked steps
        data[1, :2] = 0.0
    else:
        inp = keras.Input((5,), dtype="int32")
        x = L.Embedding(6, 3, mask_zero=True)(inp)
        data = np.array([[1, 2, 0, 0, 0], [0, 3, 4, 5, 0], [5, 4, 3, 2, 1]])
    out = L.GlobalAveragePooling1D(name="gap")(x)
    result = check_conversion(keras.Model(inp, out), data, allow_fallback=False)
    assert tiers(result)["gap"] == "node"


ADAPTIVE = [
    (lambda: L.AdaptiveAveragePooling1D(3), (7, 2)),
    (lambda: L.AdaptiveMaxPooling1D(4), (7, 2)),
    (lambda: L.AdaptiveAveragePooling2D((3, 2)), (7, 5, 2)),
    (lambda: L.AdaptiveMaxPooling2D((4, 3)), (7, 5, 2)),
    (lambda: L.AdaptiveMaxPooling2D((3, 3), data_format="channels_first"), (2, 7, 5)),
    (lambda: L.AdaptiveAveragePooling3D((2, 2, 2)), (5, 4, 3, 2)),
    (lambda: L.AdaptiveMaxPooling3D((2, 3, 2)), (5, 4, 3, 2)),
]


@pytest.mark.skipif(
    not hasattr(L, "AdaptiveAveragePooling2D"), reason="adaptive pooling needs Keras >= 3.12"
)
@pytest.mark.parametrize("make, shape", ADAPTIVE)
def test_adaptive_pooling(make, shape):
    inp = keras.Input(shape)
    layer = make()
    result = check_conversion(keras.Model(inp, layer(inp)), allow_fallback=False)
    assert tiers(result) == {layer.name: "neural"}
