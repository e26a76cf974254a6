"""nengo_keras.converters.traced: custom layers convert through what their call is made of."""

import keras
import numpy as np
import pytest

import nengo_keras
from nengo_keras.errors import ConversionError
from tests.helpers import check_conversion, tiers

L = keras.layers


class Traceable(L.Layer):
    """A custom layer made of keras.ops and a weight: converts by tracing."""

    def build(self, shape):
        self.gain = self.add_weight(shape=(shape[-1],), initializer="random_normal")

    def call(self, x):
        return keras.ops.relu(x) * self.gain + x


def test_custom_layer_converts_through_its_call():
    inp = keras.Input((4,))
    block = Traceable(name="traced")
    out = block(L.Dense(4, bias_initializer="normal")(inp))
    model = keras.Model(inp, out)
    calls = len(block._inbound_nodes), len(block._outbound_nodes)
    result = check_conversion(model, allow_fallback=False)
    assert tiers(result)["traced"] == "neural"
    assert result.report[-1].converter == "convert_traced"
    assert (len(block._inbound_nodes), len(block._outbound_nodes)) == calls
    with pytest.raises(nengo_keras.ConversionError, match="traced"):
        nengo_keras.to_nengo(model, allow_fallback=False, trace_layers=False)


# keras_hub's patterns: constants built from the batch size, shapes read with
# ops.shape, subclasses of Keras layers with extra call arguments, outputs that
# do not depend on the inputs, class tokens

ops = keras.ops


class CausalSum(L.Layer):
    """A projection, then a causal mask broadcast to the batch size, then a
    reshape to the batch size read with ``ops.shape``."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.proj = L.Dense(4)

    def call(self, x):
        y = self.proj(x)
        n = ops.shape(x)[1]
        mask = ops.broadcast_to(ops.tril(ops.ones((n, n))), (ops.shape(x)[0], n, n))
        y = ops.matmul(mask, y)
        return ops.reshape(y, (ops.shape(y)[0], n * 4))


def test_batch_size_constants():
    inp = keras.Input((5, 3))
    model = keras.Model(inp, CausalSum(name="causal")(inp))
    result = check_conversion(model, allow_fallback=False)
    assert tiers(result)["causal"] == "neural"


class ProjectAndFlatten(L.Layer):
    """Traces with an unknown batch size, but the reshape to it converts only
    with a known one: the second attempt must not count the projection as
    called twice."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.proj = L.Dense(4)

    def call(self, x):
        y = self.proj(x)
        return ops.reshape(y, (ops.shape(y)[0], ops.shape(x)[1] * 4))


@pytest.mark.backends
def test_batch_size_in_a_reshape():
    inp = keras.Input((5, 3))
    model = keras.Model(inp, ProjectAndFlatten(name="flatten")(inp))
    result = check_conversion(model, allow_fallback=False)
    assert tiers(result)["flatten"] == "neural"


class CachedAttention(L.MultiHeadAttention):
    """Adds a call argument that ``MultiHeadAttention.compute_output_spec``
    does not take (as keras_hub's CachedMultiHeadAttention does)."""

    def call(self, query, value, key=None, cache=None, training=None):
        return super().call(query, value, training=training)


class AttentionBlock(L.Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.attention = CachedAttention(2, 4)
        self.norm = L.LayerNormalization()

    def call(self, x):
        return self.norm(x + self.attention(x, x, cache=None))


@pytest.mark.backends
def test_inherited_output_spec_with_extra_arguments():
    inp = keras.Input((4, 6))
    model = keras.Model(inp, AttentionBlock(name="block")(inp))
    result = check_conversion(model, allow_fallback=False)
    assert tiers(result)["block"] == "node"


class SplitHeads(L.Layer):
    """``EinsumDense`` declares its sequence axis unknown; the reshape reads
    it back with ``ops.shape``."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.proj = L.EinsumDense("btd,dh->bth", output_shape=(None, 4))

    def call(self, x):
        q = self.proj(x)
        s = ops.shape(q)
        return ops.sum(ops.reshape(q, (s[0], s[1], 2, 2)), axis=-1)


def test_shapes_read_from_sublayers():
    inp = keras.Input((5, 3))
    model = keras.Model(inp, SplitHeads(name="heads")(inp))
    check_conversion(model, allow_fallback=False)


class PositionTable(L.Layer):
    """Returns a weight broadcast to the input's shape: no input dependence."""

    def build(self, shape):
        self.table = self.add_weight(shape=tuple(shape[1:]), initializer="uniform")

    def call(self, x):
        return ops.broadcast_to(self.table, ops.shape(x))


class ClassToken(L.Layer):
    """Prepends a learned token to the sequence, as ViT does."""

    def build(self, shape):
        self.token = self.add_weight(shape=(1, 1, shape[-1]), initializer="uniform")

    def call(self, x):
        token = ops.tile(self.token, (ops.shape(x)[0], 1, 1))
        return ops.concatenate([token, x], axis=1)


@pytest.mark.backends
def test_constant_outputs_and_class_token():
    inp = keras.Input((4, 3))
    x = inp + PositionTable(name="positions")(inp)
    model = keras.Model(inp, ClassToken(name="token")(x))
    result = check_conversion(model, allow_fallback=False)
    assert tiers(result)["token"] == "neural"


def test_padding_with_a_constant():
    inp = keras.Input((4, 3))
    out = ops.pad(inp, [[0, 0], [1, 2], [0, 0]], constant_values=2.5)
    check_conversion(keras.Model(inp, out), allow_fallback=False, tiers=("neural",))


def test_padding_with_infinity_is_reported():
    inp = keras.Input((4, 3))
    out = ops.pad(inp, [[0, 0], [1, 1], [0, 0]], constant_values=float("-inf"))
    with pytest.raises(ConversionError, match="padding with infinity"):
        nengo_keras.to_nengo(keras.Model(inp, out), allow_fallback=False)


def approximate_gelu(x):
    """Not one of Keras' activations: converts through its keras.ops."""
    return 0.5 * x * (1.0 + ops.tanh(0.7978845608 * (x + 0.044715 * x**3)))


def test_traced_activation_function():
    inp = keras.Input((5,))
    model = keras.Model(inp, L.Dense(4, activation=approximate_gelu, name="dense")(inp))
    result = check_conversion(model, allow_fallback=False)
    assert tiers(result)["dense"] != "fallback"


def test_filled_like_and_convert_to_tensor():
    inp = keras.Input((3,))
    ids = keras.Input((3,), dtype="int32")
    x = inp + ops.ones_like(inp) + ops.full_like(inp, 3.0) + ops.zeros_like(inp)
    x = x + L.Embedding(5, 1)(ops.convert_to_tensor(ids, dtype="int32"))[..., 0]
    model = keras.Model([inp, ids], x)
    rng = np.random.default_rng(0)
    data = [rng.uniform(-1, 1, size=(2, 3)).astype("float32"),
            rng.integers(0, 5, size=(2, 3)).astype("int32")]
    check_conversion(model, data, allow_fallback=False)
