import keras
import nengo
import pytest

from tests.helpers import check_conversion

L = keras.layers


# TensorFlow's plain CPU kernels (used wherever its oneDNN kernels are off, as on
# processors without AVX-512 VNNI/AMX) lack some configurations that Keras
# defines on every backend: the depthwise convolution needs equal strides
# ("Current implementation only supports equal length strides") and the
# transposed convolution (Conv2DCustomBackpropInputOp) supports neither dilation
# nor NCHW. Those cases take their Keras reference from the JAX backend
# (tests.helpers.keras_reference).


def jax_if_unequal_strides(kwargs):
    strides = kwargs.get("strides", 1)
    return "jax" if isinstance(strides, tuple) and len(set(strides)) > 1 else None


def jax_if_dilated(kwargs):
    return "jax" if kwargs.get("dilation_rate", 1) != 1 else None


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
    inp = keras.Input((6, 6, 8))
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


def conv_transforms(result, kind=nengo.Convolution):
    return [c.transform for c in result.net.all_connections if isinstance(c.transform, kind)]


@pytest.mark.backends
@pytest.mark.parametrize(
    "kwargs",
    [
        dict(padding="valid"),
        dict(padding="same", strides=2),
        dict(padding="same", depth_multiplier=3),
        dict(padding="valid", strides=(2, 1), depth_multiplier=2),
        dict(padding="same", dilation_rate=2),
    ],
)
@pytest.mark.parametrize("groups_as_dense", [False, True])
def test_depthwise_conv2d(kwargs, groups_as_dense):
    inp = keras.Input((7, 8, 3))
    out = L.DepthwiseConv2D(3, bias_initializer="normal", activation="relu", **kwargs)(inp)
    result = check_conversion(
        keras.Model(inp, out),
        groups_as_dense=groups_as_dense,
        reference_backend=jax_if_unequal_strides(kwargs),
    )
    # depthwise: an exact sparse matrix (faster than Nengo's grouped
    # convolution, and free of ``groups`` for other backends)
    assert not conv_transforms(result)
    assert any(isinstance(c.transform, nengo.Sparse) for c in result.net.all_connections)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(padding="valid"),
        dict(padding="same", strides=2, depth_multiplier=2),
        dict(padding="same", dilation_rate=2),
    ],
)
def test_depthwise_conv1d(kwargs):
    inp = keras.Input((10, 4))
    out = L.DepthwiseConv1D(3, bias_initializer="normal", **kwargs)(inp)
    check_conversion(keras.Model(inp, out))


@pytest.mark.backends
@pytest.mark.parametrize(
    "kwargs",
    [
        dict(padding="same"),
        dict(padding="valid", strides=2, depth_multiplier=2),
        dict(padding="same", dilation_rate=2),
    ],
)
def test_separable_conv2d(kwargs):
    inp = keras.Input((7, 8, 3))
    out = L.SeparableConv2D(5, 3, bias_initializer="normal", activation="relu", **kwargs)(inp)
    result = check_conversion(keras.Model(inp, out))
    # the depthwise result is held by one pass-through Node, the input's the other
    assert len(result.net.all_nodes) == 2


@pytest.mark.parametrize("groups_as_dense", [False, True])
def test_separable_conv_groups_as_dense(groups_as_dense):
    inp = keras.Input((6, 6, 4))
    out = L.SeparableConv2D(6, 3, padding="same", activation="relu")(inp)
    result = check_conversion(keras.Model(inp, out), groups_as_dense=groups_as_dense)
    # the depthwise half is a sparse matrix either way; the pointwise half a
    # plain convolution
    assert [c.groups for c in conv_transforms(result)] == [1]


def test_separable_conv_fuses_when_cheaper():
    # 1-wide window: one full convolution costs less than depthwise + pointwise
    inp = keras.Input((9, 3))
    out = L.SeparableConv1D(4, 1, depth_multiplier=2, activation="relu")(inp)
    result = check_conversion(keras.Model(inp, out))
    assert len(result.net.all_nodes) == 1
    (conv,) = conv_transforms(result)
    assert conv.groups == 1


def test_separable_conv1d():
    inp = keras.Input((12, 3))
    out = L.SeparableConv1D(4, 3, strides=2, padding="same", depth_multiplier=2)(inp)
    check_conversion(keras.Model(inp, out))


TRANSPOSE_CASES = [
    dict(kernel_size=3, padding="valid"),
    dict(kernel_size=3, padding="same", strides=2),
    dict(kernel_size=4, padding="same", strides=2),
    dict(kernel_size=2, padding="valid", strides=3),
    dict(kernel_size=3, padding="same", strides=2, output_padding=0),
    dict(kernel_size=3, padding="valid", strides=3, output_padding=2),
    dict(kernel_size=4, padding="same", strides=3, output_padding=1),
    dict(kernel_size=3, padding="same", dilation_rate=2),
    dict(kernel_size=2, padding="valid", dilation_rate=3),
]


@pytest.mark.backends
@pytest.mark.parametrize("kwargs", TRANSPOSE_CASES)
def test_conv2d_transpose(kwargs):
    inp = keras.Input((4, 5, 2))
    out = L.Conv2DTranspose(3, bias_initializer="normal", activation="relu", **kwargs)(inp)
    result = check_conversion(keras.Model(inp, out), reference_backend=jax_if_dilated(kwargs))
    nengo_kind = kwargs.get("dilation_rate", 1) == 1
    assert bool(conv_transforms(result, nengo.ConvolutionTranspose)) == nengo_kind


@pytest.mark.parametrize("kwargs", TRANSPOSE_CASES)
def test_conv1d_transpose(kwargs):
    inp = keras.Input((5, 3))
    out = L.Conv1DTranspose(2, bias_initializer="normal", **kwargs)(inp)
    check_conversion(keras.Model(inp, out), reference_backend=jax_if_dilated(kwargs))


@pytest.mark.parametrize("kwargs", TRANSPOSE_CASES[:7:2])
def test_conv3d_transpose(kwargs):
    inp = keras.Input((3, 4, 3, 2))
    out = L.Conv3DTranspose(2, bias_initializer="normal", **kwargs)(inp)
    check_conversion(keras.Model(inp, out))


def test_conv_transpose_channels_first_then_batchnorm():
    # the batch norm scale folds into the transposed kernel
    inp = keras.Input((2, 4, 5))
    x = L.Conv2DTranspose(3, 3, strides=2, padding="same", data_format="channels_first")(inp)
    x = L.BatchNormalization(axis=1, beta_initializer="normal", gamma_initializer="normal")(x)
    out = L.Activation("relu")(x)
    result = check_conversion(keras.Model(inp, out), reference_backend="jax")
    assert len(result.net.all_nodes) == 1


def test_depthwise_channels_first():
    inp = keras.Input((3, 6, 5))
    out = L.DepthwiseConv2D(3, depth_multiplier=2, padding="same", data_format="channels_first")(inp)
    check_conversion(keras.Model(inp, out))
