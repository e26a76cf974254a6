"""nengo_keras.run.simulation: turning user data into per-sample Node inputs and running them."""

import keras
import numpy as np
import pytest

import nengo_keras
from nengo_keras.run.simulation import format_inputs, prepare_inputs
from tests.helpers import assert_close


def two_input_model():
    a = keras.Input((3,), name="a")
    b = keras.Input((2,), name="b")
    out = keras.layers.Dense(2, name="out")(keras.layers.Concatenate()([a, b]))
    return keras.Model([a, b], out)


def test_inputs_by_position_by_name_and_by_tensor_agree():
    model = two_input_model()
    result = nengo_keras.to_nengo(model)
    rng = np.random.default_rng(0)
    xa, xb = rng.normal(size=(4, 3)), rng.normal(size=(4, 2))
    for given in ([xa, xb], {"b": xb, "a": xa}, {model.inputs[0]: xa, "b": xb}):
        arrays = format_inputs(result, given)
        np.testing.assert_array_equal(arrays[0], xa)
        np.testing.assert_array_equal(arrays[1], xb)
    assert_close(result.predict([xa, xb]), model.predict([xa, xb], verbose=0))


def test_bad_inputs_are_clear_errors():
    result = nengo_keras.to_nengo(two_input_model())
    with pytest.raises(ValueError, match=r"no data given for model inputs \['b'\]"):
        format_inputs(result, {"a": np.ones((1, 3))})
    with pytest.raises(ValueError, match="2 inputs but 1 arrays"):
        format_inputs(result, np.ones((1, 3)))
    with pytest.raises(ValueError, match="different batch sizes"):
        format_inputs(result, [np.ones((1, 3)), np.ones((2, 2))])
    with pytest.raises(ValueError, match="input 'a' expects data of shape"):
        prepare_inputs(result, [np.ones((1, 4)), np.ones((1, 2))], n_steps=1)


def test_a_time_axis_sets_the_number_of_steps():
    result = nengo_keras.to_nengo(two_input_model())
    constant, varying = np.ones((2, 3)), np.ones((2, 5, 2))
    data, n_steps = prepare_inputs(result, [constant, varying], n_steps=1)
    assert n_steps == 5
    assert data[0].shape == (2, 3) and data[1].shape == (2, 5, 2)
    _, n_steps = prepare_inputs(result, [constant, np.ones((2, 2))], n_steps=7)
    assert n_steps == 7
    with pytest.raises(ValueError, match="different numbers of steps"):
        prepare_inputs(result, [np.ones((2, 4, 3)), varying], n_steps=1)
