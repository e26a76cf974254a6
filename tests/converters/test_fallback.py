"""nengo_keras.converters.fallback: Nodes that compute a layer with Keras itself."""

import keras
import pytest

from tests.conversion.test_walk import Unknown
from tests.helpers import check_conversion, tiers

L = keras.layers


def test_fallback_node_computes_keras_layer():
    inp = keras.Input((4,))
    x = L.Dense(3)(inp)
    out = Unknown(name="unknown")(x)
    model = keras.Model(inp, out)
    with pytest.warns(UserWarning, match="unknown"):
        result = check_conversion(model)
    assert tiers(result)["unknown"] == "fallback"


class NoisyUnknown(L.Layer):
    """A running product (no Nengo equivalent), plus noise unless ``training`` is False."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        # seeded: JAX refuses unseeded random ops in traced functions
        self.seed_generator = keras.random.SeedGenerator(1)

    def call(self, x, training=True):
        x = keras.ops.cumprod(x, axis=-1)
        if training:
            x = x + keras.random.normal(keras.ops.shape(x), seed=self.seed_generator)
        return x


def test_fallback_node_runs_the_layer_in_inference_mode():
    """model.predict calls layers with training=False, whatever their default
    (and whatever the functional graph recorded): so does the fallback."""
    inp = keras.Input((4,))
    model = keras.Model(inp, NoisyUnknown(name="noisy")(L.Dense(4)(inp)))
    with pytest.warns(UserWarning, match="noisy"):
        result = check_conversion(model)
    assert tiers(result)["noisy"] == "fallback"
