"""nengo_keras.converters.traced: custom layers convert through what their call is made of."""

import keras
import pytest

import nengo_keras
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
