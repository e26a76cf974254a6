"""nengo_keras.converters.nested: nested models become subnetworks."""

import keras

from tests.helpers import check_conversion

L = keras.layers


def test_nested_models_become_subnetworks():
    inner = keras.Sequential(
        [keras.Input((6,)), L.Dense(5, activation="relu"), L.Dense(4)], name="inner"
    )
    inp = keras.Input((6,))
    x = inner(inp)
    inner_f_in = keras.Input((4,))
    inner_f = keras.Model(inner_f_in, L.Dense(3, activation="tanh")(inner_f_in), name="f")
    out = inner_f(x)
    model = keras.Model(inp, out)
    result = check_conversion(model)
    labels = {n.label for n in result.net.networks}
    assert {"inner", "f"} <= labels
    paths = {r.path for r in result.report}
    assert {"inner", "f"} <= paths
