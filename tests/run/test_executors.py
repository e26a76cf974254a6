"""nengo_keras.run.executors: running samples serially, in threads, processes or dask."""

import concurrent.futures as cf

import keras
import nengo
import numpy as np
import pytest

import nengo_keras
from tests.run.test_evaluation import SPIKING, small_conv_model


def _equal(a, b):
    np.testing.assert_array_equal(a.outputs, b.outputs)
    assert a.layers.keys() == b.layers.keys()
    for name in a.layers:
        np.testing.assert_array_equal(a.layers[name].rates, b.layers[name].rates)
        np.testing.assert_array_equal(a.layers[name].synops, b.layers[name].synops)
    np.testing.assert_array_equal(a.accuracy, b.accuracy)


@pytest.mark.parametrize(
    "neuron", [nengo.SpikingRectifiedLinear(), nengo.PoissonSpiking(nengo.RectifiedLinear())]
)
def test_executors_give_identical_results(rng, neuron):
    # Poisson neurons are random at every step: identical results need the
    # per-sample seeds, whatever worker and chunk a sample lands in
    converted = nengo_keras.to_nengo(
        small_conv_model(), swap_activations={"relu": neuron}, scale_firing_rates=50,
        synapse=0.005,
    )
    x = rng.uniform(size=(6, 6, 6, 2))
    y = rng.integers(0, 3, size=6)
    kwargs = dict(n_steps=20, seed=3, progress_bar=False)
    serial = converted.evaluate(x, y, executor="serial", **kwargs)
    processes = converted.evaluate(x, y, n_workers=2, chunk_size=2, **kwargs)
    _equal(serial, processes)
    with cf.ThreadPoolExecutor(2) as pool:
        threads = converted.evaluate(x, y, executor=pool, chunk_size=4, **kwargs)
    _equal(serial, threads)
    assert any(a.mean_rate > 0 for a in serial.layers.values())


def test_unpicklable_network_runs_serially(rng):
    converted = nengo_keras.to_nengo(small_conv_model())
    with converted.net:
        nengo.Node(lambda t: 0.0)  # a lambda cannot be pickled
    x = rng.uniform(size=(3, 6, 6, 2))
    with pytest.warns(UserWarning, match="cannot be pickled"):
        res = converted.evaluate(x, n_workers=2, progress_bar=False)
    np.testing.assert_allclose(res.outputs[:, -1], converted.model.predict(x, verbose=0),
                               rtol=1e-4, atol=1e-5)


class Doubler(keras.layers.Layer):
    def call(self, x):
        return x * 2.0


def test_keras_fallback_nodes_avoid_processes(rng):
    inp = keras.Input((3,))
    out = keras.layers.Dense(2)(Doubler()(inp))
    model = keras.Model(inp, out)
    with pytest.warns(UserWarning, match="fallback"):
        converted = nengo_keras.to_nengo(model, trace_layers=False)
    x = rng.uniform(size=(3, 3))
    with pytest.warns(UserWarning, match="threads|serially"):
        res = converted.evaluate(x, n_workers=2, progress_bar=False)
    np.testing.assert_allclose(res.outputs[:, -1], model.predict(x, verbose=0),
                               rtol=1e-4, atol=1e-5)


def test_run_with_executor_and_progress_bar(rng, capsys):
    model = small_conv_model()
    converted = nengo_keras.to_nengo(model)
    x = rng.uniform(size=(4, 6, 6, 2))
    serial = converted.run(x, n_steps=2)
    parallel = converted.run(x, n_steps=2, executor="processes", n_workers=2,
                             progress_bar=True)
    np.testing.assert_array_equal(serial, parallel)
    assert "samples" in capsys.readouterr().err
    np.testing.assert_allclose(serial[:, -1], model.predict(x, verbose=0),
                               rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="executor="):
        converted.run(x, executor="gpu")


def test_dask_executor(rng):
    distributed = pytest.importorskip("distributed")
    converted = nengo_keras.to_nengo(small_conv_model(), swap_activations=SPIKING)
    x = rng.uniform(size=(4, 6, 6, 2))
    serial = converted.evaluate(x, n_steps=5, executor="serial", seed=0, progress_bar=False)
    with distributed.Client(processes=False, n_workers=1, threads_per_worker=2) as client:
        res = converted.evaluate(x, n_steps=5, executor=client.get_executor(),
                                 chunk_size=1, seed=0, progress_bar=False)
    _equal(serial, res)
