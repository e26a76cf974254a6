import keras
import numpy as np
import pytest

from tests.helpers import check_conversion, tiers

ops = keras.ops


def _model(fn, shape=(3, 4), n_inputs=1):
    inputs = [keras.Input(shape) for _ in range(n_inputs)]
    hidden = [keras.layers.Dense(shape[-1], bias_initializer="normal")(x) for x in inputs]
    return keras.Model(inputs, fn(*hidden))


@pytest.mark.parametrize(
    "fn",
    [
        lambda x: x + 1,
        lambda x: 2.0 - x,
        lambda x: x * 3,
        lambda x: x / 4,
        lambda x: -x,
        lambda x: x * np.arange(4.0),
        lambda x: ops.reshape(x, (-1, 2, 6)),
        lambda x: ops.transpose(x, (0, 2, 1)),
        lambda x: ops.expand_dims(x, 1),
        lambda x: x[:, 1:, ::2],
        lambda x: ops.flip(x, axis=1),
        lambda x: ops.sum(x, axis=-1),
        lambda x: ops.mean(x, axis=1, keepdims=True),
        lambda x: ops.matmul(x, np.ones((4, 2), "float32")),
        lambda x: ops.relu(x),
        lambda x: ops.sigmoid(x),
        lambda x: ops.tanh(x),
        lambda x: ops.abs(x),
        lambda x: ops.clip(x, -0.5, 0.5),
        lambda x: ops.maximum(x, 0.2),
        lambda x: ops.minimum(x, 0.1),
        lambda x: ops.leaky_relu(x, negative_slope=0.3),
    ],
)
def test_unary_ops_are_neural(fn):
    result = check_conversion(_model(fn))
    assert set(tiers(result).values()) == {"neural"}


@pytest.mark.parametrize(
    "fn",
    [
        lambda a, b: a + b,
        lambda a, b: ops.subtract(a, b),
        lambda a, b: ops.maximum(a, b),
        lambda a, b: ops.concatenate([a, b], axis=1),
        lambda a, b: ops.stack([a, b], axis=1),
    ],
)
def test_binary_ops_are_neural(fn):
    result = check_conversion(_model(fn, n_inputs=2))
    assert set(tiers(result).values()) == {"neural"}


def test_product_of_tensors_is_a_node():
    result = check_conversion(_model(lambda a, b: a * b, n_inputs=2))
    assert "node" in tiers(result).values()
