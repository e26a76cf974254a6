"""The custom layers of keras.applications models, each in a tiny model.

nengo_keras has no converter for them: like a user's own custom layers, they
convert through the keras.ops their ``call`` is made of (tracing), and fold
into the neighbouring connections.
"""

import keras
import pytest

from nengo_keras.conversion import graph as kg
from tests.helpers import check_conversion

L = keras.layers
LayerScale = kg.layer_class("applications.convnext.LayerScale")
StochasticDepth = kg.layer_class("applications.convnext.StochasticDepth")
CustomScaleLayer = kg.layer_class("applications.inception_resnet_v2.CustomScaleLayer")


def assert_folded(result, name):
    """The layer became no Nengo objects: its maps fold into the connections."""
    (report,) = [r for r in result.report if r.name == name]
    assert report.converter == "convert_traced"
    assert report.tier == "neural"
    assert report.n_nodes == report.n_neurons == 0
    assert len(result.net.all_nodes) == len(result.inputs)


@pytest.mark.backends
def test_convnext_layer_scale_and_stochastic_depth():
    inp = keras.Input((4, 4, 6))
    x = L.Dense(6, activation="relu")(inp)
    x = L.Dense(6)(x)
    x = LayerScale(0.5, 6, name="scale")(x)
    x = StochasticDepth(0.1, name="drop")(x)
    x = L.Add()([inp, x])
    out = L.Dense(3, activation="relu")(L.Activation("relu")(x))
    model = keras.Model(inp, out)
    model.get_layer("scale").gamma.assign(keras.random.normal((6,)))
    result = check_conversion(model)
    assert_folded(result, "scale")
    assert_folded(result, "drop")


@pytest.mark.backends
def test_inception_resnet_custom_scale_layer():
    inp = keras.Input((5, 5, 4))
    branch = L.Conv2D(4, 3, padding="same", activation="relu")(inp)
    up = L.Conv2D(4, 1, bias_initializer="normal")(branch)
    x = CustomScaleLayer(0.17, name="residual")([inp, up])
    out = L.Activation("relu")(x)
    result = check_conversion(keras.Model(inp, out))
    assert_folded(result, "residual")
