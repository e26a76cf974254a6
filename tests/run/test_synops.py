"""nengo_keras.run.synops: counting the synapses each neuron drives."""

import nengo
import numpy as np
import pytest

from nengo_keras.conversion.transforms import Conv
from nengo_keras.run.synops import fan_out, transform_pattern


def brute_force(transform):
    conv = Conv(transform)
    return np.stack([conv.apply(e) for e in np.eye(transform.size_in)], axis=1)


@pytest.mark.parametrize(
    "cls, kwargs",
    [
        (nengo.Convolution, dict(n_filters=4, input_shape=(5, 6, 4), kernel_size=(3, 3),
                                 strides=(2, 1), padding="same", groups=2)),
        (nengo.Convolution, dict(n_filters=3, input_shape=(2, 7, 5), kernel_size=(3, 2),
                                 channels_last=False)),
        (nengo.ConvolutionTranspose, dict(n_filters=4, input_shape=(4, 3, 6),
                                          kernel_size=(3, 3), strides=(2, 2),
                                          padding="same")),
        (nengo.ConvolutionTranspose, dict(n_filters=2, input_shape=(4, 3),
                                          kernel_size=(2,), strides=(2,))),
    ],
)
def test_convolution_patterns(rng, cls, kwargs):
    shape = cls(**kwargs).kernel_shape
    kernel = rng.uniform(0.5, 1, size=shape) * (rng.uniform(size=shape) > 0.3)
    t = cls(**kwargs, init=kernel)
    pattern = transform_pattern(t, t.size_in, t.size_out).toarray()
    np.testing.assert_array_equal(pattern != 0, brute_force(t) != 0)


def test_fan_out_through_passthrough_nodes():
    with nengo.Network() as net:
        a = nengo.Ensemble(3, 1)
        b = nengo.Ensemble(4, 1)
        mid = nengo.Node(size_in=2)
        w1 = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])  # neuron 2 goes nowhere
        w2 = np.array([[1.0, 1.0], [0.0, 1.0], [0.0, 0.0], [1.0, 0.0]])
        nengo.Connection(a.neurons, mid, transform=w1)
        nengo.Connection(mid, b.neurons, transform=w2)
        nengo.Connection(a.neurons[0], b.neurons[3])  # its own weight: +1
    counts = fan_out(net, [a, b])
    # through the node (composed weights w2 @ w1): neuron 0 reaches b0 and b3,
    # neuron 1 reaches b0 and b1; the direct connection adds one to neuron 0
    np.testing.assert_array_equal(counts[a], [3, 2, 0])
    np.testing.assert_array_equal(counts[b], [0, 0, 0, 0])
