"""SimpleRNN, GRU, LSTM and Bidirectional as NumPy Nodes, against Keras."""

import keras
import numpy as np
import pytest

import nengo_keras
from tests.helpers import check_conversion, tiers

L = keras.layers

LAYERS = {
    "simple": lambda: L.SimpleRNN(4),
    "simple_relu_backwards": lambda: L.SimpleRNN(
        4, activation="relu", go_backwards=True, return_sequences=True
    ),
    "lstm": lambda: L.LSTM(5),
    "lstm_no_bias_hard_sigmoid": lambda: L.LSTM(
        3, use_bias=False, recurrent_activation="hard_sigmoid", return_sequences=True
    ),
    "gru": lambda: L.GRU(4),
    "gru_reset_before": lambda: L.GRU(4, reset_after=False, return_sequences=True),
    "gru_backwards": lambda: L.GRU(4, go_backwards=True),
}


@pytest.mark.parametrize("make", LAYERS.values(), ids=LAYERS.keys())
def test_recurrent_layer(make):
    inp = keras.Input((6, 3))
    layer = make()
    layer_name = layer.name
    model = keras.Model(inp, layer(inp))
    result = check_conversion(model, allow_fallback=False)
    assert tiers(result) == {layer_name: "node"}


@pytest.mark.backends
def test_stacked_recurrent_layers_with_states():
    """An encoder's final states start a decoder (return_state, initial_state)."""
    inp = keras.Input((6, 3))
    seq = L.LSTM(4, return_sequences=True)(inp)
    enc, h, c = L.LSTM(4, return_state=True)(seq)
    dec = L.LSTM(4, return_sequences=True)(inp, initial_state=[h, c])
    model = keras.Model(inp, [L.GRU(2)(dec), enc])
    result = check_conversion(model, allow_fallback=False)
    assert set(tiers(result).values()) == {"node"}


def test_initial_states_as_model_inputs():
    inp, h0 = keras.Input((5, 3)), keras.Input((4,))
    model = keras.Model([inp, h0], L.GRU(4, return_sequences=True)(inp, initial_state=h0))
    check_conversion(model, allow_fallback=False)


@pytest.mark.parametrize(
    "make",
    [
        lambda: L.LSTM(4, return_sequences=True),
        lambda: L.GRU(4, go_backwards=True, return_sequences=True),
        lambda: L.SimpleRNN(4, return_sequences=True, zero_output_for_mask=True),
        lambda: L.Bidirectional(L.LSTM(2, return_sequences=True)),
    ],
)
def test_masked_sequences(make):
    """Masked steps keep the previous output and state, as in Keras."""
    inp = keras.Input((6,), dtype="int32")
    x = L.Embedding(9, 3, mask_zero=True)(inp)
    model = keras.Model(inp, make()(x))
    ids = np.array([[1, 2, 3, 0, 0, 0], [0, 0, 4, 5, 6, 7], [8, 1, 0, 2, 0, 3]])
    check_conversion(model, ids, allow_fallback=False)


@pytest.mark.parametrize("merge_mode", ["concat", "sum", "ave", "mul", None])
@pytest.mark.parametrize("return_sequences", [True, False])
def test_bidirectional(merge_mode, return_sequences):
    inp = keras.Input((5, 3))
    out = L.Bidirectional(
        L.GRU(3, return_sequences=return_sequences), merge_mode=merge_mode, name="bi"
    )(inp)
    result = check_conversion(keras.Model(inp, out), allow_fallback=False)
    assert tiers(result) == {"bi": "node"}


def test_unsupported_recurrent_options_fall_back_or_are_reported():
    inp = keras.Input((4, 2), batch_size=2)
    model = keras.Model(inp, L.SimpleRNN(3, stateful=True, name="stateful")(inp))
    with pytest.raises(nengo_keras.ConversionError, match="(?s)stateful.*stateful=False"):
        nengo_keras.to_nengo(model, allow_fallback=False)
    inp = keras.Input((4, 2))
    model = keras.Model(inp, L.SimpleRNN(3, activation="softsign", name="odd")(inp))
    with pytest.warns(UserWarning, match="odd"):
        result = check_conversion(model)
    assert tiers(result) == {"odd": "fallback"}
