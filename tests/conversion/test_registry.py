"""The converter registry: lookup order, the layer's own to_nengo, overwrite
warnings, and the one `Table` mechanism."""

import warnings

import keras
import nengo
import pytest

import nengo_keras
from nengo_keras.conversion import registry
from tests.helpers import check_conversion


class AddOne(keras.layers.Layer):
    """A custom layer with its own to_nengo and no NengoConvertible mixin."""

    def call(self, x):
        return x + 1

    def to_nengo(self, ctx, x):
        out = nengo.Node(size_in=x.size_out)
        nengo.Connection(x, out, synapse=None)
        nengo.Connection(nengo.Node([1.0] * x.size_out), out, synapse=None)
        return out


class NoInputsInSignature(keras.layers.Layer):
    def call(self, x):
        return x * 2

    def to_nengo(self):  # the protocol cannot call this
        raise AssertionError("never called")


def _model(layer):
    inp = keras.Input((3,))
    return keras.Model(inp, keras.layers.Dense(2)(layer(inp)))


def test_own_to_nengo_without_the_mixin():
    result = check_conversion(_model(AddOne(name="add_one")), allow_fallback=False)
    (line,) = [r for r in result.report if r.name == "add_one"]
    assert line.converter == "AddOne.to_nengo"
    assert line.n_nodes == 2  # its own Nodes, not a traced x + 1


def test_own_to_nengo_with_the_mixin():
    class Mixed(nengo_keras.NengoConvertible, AddOne):
        pass

    result = check_conversion(_model(Mixed(name="mixed")))
    assert [r.converter for r in result.report if r.name == "mixed"] == ["AddOne.to_nengo"]


def test_uncallable_to_nengo_warns_and_is_not_used():
    layer = NoInputsInSignature(name="double")
    with pytest.warns(UserWarning, match=r"cannot be called as to_nengo\(self, ctx, \*inputs\)"):
        result = check_conversion(_model(layer))
    # traced instead: x * 2 is linear
    assert [r.tier for r in result.report if r.name == "double"] == ["neural"]


def test_register_converter_warns_on_overwrite():
    class Twice(keras.layers.Layer):
        def call(self, x):
            return x

    def first(layer, ctx, x):
        return x

    def second(layer, ctx, x):
        return x

    try:
        nengo_keras.register_converter(Twice, first)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            nengo_keras.register_converter(Twice, first)  # the same function: no warning
        with pytest.warns(UserWarning, match="second replaces the converter registered for Twice"):
            nengo_keras.register_converter(Twice, second)
        assert registry.find_converter(Twice()).fn is second
    finally:
        nengo_keras.unregister_converter(Twice)


def test_user_functions_are_adapted_once_at_registration():
    class Scale2(keras.layers.Layer):
        def call(self, x):
            return 2 * x

    seen = []

    def convert(layer, ctx, x):
        seen.append(type(x))
        out = nengo.Node(size_in=x.size_out)
        nengo.Connection(x, out, transform=2.0, synapse=None)
        return out

    try:
        nengo_keras.register_converter(Scale2, convert)
        entry = registry.find_converter(Scale2())
        assert entry.fn is convert and entry.call is not convert
        assert entry.call is registry.find_converter(Scale2()).call
        check_conversion(_model(Scale2()))
        assert seen and all(issubclass(t, nengo.Node) for t in seen)
    finally:
        nengo_keras.unregister_converter(Scale2)


def test_table_by_mro_stops_at_own_call():
    table = registry.Table("rule")
    table.register(keras.layers.Dense, "dense")

    class Plain(keras.layers.Dense):
        pass

    class OwnMaths(keras.layers.Dense):
        def call(self, x):
            return super().call(x) * 2

    assert table.by_mro(Plain) == "dense"
    assert table.by_mro(OwnMaths) is None


def test_one_mechanism_for_every_table():
    tables = [
        registry.CONVERTERS,
        registry.ACTIVATIONS,
        registry.TIME_RULES,
        registry.SHAPE_RULES,
        registry.TIME_MARKERS,
        registry.HOOKS,
    ]
    assert all(isinstance(t, registry.Table) for t in tables)
    assert registry.CONVERTERS.by_mro(keras.layers.Dense) is not None
    assert registry.ACTIVATIONS.get("gelu") is not None
    assert registry.TIME_RULES.by_mro(keras.layers.Dense) is not None
    assert nengo_keras.layers.SpikingActivation in registry.TIME_MARKERS
    assert registry.ACTIVATIONS.by_mro(nengo_keras.spiking.SpikeAware) is not None
