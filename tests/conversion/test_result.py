"""nengo_keras.conversion.result: the converted model, its report, run, present,
verify, the structure of the outputs, threads and pickling."""

import threading

import keras
import nengo
import numpy as np
import pytest

import nengo_keras
from tests.helpers import assert_close, dense_model, random_inputs

L = keras.layers


def test_run_accepts_dict_inputs_and_time_varying_data():
    a = keras.Input((2,), name="a")
    b = keras.Input((2,), name="b")
    out = L.Add()([a, b])
    model = keras.Model([a, b], out)
    result = nengo_keras.to_nengo(model)
    xa = np.arange(8.0).reshape(2, 2, 2)  # (batch, n_steps, 2): time-varying
    xb = np.ones((2, 2))  # constant
    got = result.run({"a": xa, model.inputs[1]: xb})
    assert got.shape == (2, 2, 2)
    np.testing.assert_allclose(got, xa + 1)


def test_present_feeds_a_users_own_simulator():
    model = dense_model()
    result = nengo_keras.to_nengo(model)
    x = random_inputs(model, batch=1)[0][0]
    probe = result.outputs[model.output]
    result.present(x)
    with nengo.Simulator(result.net, progress_bar=False) as sim:
        sim.run_steps(3)
    assert_close(sim.data[probe][-1], model.predict(x[None], verbose=0)[0])
    result.present(None)
    with nengo.Simulator(result.net, progress_bar=False) as sim:
        sim.step()
    assert_close(sim.data[probe][-1], model.predict(np.zeros_like(x)[None], verbose=0)[0])
    assert_close(result.predict(x[None]), model.predict(x[None], verbose=0))


def test_verify_reports_mismatch():
    result = nengo_keras.to_nengo(
        dense_model(), swap_activations={"relu": nengo.LIFRate()}
    )
    with pytest.raises(ValueError, match="differs from Keras"):
        result.verify()


def test_report_summary_and_layers_mapping():
    model = dense_model()
    result = nengo_keras.to_nengo(model)
    text = result.summary()
    assert "hidden" in text and "neural" in text
    assert result.tier_summary() == {"neural": {"layers": 2, "neurons": 16}}
    hidden = result.layers["hidden"]
    assert isinstance(hidden, nengo.ensemble.Neurons)
    out = result.layers[model.output]  # linear output: a pass-through node on demand
    assert isinstance(out, nengo.Node) and out.output is None
    with pytest.raises(KeyError):
        result.layers["missing"]


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


def _dict_model():
    a = keras.Input((3,), name="a")
    b = keras.Input((2,), name="b")
    h = L.Dense(4, activation="relu", name="h")(L.Concatenate()([a, b]))
    z = L.Dense(2, name="z")(h)
    # keys out of sorted order, as users write them
    return keras.Model({"b": b, "a": a}, {"zeta": z, "alpha": h})


def _assert_same_structure(got, expected):
    assert type(got) is type(expected)
    if isinstance(expected, dict):
        assert list(got) == list(expected)
    flat_got, flat_expected = keras.tree.flatten(got), keras.tree.flatten(expected)
    assert len(flat_got) == len(flat_expected)
    for g, e in zip(flat_got, flat_expected):
        assert_close(g, e)


def test_dict_outputs_come_back_as_keras_returns_them():
    model = _dict_model()
    rng = np.random.default_rng(0)
    x = {"a": rng.uniform(size=(3, 3)), "b": rng.uniform(size=(3, 2))}
    result = nengo_keras.to_nengo(model)
    _assert_same_structure(result.predict(x), model.predict(x, verbose=0))
    run = result.run(x, n_steps=2)
    # Keras' order: as declared on TensorFlow, sorted on JAX (its pytrees sort)
    assert list(run) == list(model.predict(x, verbose=0))
    assert run["alpha"].shape == (3, 2, 4)
    assert result.verify()
    assert result.verify(x)


@pytest.mark.parametrize(
    "outputs",
    [
        lambda h, z: [h, h, z],  # one tensor twice
        lambda h, z: (z, [h, {"h": h, "z": z}]),  # nested
        lambda h, z: [z],  # a list of one: Keras returns the array
        lambda h, z: {"r": L.Reshape((2, 2))(h), "z": z},  # outputs keep their shape
    ],
)
def test_output_structures(outputs):
    inp = keras.Input((3,))
    h = L.Dense(4, activation="tanh")(inp)
    z = L.Dense(2)(h)
    model = keras.Model(inp, outputs(h, z))
    x = np.random.default_rng(0).uniform(size=(2, 3))
    result = nengo_keras.to_nengo(model)
    _assert_same_structure(result.predict(x), model.predict(x, verbose=0))
    assert result.verify()


def _temporal_model():
    inp = keras.Input((None, 3))
    h = L.Dense(4)(inp)
    h = nengo_keras.layers.SpikingActivation("relu", dt=0.001)(h)
    out = L.Dense(2)(nengo_keras.layers.Lowpass(0.01, dt=0.001)(h))
    return keras.Model(inp, out)


@pytest.mark.parametrize("make", [_dense_model, _dict_model, _temporal_model])
def test_converted_model_pickles(make):
    import pickle

    model = make()
    result = nengo_keras.to_nengo(model)
    rng = np.random.default_rng(0)
    if make is _dict_model:
        x = {"a": rng.uniform(size=(2, 3)), "b": rng.uniform(size=(2, 2))}
    elif make is _temporal_model:
        x = rng.uniform(size=(2, 5, 3))
    else:
        x = rng.uniform(size=(2, 4))
    copy = pickle.loads(pickle.dumps(result))
    _assert_same_structure(copy.predict(x), result.predict(x))
    assert copy.summary() == result.summary()
    if make is not _temporal_model:
        assert copy.verify()
    # every tensor of the graph is still there
    pairs = list(zip(result.layers, copy.layers))
    assert len(pairs) == len(result.layers) == len(copy.layers)
    for old, new in pairs:
        assert new.name == old.name and copy.shape_of(new) == result.shape_of(old)


def test_verify_leaves_every_model_variable_untouched():
    from nengo_keras.layers import SpikingActivation

    inp = keras.Input((5, 3), batch_size=1)
    h = SpikingActivation("relu", stateful=True)(L.Dense(4)(inp))
    model = keras.Model(inp, L.Dense(2)(h))
    before = [keras.ops.convert_to_numpy(v).tobytes() for v in model.variables]
    result = nengo_keras.to_nengo(model)
    assert result.verify()
    assert result.verify()  # the same check again gives the same answer
    after = [keras.ops.convert_to_numpy(v).tobytes() for v in model.variables]
    assert after == before
