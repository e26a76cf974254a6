import keras
import nengo
import pytest

from tests.helpers import check_conversion

L = keras.layers


@pytest.mark.parametrize("padding", ["valid", "same"])
@pytest.mark.parametrize("strides", [1, 2])
@pytest.mark.parametrize("kernel_size", [1, 3, 4])
def test_conv2d(padding, strides, kernel_size):
    inp = keras.Input((9, 8, 3))
    out = L.Conv2D(4, kernel_size, strides=strides, padding=padding, bias_initializer="normal", activation="relu")(inp)
    result = check_conversion(keras.Model(inp, out))
    conns = result.net.all_connections
    assert any(isinstance(c.transform, nengo.Convolution) for c in conns)


@pytest.mark.parametrize("groups", [2, 4])
@pytest.mark.parametrize("groups_as_dense", [False, True])
def test_conv2d_groups(groups, groups_as_dense):
    inp = keras.Input((6, 6, 4))
    out = L.Conv2D(8, 3, groups=groups, padding="same")(inp)
    result = check_conversion(keras.Model(inp, out), groups_as_dense=groups_as_dense)
    (conv,) = [c.transform for c in result.net.all_connections if isinstance(c.transform, nengo.Convolution)]
    assert conv.groups == (1 if groups_as_dense else groups)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(padding="valid"),
        dict(padding="same", strides=2),
        dict(padding="causal"),
        dict(padding="causal", dilation_rate=2),
        dict(padding="same", dilation_rate=3),
        dict(padding="valid", groups=3),
    ],
)
def test_conv1d(kwargs):
    inp = keras.Input((11, 6))
    out = L.Conv1D(6, 3, activation="tanh", **kwargs)(inp)
    check_conversion(keras.Model(inp, out))


@pytest.mark.parametrize("dilation", [1, 2])
def test_conv2d_dilated(dilation):
    inp = keras.Input((9, 9, 2))
    out = L.Conv2D(3, 3, dilation_rate=dilation, padding="same")(inp)
    check_conversion(keras.Model(inp, out))


@pytest.mark.parametrize("padding", ["valid", "same"])
@pytest.mark.parametrize("strides", [1, 2])
def test_conv3d(padding, strides):
    inp = keras.Input((5, 6, 4, 2))
    out = L.Conv3D(3, 3, strides=strides, padding=padding, activation="relu", bias_initializer="normal")(inp)
    result = check_conversion(keras.Model(inp, out))
    # the reference simulator has no 3-D convolution: an exact sparse transform
    assert any(isinstance(c.transform, nengo.Sparse) for c in result.net.all_connections)


def test_conv_chain_without_activation_uses_a_passthrough_node():
    inp = keras.Input((8, 8, 2))
    x = L.Conv2D(3, 3)(inp)
    out = L.Conv2D(2, 3, activation="relu")(x)
    result = check_conversion(keras.Model(inp, out))
    assert len(result.net.all_nodes) == 2  # input + one node between the convs
