import keras
import numpy as np
import pytest

import nengo_keras

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


@pytest.mark.parametrize("shape", [(5,), (2, 3)])
def test_embedding_is_a_lookup_node(shape):
    inp = keras.Input(shape, dtype="int32")
    x = L.Embedding(12, 4, name="embed")(inp)
    model = keras.Model(inp, L.Dense(3, activation="relu")(x))
    indices = np.random.default_rng(0).integers(0, 12, size=(3,) + shape)
    result = check_conversion(model, indices)
    assert tiers(result)["embed"] == "node"
    assert result.verify()  # verify's default integer inputs are valid indices


@pytest.mark.backends
def test_text_classifier_from_token_ids():
    """Embedding -> Conv1D -> global max pooling -> Dense, fed integer token ids."""
    inp = keras.Input((10,), dtype="int32")
    x = L.Embedding(50, 8)(inp)
    x = L.Conv1D(6, 3, activation="relu")(x)
    x = L.GlobalMaxPooling1D()(x)
    model = keras.Model(inp, L.Dense(2)(x))
    ids = np.random.default_rng(1).integers(0, 50, size=(4, 10))
    result = check_conversion(model, ids, allow_fallback=False)
    assert list(tiers(result).values()) == ["node", "neural", "neural", "neural"]


def test_quantized_embedding_falls_back():
    inp = keras.Input((3,), dtype="int32")
    layer = L.Embedding(6, 4, name="q")
    model = keras.Model(inp, layer(inp))
    layer.quantize("int8")
    ids = np.array([[0, 5, 2]])
    with pytest.warns(UserWarning, match="quantized"):
        result = check_conversion(model, ids, atol=1e-6)
    assert tiers(result)["q"] == "fallback"
    with pytest.raises(nengo_keras.ConversionError, match="quantized"):
        nengo_keras.to_nengo(model, allow_fallback=False)


def test_take_from_a_constant_table_is_a_lookup():
    """``ops.take(table, ids)`` (how custom embeddings are written) and Keras'
    ReversibleEmbedding convert by tracing into a lookup Node."""
    table = np.arange(12.0).reshape(4, 3)
    inp = keras.Input((5,), dtype="int32")
    out = keras.ops.take(table, inp, axis=0) + L.ReversibleEmbedding(4, 3)(inp)
    model = keras.Model(inp, out)
    ids = np.array([[0, 3, 1, -1, 2], [2, 2, 0, 1, 3]])
    result = check_conversion(model, ids, allow_fallback=False)
    assert "fallback" not in tiers(result).values()
