"""nengo_keras.conversion.node_functions: the picklable callables of Nodes."""

import pickle

import keras
import nengo
import numpy as np

from nengo_keras.conversion.node_functions import (
    InputFeed,
    KerasFunction,
    NodeFunction,
    to_numpy,
)


def test_node_function_splits_the_flat_input_into_shaped_arrays():
    fn = NodeFunction(lambda a, b: a @ b, [(2, 3), (3,)], (2,))
    a = np.arange(6.0).reshape(2, 3)
    b = np.array([1.0, -1.0, 2.0])
    out = fn(0.0, np.concatenate([a.ravel(), b]))
    np.testing.assert_allclose(out, a @ b)
    assert out.dtype == np.float64


def test_keras_function_adds_and_drops_the_batch_axis():
    layer = keras.layers.Dense(2, kernel_initializer="ones", bias_initializer="ones")
    fn = KerasFunction(layer)
    np.testing.assert_allclose(fn(np.array([1.0, 2.0, 3.0])), [7.0, 7.0])
    assert fn.__name__ == "Dense"  # what reports and reprs call it


def test_input_feed_holds_zeros_constants_and_the_last_row():
    feed = InputFeed((2,))
    np.testing.assert_array_equal(feed(0.001), [0, 0])
    feed.set(np.array([1.0, 2.0]), dt=0.001)
    np.testing.assert_array_equal(feed(0.005), [1, 2])
    feed.set(np.array([[1.0, 1.0], [2.0, 2.0]]), dt=0.001)
    steps = [feed(t)[0] for t in (0.001, 0.002, 0.003)]
    assert steps == [1.0, 2.0, 2.0]  # one row per step, the last one held


def test_a_node_with_a_feed_runs_and_pickles():
    feed = InputFeed((3,))
    with nengo.Network() as net:
        node = nengo.Node(feed, size_out=3)
        probe = nengo.Probe(node)
    feed.set(np.arange(6.0).reshape(2, 3), dt=0.001)
    with nengo.Simulator(net, progress_bar=False) as sim:
        sim.run_steps(3)
    np.testing.assert_array_equal(sim.data[probe], [[0, 1, 2], [3, 4, 5], [3, 4, 5]])
    copy = pickle.loads(pickle.dumps(feed))
    np.testing.assert_array_equal(copy(0.002), [3, 4, 5])


def test_to_numpy_reads_variables_and_tensors_as_float64():
    v = keras.Variable(np.ones((2, 2), dtype="float32"))
    for x in (v, keras.ops.ones((2, 2))):
        arr = to_numpy(x)
        assert isinstance(arr, np.ndarray) and arr.dtype == np.float64
        np.testing.assert_array_equal(arr, np.ones((2, 2)))
