import keras
import nengo
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


def _n_weights(net):
    """Nonzero weights of every connection transform in ``net``."""
    total = 0
    for conn in net.all_connections:
        t = conn.transform
        if isinstance(t, nengo.transforms.Sparse):
            total += t.init.nnz if hasattr(t.init, "nnz") else len(t.init.data)
        elif isinstance(t, nengo.transforms.Dense):
            total += int(np.count_nonzero(t.init))
    return total


@pytest.mark.parametrize(
    "units, fused",
    [((4, 256), False), ((256, 4), True), ((16, 16), True)],
)
def test_dense_stack_fuses_only_when_smaller(units, fused):
    # Dense(b)(Dense(a)(x)) with x of width 256: the product is 256 x b
    inp = keras.Input((256,))
    h = L.Dense(units[0], use_bias=False)(inp)
    out = L.Dense(units[1], use_bias=False)(h)
    model = keras.Model(inp, out)
    result = check_conversion(model)
    factors = 256 * units[0] + units[0] * units[1]
    assert _n_weights(result.net) <= factors
    n_nodes = len(result.net.all_nodes)  # input, output, and a pass-through if unfused
    assert n_nodes == (2 if fused else 3)


def test_large_dense_stack_is_not_multiplied_out():
    # multiplying n x n matrices takes O(n^3) time: two stacked 4096-wide
    # layers took minutes; above 1e9 multiply-adds the layers stay apart
    inp = keras.Input((1024,))
    out = L.Dense(1024, use_bias=False)(L.Dense(1024, use_bias=False)(inp))
    result = check_conversion(keras.Model(inp, out))
    assert len(result.net.all_nodes) == 3  # input, pass-through, output
