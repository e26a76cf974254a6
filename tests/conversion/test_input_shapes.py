"""The ``input_shapes`` option: models with unknown input dimensions."""

import keras
import numpy as np
import pytest

import nengo_keras
from nengo_keras.errors import ConversionError
from tests.helpers import assert_close

L = keras.layers


class Scale(L.Layer):
    """A custom layer (no converter: converted by tracing) without ``training``."""

    def call(self, x):
        return x * 2.0 + 1.0


def sequence_model():
    """Two inputs with an unknown length, as keras_hub text models have."""
    tokens = keras.Input((None,), dtype="int32", name="token_ids")
    mask = keras.Input((None,), dtype="int32", name="padding_mask")
    x = L.Embedding(10, 4, name="embed")(tokens)
    x = Scale(name="scale")(x)
    m = keras.ops.expand_dims(keras.ops.cast(mask, "float32"), -1)
    x = L.Dense(3, name="dense")(x * m)
    return keras.Model({"token_ids": tokens, "padding_mask": mask}, x)


@pytest.mark.backends
def test_fixes_unknown_lengths(rng):
    model = sequence_model()
    tokens = rng.integers(0, 10, size=(2, 5)).astype("int32")
    mask = np.ones((2, 5), "int32")
    mask[1, 3:] = 0
    result = nengo_keras.to_nengo(
        model, allow_fallback=False, input_shapes={"token_ids": (5,), "padding_mask": (5,)}
    )
    expected = model.predict({"token_ids": tokens, "padding_mask": mask}, verbose=0)
    # result.inputs are in model.inputs order
    order = [kt.name for kt in result.inputs]
    arrays = {"token_ids": tokens, "padding_mask": mask}
    got = result.predict([arrays[name] for name in order])
    assert_close(got, expected)
    assert result.shape_of("dense") == (5, 3)
    assert {r.name for r in result.report} >= {"embed", "scale", "dense"}  # no "[1]"


def test_list_in_model_inputs_order(rng):
    inp = keras.Input((None, 3))
    model = keras.Model(inp, L.Dense(2)(inp))
    result = nengo_keras.to_nengo(model, input_shapes=[(4, 3)])
    x = rng.uniform(-1, 1, size=(2, 4, 3)).astype("float32")
    assert_close(result.predict([x]), model.predict(x, verbose=0))


def test_leaves_the_model_untouched():
    model = sequence_model()
    layers = model._flatten_layers(include_self=True)
    before = [(x, len(x._inbound_nodes), len(x._outbound_nodes)) for x in layers]
    ops = [op for op in model.operations if not isinstance(op, L.Layer)]
    ops_before = [len(op._inbound_nodes) for op in ops]
    weights = [w.numpy().copy() for w in model.weights]
    nengo_keras.to_nengo(model, input_shapes={"token_ids": (5,), "padding_mask": (5,)})
    assert [(x, len(x._inbound_nodes), len(x._outbound_nodes)) for x in layers] == before
    assert [len(op._inbound_nodes) for op in ops] == ops_before
    assert all(np.array_equal(w.numpy(), v) for w, v in zip(model.weights, weights))
    assert [tuple(x.shape) for x in model.inputs] == [(None, None), (None, None)]
    # the model is still usable at any length
    out = model.predict({"token_ids": np.zeros((1, 7), "int32"),
                         "padding_mask": np.ones((1, 7), "int32")}, verbose=0)
    assert out.shape == (1, 7, 3)


def test_error_for_unknown_dimensions_names_the_option():
    with pytest.raises(ConversionError, match="input_shapes"):
        nengo_keras.to_nengo(sequence_model())


@pytest.mark.parametrize(
    "shapes, error, match",
    [
        ({"tokens": (5,), "padding_mask": (5,)}, ValueError, r"\['tokens'\].*'token_ids'"),
        ({"token_ids": (5, 1), "padding_mask": (5,)}, ValueError, "has 2 dimensions"),
        ({"token_ids": (0,), "padding_mask": (5,)}, ValueError, "positive"),
        ({"token_ids": (5,)}, ValueError, "no shape for input 'padding_mask'"),
        ([(5,)], ValueError, "1 shapes, but the model has 2 inputs"),
        ({"token_ids": "5"}, TypeError, "tuple of ints"),
        ((5,), TypeError, r"write \[\(5,\)\]"),
        ({1: (5,)}, TypeError, "keys must be input names"),
    ],
)
def test_bad_input_shapes(shapes, error, match):
    with pytest.raises(error, match=match):
        nengo_keras.to_nengo(sequence_model(), input_shapes=shapes)


def test_only_unknown_dimensions_can_be_set():
    inp = keras.Input((None, 3), name="x")
    model = keras.Model(inp, L.Dense(2)(inp))
    with pytest.raises(ValueError, match="fixes dimension 1 of input 'x' to 3"):
        nengo_keras.to_nengo(model, input_shapes={"x": (4, 5)})


def test_known_shapes_convert_the_model_itself():
    inp = keras.Input((4,), name="x")
    model = keras.Model(inp, L.Dense(2)(inp))
    result = nengo_keras.to_nengo(model, input_shapes={"x": (4,)})
    assert list(result.inputs) == [inp]  # no re-tracing: the model's own tensors


def test_verify_with_dict_inputs_and_outputs():
    tokens = keras.Input((None,), dtype="int32", name="token_ids")
    mask = keras.Input((None,), dtype="int32", name="padding_mask")
    x = L.Embedding(10, 4)(tokens) * keras.ops.expand_dims(mask, -1)
    model = keras.Model(
        {"token_ids": tokens, "padding_mask": mask},
        {"sequence": x, "pooled": keras.ops.mean(x, axis=1)},
    )
    result = nengo_keras.to_nengo(model, input_shapes={"token_ids": (4,), "padding_mask": (4,)})
    assert result.verify()
