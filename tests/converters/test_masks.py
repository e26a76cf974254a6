"""Keras' implicit masks (``Embedding(mask_zero=True)``, ``Masking``) reach
every layer that consumes them, as in ``model.predict``."""

import keras
import numpy as np
import pytest

import nengo_keras
from tests.helpers import assert_close, check_conversion

L = keras.layers

TOKENS = np.array([[1, 2, 3, 0, 0], [4, 5, 0, 0, 0], [6, 1, 2, 3, 4]])


def _embedded(width=4):
    """An int input and its embedding, masked where the token is 0."""
    inp = keras.Input((5,), dtype="int32")
    return inp, L.Embedding(7, width, mask_zero=True)(inp)


def _mha(e):
    return L.MultiHeadAttention(2, 3)(e, e)


def _cross_mha(e):
    # query and value with different masks
    inp2 = keras.Input((5,), dtype="int32")
    e2 = L.Embedding(7, 4, mask_zero=True)(inp2)
    return [inp2], L.MultiHeadAttention(2, 3)(e, e2)


def _gqa(e):
    return L.GroupQueryAttention(4, 2, 1)(e, e)


def _attention(e):
    return L.Attention()([e, e])


def _additive(e):
    return L.AdditiveAttention()([e, e])


def _dense_then_mha(e):
    # the mask passes through Dense, LayerNormalization and Dropout
    h = L.Dropout(0.5)(L.LayerNormalization()(L.Dense(4)(e)))
    return L.MultiHeadAttention(2, 3)(h, h)


def _add_then_mha(e):
    h = L.Add()([e, L.Dense(4)(e)])
    return L.MultiHeadAttention(2, 3)(h, h)


def _gap(e):
    return L.GlobalAveragePooling1D()(e)


def _gmp(e):
    return L.GlobalMaxPooling1D()(e)  # takes no mask: Keras ignores it too


def _lstm(e):
    return L.LSTM(3, return_sequences=True)(e)


def _bidirectional(e):
    return L.Bidirectional(L.GRU(3))(e)


def _batchnorm(e):
    return L.BatchNormalization()(e)  # uses the mask only when training


def _lambda(e):
    def zero_masked(x, mask):
        return x * keras.ops.cast(mask, x.dtype)[..., None]

    return L.Lambda(zero_masked, output_shape=(5, 4))(e)


def _time_distributed(e):
    return L.TimeDistributed(L.Dense(3))(e)


def test_time_distributed_layer_that_takes_the_mask():
    # Keras hands the wrapped layer the mask of each step
    inp = keras.Input((3, 4, 2))
    out = L.TimeDistributed(L.GlobalAveragePooling1D())(L.Masking(0.0)(inp))
    model = keras.Model(inp, out)
    x = np.random.default_rng(0).uniform(size=(2, 3, 4, 2))
    x[0, 1, 2:] = 0.0
    x[1, 0, :3] = 0.0
    with pytest.raises(nengo_keras.ConversionError, match="time_distributed"):
        nengo_keras.to_nengo(model, allow_fallback=False)
    check_conversion(model, x)


def _nested(e):
    inner_in = keras.Input((5, 4))
    inner = keras.Model(inner_in, L.MultiHeadAttention(2, 3)(inner_in, inner_in))
    return inner(e)


CONSUMERS = [
    _mha, _cross_mha, _gqa, _attention, _additive, _dense_then_mha, _add_then_mha,
    _gap, _gmp, _lstm, _bidirectional, _batchnorm, _lambda,
    _time_distributed, _nested,
]


def _model(consumer):
    inp, e = _embedded()
    out = consumer(e)
    extra = []
    if isinstance(out, tuple):
        extra, out = out
    model = keras.Model([inp] + extra, out)
    data = [TOKENS] + [TOKENS[::-1]] * len(extra)
    return model, data


@pytest.mark.parametrize("consumer", CONSUMERS, ids=lambda f: f.__name__[1:])
def test_implicit_masks_are_applied(consumer):
    model, data = _model(consumer)
    expected = model.predict(data if len(data) > 1 else data[0], verbose=0)
    try:
        result = nengo_keras.to_nengo(model, allow_fallback=False)
    except nengo_keras.ConversionError as e:
        # refused: the error names a layer of the model
        names = {layer.name for layer, _, _ in e.problems}
        assert names & {layer.name for layer in model.layers}, str(e)
        result = nengo_keras.to_nengo(model)  # the Keras fallback gets the mask
    got = result.predict(data if len(data) > 1 else data[0])
    assert_close(got, expected)


def test_masked_attention_converts_without_fallback():
    model, data = _model(_mha)
    check_conversion(model, data[0], allow_fallback=False)


def test_model_keeps_its_graph():
    model, data = _model(_mha)
    before = [list(layer._inbound_nodes) for layer in model.layers]
    nengo_keras.to_nengo(model)
    assert [list(layer._inbound_nodes) for layer in model.layers] == before


def test_masked_attention_as_a_fallback_node():
    # the Keras Node puts the masks back on its inputs, where the layer reads them
    model, data = _model(_mha)
    mha = model.layers[-1]
    result = check_conversion(model, data[0], converters={type(mha): _refuse})
    assert {r.name: r.tier for r in result.report}[mha.name] == "fallback"


def _refuse(layer, ctx, *inputs, **kwargs):
    ctx.unsupported("refused by the test")
