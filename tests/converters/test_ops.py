import keras
import nengo
import numpy as np
import pytest

import nengo_keras
from tests.helpers import check_conversion, tiers

ops = keras.ops


def _model(fn, shape=(3, 4), n_inputs=1, stddev=1.0):
    inputs = [keras.Input(shape) for _ in range(n_inputs)]
    init = keras.initializers.RandomNormal(stddev=stddev)
    hidden = [
        keras.layers.Dense(shape[-1], bias_initializer="normal", kernel_initializer=init)(x)
        for x in inputs
    ]
    return keras.Model(inputs, fn(*hidden))


NEURAL_UNARY = {
    "add": lambda x: x + 1,
    "rsub": lambda x: 2.0 - x,
    "mul": lambda x: x * 3,
    "div": lambda x: x / 4,
    "neg": lambda x: -x,
    "mul_array": lambda x: x * np.arange(4.0),
    "reshape": lambda x: ops.reshape(x, (-1, 2, 6)),
    "transpose": lambda x: ops.transpose(x, (0, 2, 1)),
    "expand_dims": lambda x: ops.expand_dims(x, 1),
    "getitem": lambda x: x[:, 1:, ::2],
    "flip": lambda x: ops.flip(x, axis=1),
    "sum": lambda x: ops.sum(x, axis=-1),
    "mean": lambda x: ops.mean(x, axis=1, keepdims=True),
    "matmul_const": lambda x: ops.matmul(x, np.ones((4, 2), "float32")),
    "relu": lambda x: ops.relu(x),
    "relu6": lambda x: ops.relu6(x * 4),
    "sigmoid": lambda x: ops.sigmoid(x),
    "tanh": lambda x: ops.tanh(x),
    "abs": lambda x: ops.abs(x),
    "clip": lambda x: ops.clip(x, -0.5, 0.5),
    "maximum": lambda x: ops.maximum(x, 0.2),
    "minimum": lambda x: ops.minimum(x, 0.1),
    "leaky_relu": lambda x: ops.leaky_relu(x, negative_slope=0.3),
    "hard_sigmoid": lambda x: ops.hard_sigmoid(x * 4),
    "hard_tanh": lambda x: ops.hard_tanh(x * 2),
    "sparse_sigmoid": lambda x: ops.sparse_sigmoid(x * 2),
    "soft_shrink": lambda x: ops.soft_shrink(x, threshold=0.3),
    "activations_relu": lambda x: keras.activations.relu(x, negative_slope=0.1, max_value=1.0),
    "max_axis": lambda x: ops.max(x, axis=1),
    "max_last": lambda x: ops.max(x, axis=-1, keepdims=True),
    "max_initial": lambda x: ops.max(x, axis=2, initial=0.5),
    "min_axes": lambda x: ops.min(x, axis=(1, 2)),
    "amax": lambda x: ops.amax(x, axis=1),
    "amin": lambda x: ops.amin(x, axis=-1),
    "cast_float": lambda x: ops.cast(x, "float32"),
}


@pytest.mark.parametrize("fn", NEURAL_UNARY.values(), ids=NEURAL_UNARY.keys())
def test_unary_ops_are_neural(fn):
    result = check_conversion(_model(fn, stddev=2.0))
    assert set(tiers(result).values()) == {"neural"}


NODE_UNARY = {
    "exp": ops.exp,
    "square": ops.square,
    "power": lambda x: x**3,
    "power_base": lambda x: 2.0**x,
    "sqrt": lambda x: ops.sqrt(ops.abs(x) + 0.1),
    "log": lambda x: ops.log(ops.abs(x) + 0.1),
    "sin": ops.sin,
    "cos": ops.cos,
    "arctan": ops.arctan,
    "erf": ops.erf,
    "rsqrt": lambda x: ops.rsqrt(ops.abs(x) + 1.0),
    "reciprocal": lambda x: ops.reciprocal(ops.abs(x) + 1.0),
    "sign": ops.sign,
    "round": lambda x: ops.round(x * 3),
    "logsumexp": lambda x: ops.logsumexp(x, axis=-1),
    "prod": lambda x: ops.prod(x, axis=1),
    "var": lambda x: ops.var(x, axis=(1, 2), keepdims=True),
    "std": lambda x: ops.std(x, axis=-1),
    "where": lambda x: ops.where(x > 0.2, x, 0.1 * x),
    "cast_int": lambda x: ops.cast(x * 3, "int32"),
    "cast_half": lambda x: ops.cast(x, "float16"),
    "softmax": lambda x: ops.softmax(x, axis=1),
    "log_softmax": lambda x: ops.log_softmax(x),
    "gelu": lambda x: ops.gelu(x),
    "gelu_exact": lambda x: ops.gelu(x, approximate=False),
    "elu": lambda x: ops.elu(x, alpha=0.5),
    "celu": lambda x: ops.celu(x, alpha=2.0),
    "selu": ops.selu,
    "silu": ops.silu,
    "hard_silu": ops.hard_silu,
    "softplus": ops.softplus,
    "softsign": ops.softsign,
    "log_sigmoid": ops.log_sigmoid,
    "squareplus": lambda x: ops.squareplus(x, b=2),
    "hard_shrink": lambda x: ops.hard_shrink(x, threshold=0.4),
    "threshold": lambda x: ops.threshold(x, 0.3, -1.0),
    "normalize": lambda x: ops.normalize(x, axis=1),
    "normalize_l1": lambda x: ops.normalize(x, order=1),
    "layer_norm": lambda x: ops.layer_normalization(x, np.arange(4.0), np.ones(4), epsilon=0.1),
    "rms_norm": lambda x: ops.rms_normalization(x, axis=(1, 2)),
    "any": lambda x: ops.cast(ops.any(x > 0.5, axis=-1), "float32"),
    "all": lambda x: ops.cast(ops.all(x > -1.0, axis=1, keepdims=True), "float32"),
    "argmax": lambda x: ops.argmax(x, axis=-1),
    "argmin": lambda x: ops.argmin(x, axis=1, keepdims=True),
    "sort": lambda x: ops.sort(x, axis=-1),
}


@pytest.mark.parametrize("fn", NODE_UNARY.values(), ids=NODE_UNARY.keys())
def test_unary_maths_are_numpy_nodes(fn):
    result = check_conversion(_model(fn, stddev=1.5))
    assert "node" in tiers(result).values()
    assert "fallback" not in tiers(result).values()


@pytest.mark.parametrize(
    "fn",
    [
        lambda a, b: a + b,
        lambda a, b: ops.subtract(a, b),
        lambda a, b: ops.maximum(a, b),
        lambda a, b: ops.minimum(a, b),
        lambda a, b: ops.concatenate([a, b], axis=1),
        lambda a, b: ops.stack([a, b], axis=1),
    ],
)
def test_binary_ops_are_neural(fn):
    result = check_conversion(_model(fn, n_inputs=2))
    assert set(tiers(result).values()) == {"neural"}


BINARY_NODES = {
    "multiply": lambda a, b: a * b,
    "divide": lambda a, b: a / (ops.abs(b) + 1.0),
    "power": lambda a, b: ops.power(ops.abs(a) + 0.5, b),
    "matmul": lambda a, b: ops.matmul(a, ops.transpose(b, (0, 2, 1))),
    "einsum": lambda a, b: ops.einsum("bij,bik->bjk", a, b),
    "where": lambda a, b: ops.where(a > b, a * 2, b),
    "arctan2": ops.arctan2,
}


@pytest.mark.parametrize("fn", BINARY_NODES.values(), ids=BINARY_NODES.keys())
def test_products_of_tensors_are_numpy_nodes(fn):
    result = check_conversion(_model(fn, n_inputs=2))
    assert "node" in tiers(result).values()
    assert "fallback" not in tiers(result).values()


def test_max_reduction_spikes_when_relu_is_swapped():
    model = _model(lambda x: ops.max(x, axis=1))
    result = nengo_keras.to_nengo(
        model, swap_activations={"relu": nengo.SpikingRectifiedLinear()}
    )
    types = {type(e.neuron_type) for e in result.net.all_ensembles}
    assert types == {nengo.SpikingRectifiedLinear}


def test_reduction_over_the_batch_axis_is_reported():
    model = _model(lambda x: ops.max(x, axis=0))
    with pytest.raises(nengo_keras.ConversionError, match="batch axis"):
        nengo_keras.to_nengo(model, allow_fallback=False)


def test_numpy_nodes_pickle():
    import pickle

    model = _model(
        lambda a, b: ops.softmax(ops.einsum("bij,bik->bjk", a, b) ** 2 + ops.exp(a[:, :1, :]))
        * keras.layers.LayerNormalization()(b)[:, :1, :],
        n_inputs=2,
    )
    result = nengo_keras.to_nengo(model)
    net = pickle.loads(pickle.dumps(result.net))
    assert len(net.all_nodes) == len(result.net.all_nodes)


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"is_causal": True},
        {"scale": 0.3},
        {"mask": True},
        {"bias": True},
    ],
)
def test_dot_product_attention(kwargs):
    q, k, v = (keras.Input(s) for s in ((4, 2, 3), (5, 2, 3), (5, 2, 3)))
    extra = []
    kwargs = dict(kwargs)
    if kwargs.pop("mask", False):
        m = keras.Input((2, 4, 5))
        extra.append(m)
        kwargs["mask"] = m > 0
    if kwargs.pop("bias", False):
        b = keras.Input((2, 4, 5))
        extra.append(b)
        kwargs["bias"] = b
    if kwargs.get("is_causal"):
        q = keras.Input((5, 2, 3))
    out = ops.dot_product_attention(q, k, v, **kwargs)
    model = keras.Model([q, k, v, *extra], out)
    result = check_conversion(model, allow_fallback=False)
    assert set(tiers(result).values()) == {"node"}


def test_grouped_query_attention_op():
    q, k, v = keras.Input((4, 4, 3)), keras.Input((5, 2, 3)), keras.Input((5, 2, 3))
    model = keras.Model([q, k, v], ops.dot_product_attention(q, k, v))
    check_conversion(model, allow_fallback=False)


@pytest.mark.parametrize(
    "make",
    [
        lambda x, c: keras.layers.MultiHeadAttention(2, 4)(x, x),  # self-attention
        lambda x, c: keras.layers.MultiHeadAttention(2, 4)(x, x, use_causal_mask=True),
        lambda x, c: keras.layers.MultiHeadAttention(3, 2, output_shape=(7,))(x, c),
        pytest.param(
            lambda x, c: keras.layers.MultiHeadAttention(3, 2, value_dim=5)(x, c),
            marks=pytest.mark.skipif(
                keras.backend.backend() == "jax",
                reason="Keras' own MultiHeadAttention fails with value_dim != key_dim on JAX",
            ),
        ),
        lambda x, c: keras.layers.GroupQueryAttention(4, 4, 2)(x, c),
    ],
)
def test_attention_layers_convert_through_their_calls(make):
    """Keras' attention layers need no converter: their projections are traced
    into connections and the attention itself into a NumPy Node."""
    x, c = keras.Input((5, 8)), keras.Input((3, 8))
    out = make(x, c)
    used = [t for t in (x, c) if t is not None]
    model = keras.Model(used, out)
    result = check_conversion(model, allow_fallback=False)
    assert set(tiers(result).values()) == {"node"}


@pytest.mark.backends
def test_transformer_encoder_block():
    inp = keras.Input((6, 8))
    x = keras.layers.LayerNormalization()(inp)
    x = keras.layers.MultiHeadAttention(2, 4)(x, x) + inp
    y = keras.layers.Dense(16, activation="gelu")(keras.layers.LayerNormalization()(x))
    out = keras.layers.GlobalAveragePooling1D()(keras.layers.Dense(8)(y) + x)
    model = keras.Model(inp, keras.layers.Dense(3)(out))
    check_conversion(model, allow_fallback=False)


@pytest.mark.parametrize(
    "fn",
    [
        lambda x: ops.image.resize(x, (5, 3)),
        lambda x: ops.image.resize(x, (9, 9), interpolation="nearest"),
        lambda x: ops.image.resize(x, (4, 4), antialias=True, crop_to_aspect_ratio=True),
        lambda x: ops.image.pad_images(x, 1, 2, target_height=9, target_width=8),
        lambda x: ops.image.crop_images(x, 1, 1, target_height=4, target_width=3),
    ],
)
def test_image_ops_are_sparse_maps(fn):
    inp = keras.Input((6, 5, 2))
    out = keras.layers.Conv2D(2, 3, padding="same", activation="relu")(fn(inp))
    result = check_conversion(keras.Model(inp, out), allow_fallback=False)
    assert set(tiers(result).values()) == {"neural"}


MIXING = {
    "reshape": lambda x: keras.ops.reshape(x, (-1, 2)),
    "reshape_all": lambda x: keras.ops.reshape(x, (-1,)),
    "sum_all": lambda x: keras.ops.sum(x),
    "mean_over_batch": lambda x: keras.ops.mean(x, axis=0),
    "sum_negative_axis": lambda x: keras.ops.sum(x, axis=-2),
    "transpose": lambda x: keras.ops.transpose(x),
    "concatenate": lambda x: keras.ops.concatenate([x, x], axis=0),
    "take": lambda x: keras.ops.take(x, [0, 0], axis=0),
    "softmax": lambda x: keras.ops.softmax(x, axis=0),
    "flip": lambda x: keras.ops.flip(x),
    "cumsum": lambda x: keras.ops.cumsum(x, axis=0),
}


@pytest.mark.parametrize("op", MIXING.values(), ids=MIXING.keys())
def test_operations_that_mix_samples_are_refused(op):
    inp = keras.Input((6,))
    model = keras.Model(inp, op(inp))
    name = model.operations[-1].name
    with pytest.raises(nengo_keras.ConversionError, match=f"'{name}'.*mixes the samples"):
        nengo_keras.to_nengo(model)


@pytest.mark.parametrize(
    "op",
    [
        lambda x: keras.ops.reshape(x, (-1, 3, 2)),
        lambda x: keras.ops.sum(x, axis=1),
        lambda x: keras.ops.softmax(x, axis=-1),
        lambda x: keras.ops.take(np.arange(12.0).reshape(6, 2), keras.ops.cast(x, "int32")),
    ],
)
def test_per_sample_operations_are_not_refused(op):
    inp = keras.Input((6,))
    model = keras.Model(inp, op(inp))
    x = np.random.default_rng(0).integers(0, 6, size=(3, 6)).astype("float32")
    check_conversion(model, x)
