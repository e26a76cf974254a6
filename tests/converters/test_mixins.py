"""Custom layers that convert by declaring what they compute (nengo_keras.mixins)."""

import keras
import nengo
import numpy as np
import pytest

import nengo_keras
from nengo_keras.converters.fallback import KerasCall
from tests.helpers import check_conversion, tiers

L = keras.layers
ops = keras.ops


class Ramp(nengo_keras.Elementwise, L.Layer):
    breakpoints = (0.0, 1.0)

    def call(self, x):
        return ops.clip(x, 0.0, 1.0)


class Bent(nengo_keras.Elementwise, L.Layer):
    """Slope 0.5 left of -1, 2 up to 0.5, -1 beyond; per-channel offsets."""

    breakpoints = (-1.0, 0.5)

    def build(self, shape):
        self.offset = self.add_weight(shape=shape[-1:], initializer="normal")

    def call(self, x):
        y = ops.where(x < -1, 0.5 * (x + 1) - 2, 2 * x)
        return ops.where(x > 0.5, 1.5 - x, y) + self.offset


class Shift(nengo_keras.Elementwise, L.Layer):
    breakpoints = ()

    def call(self, x):
        return 3.0 * x - 1.0


class Softsign(nengo_keras.Elementwise, L.Layer):
    def call(self, x):
        return x / (1 + ops.abs(x))


class SoftsignNumpy(Softsign):
    def numpy_call(self, x):
        return x / (1 + np.abs(x))


def model_of(layer, shape=(3, 4), dense=True):
    inp = keras.Input(shape)
    x = L.Dense(shape[-1], bias_initializer="normal")(inp) if dense else inp
    return keras.Model(inp, layer(x))


@pytest.mark.backends
@pytest.mark.parametrize("layer, kinks", [(Ramp, 2), (Bent, 2), (Shift, 0)])
def test_piecewise_linear_elementwise_is_neural(layer, kinks):
    model = model_of(layer(name="pwl"))
    result = check_conversion(model, inputs=np.random.default_rng(1).uniform(-3, 3, (2, 3, 4)))
    assert tiers(result)["pwl"] == "neural"
    assert result.report[-1].n_neurons == kinks * 12
    assert result.report[-1].n_nodes == 0


def test_piecewise_linear_uses_the_relu_swap():
    model = model_of(Ramp(name="pwl"), dense=False)
    result = nengo_keras.to_nengo(model, swap_activations={"relu": nengo.SpikingRectifiedLinear()})
    (ens,) = result.net.all_ensembles
    assert isinstance(ens.neuron_type, nengo.SpikingRectifiedLinear)


@pytest.mark.parametrize("layer", [Softsign, SoftsignNumpy])
def test_elementwise_node(layer):
    result = check_conversion(model_of(layer(name="soft")))
    assert tiers(result)["soft"] == "node"
    (node,) = [n for n in result.net.all_nodes if n.size_in]
    calls_keras = isinstance(node.output.fn, KerasCall)
    assert calls_keras == (layer is Softsign)  # numpy_call, where defined, runs instead


class NotElementwise(nengo_keras.Elementwise, L.Layer):
    def call(self, x):
        return ops.softmax(x)


class WrongBreakpoints(nengo_keras.Elementwise, L.Layer):
    breakpoints = (0.0,)

    def call(self, x):
        return ops.tanh(x)


class WrongNumpy(Softsign):
    def numpy_call(self, x):
        return np.tanh(x)


class NotRearranging(nengo_keras.Rearranging, L.Layer):
    def call(self, x):
        return 2.0 * x


class NotAffine(nengo_keras.Affine, L.Layer):
    def call(self, x):
        return ops.relu(x)


@pytest.mark.parametrize(
    "layer, mixin, message",
    [
        (NotElementwise, "Elementwise", "depend on other input elements"),
        (WrongBreakpoints, "Elementwise", "not linear between its breakpoints [0.0]"),
        (WrongNumpy, "Elementwise", "numpy_call differs"),
        (NotRearranging, "Rearranging", "not made of copies"),
        (NotAffine, "Affine", "not an affine function"),
    ],
)
def test_wrong_declarations_name_the_layer(layer, mixin, message):
    model = model_of(layer(name="liar"))
    with pytest.raises(nengo_keras.ConversionError, match="liar") as info:
        nengo_keras.to_nengo(model)
    assert message in str(info.value)
    assert f"declares itself nengo_keras.{mixin}" in str(info.value)


class Interleave(nengo_keras.Rearranging, L.Layer):
    def call(self, inputs):
        a, b = inputs
        return ops.reshape(ops.stack([a, b], axis=-1), (-1, 8)), ops.flip(a, axis=1)


@pytest.mark.backends
def test_rearranging_layer_has_no_nengo_objects():
    a, b = keras.Input((4,)), keras.Input((4,))
    ha = L.Dense(4, activation="relu")(a)
    hb = L.Dense(4, activation="relu")(b)
    out, flipped = Interleave(name="mix")([ha, hb])
    result = check_conversion(keras.Model([a, b], [L.Dense(3)(out), flipped]))
    assert tiers(result)["mix"] == "neural"
    assert result.report[2].n_nodes == result.report[2].n_neurons == 0


class WeightedSum(nengo_keras.Affine, L.Layer):
    def call(self, inputs):
        a, b = inputs
        return 0.3 * a + 0.7 * b + 1.0


class RunningSum(nengo_keras.Affine, L.Layer):
    def call(self, x):
        return ops.cumsum(x, axis=1) - 0.5


@pytest.mark.backends
def test_affine_elementwise_layer_folds_into_kernels():
    a, b = keras.Input((5,)), keras.Input((5,))
    ha = L.Dense(5, activation="relu")(a)
    hb = L.Dense(5, activation="relu")(b)
    s = WeightedSum(name="ws")([ha, hb])
    out = L.Dense(2, activation="relu")(s)
    result = check_conversion(keras.Model([a, b], out))
    # the 0.3/0.7 factors and the offset fold into the next Dense: no Nodes
    assert len(result.net.all_nodes) == 2  # the inputs


def test_affine_layer_with_a_full_matrix():
    model = model_of(RunningSum(name="cs"), shape=(6, 2))
    result = check_conversion(model)
    assert tiers(result)["cs"] == "neural"


class ForeignScale(L.Layer):
    def call(self, x):
        return x * 2.0 + 1.0


@pytest.mark.parametrize("how", ["register_converter", "converters="])
def test_mixin_converter_serves_foreign_classes(how):
    model = model_of(ForeignScale(name="f"))
    if how == "converters=":
        result = check_conversion(model, converters={ForeignScale: nengo_keras.Affine.to_nengo})
    else:
        nengo_keras.register_converter(ForeignScale, nengo_keras.Affine.to_nengo)
        try:
            result = check_conversion(model)
        finally:
            nengo_keras.unregister_converter(ForeignScale)
    assert result.report[-1].converter == "convert_affine"
    assert tiers(result)["f"] == "neural"
    assert result.report[-1].n_nodes == 0


class OwnConversion(Softsign):
    """A subclass may still convert itself with Nengo objects."""

    def to_nengo(self, ctx, x):
        assert isinstance(x, nengo.Node)
        out = nengo.Node(size_in=x.size_out)
        nengo.Connection(x, out, function=lambda v: v / (1 + np.abs(v)), synapse=None)
        return out


def test_subclass_with_its_own_to_nengo_gets_nengo_objects():
    check_conversion(model_of(OwnConversion(), dense=False))
