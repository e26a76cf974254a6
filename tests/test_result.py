"""`ConvertedModel`: running, structure of the outputs, verify, pickling."""

import threading

import keras
import numpy as np

import nengo_keras
from tests.helpers import assert_close

L = keras.layers


def _dense_model(n_in=4, n_out=3):
    inp = keras.Input((n_in,))
    out = L.Dense(n_out, activation="tanh")(inp)
    return keras.Model(inp, out)


def test_predict_from_several_threads_on_one_result():
    # every thread feeds its own batch to the same input Node
    model = _dense_model()
    result = nengo_keras.to_nengo(model)
    xs = [np.random.default_rng(i).uniform(-1, 1, size=(12, 4)) for i in range(4)]
    got, errors = [None] * len(xs), []
    start = threading.Barrier(len(xs))

    def work(i):
        try:
            start.wait()
            got[i] = result.predict(xs[i], n_steps=3)
        except Exception as e:  # noqa: BLE001  (reported by the assertion below)
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(xs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for i, x in enumerate(xs):
        assert_close(got[i], model.predict(x, verbose=0), what=f"thread {i}")
