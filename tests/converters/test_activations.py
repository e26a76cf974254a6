import keras
import nengo
import pytest

import nengo_keras
from tests.helpers import check_conversion, tiers

L = keras.layers


@pytest.mark.parametrize(
    "layer",
    [
        L.ReLU(),
        L.ReLU(max_value=6.0),
        L.ReLU(negative_slope=0.1),
        L.ReLU(max_value=1.5, negative_slope=0.2),
        L.LeakyReLU(negative_slope=0.3),
    ],
)
def test_relu_family_is_neural_and_exact(layer):
    inp = keras.Input((10,))
    x = L.Dense(10, bias_initializer="normal", kernel_initializer=keras.initializers.RandomNormal(stddev=4.0))(inp)
    layer.name  # noqa: B018
    out = layer(x)
    result = check_conversion(keras.Model(inp, out))
    assert result.report[-1].tier == "neural"


def test_relu_with_threshold_is_a_node():
    inp = keras.Input((10,))
    out = L.ReLU(threshold=0.5, name="thr")(L.Dense(10)(inp))
    result = check_conversion(keras.Model(inp, out))
    assert tiers(result)["thr"] == "node"


def test_relu6_spikes_when_relu_is_swapped():
    inp = keras.Input((4,))
    out = L.ReLU(max_value=6.0)(L.Dense(4)(inp))
    result = nengo_keras.to_nengo(
        keras.Model(inp, out), swap_activations={"relu": nengo.SpikingRectifiedLinear()}
    )
    assert {type(e.neuron_type) for e in result.net.all_ensembles} == {nengo.SpikingRectifiedLinear}
