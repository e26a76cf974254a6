import keras
import nengo
import numpy as np
import pytest

from tests.helpers import check_conversion, tiers

L = keras.layers


def _branches(shape=(4, 3)):
    inp = keras.Input(shape)
    a = L.Dense(3, activation="relu", bias_initializer="normal")(inp)
    b = L.Dense(3, bias_initializer="normal")(inp)
    c = L.Dense(3, activation="tanh")(inp)
    return inp, [a, b, c]


@pytest.mark.parametrize("cls", [L.Add, L.Average, L.Maximum, L.Minimum, L.Multiply])
def test_merge(cls):
    inp, branches = _branches()
    out = cls(name="merge")(branches)
    result = check_conversion(keras.Model(inp, out))
    expected = "node" if cls is L.Multiply else "neural"
    assert tiers(result)["merge"] == expected


def test_subtract():
    inp, (a, b, _) = _branches()
    check_conversion(keras.Model(inp, L.Subtract()([a, b])))


@pytest.mark.parametrize("axis", [-1, 1, 2])
def test_concatenate(axis):
    inp, branches = _branches((4, 3))
    out = L.Concatenate(axis=axis)(branches)
    result = check_conversion(keras.Model(inp, out))
    assert result.report[-1].n_nodes == 0


def test_add_broadcasts():
    inp = keras.Input((4, 3))
    small = keras.Input((1, 3))
    out = L.Add()([inp, small])
    check_conversion(keras.Model([inp, small], out))


def test_concatenate_of_conv_outputs_keeps_convolutions_fused():
    inp = keras.Input((6, 6, 2))
    a = L.Conv2D(3, 3, padding="same")(inp)
    b = L.Conv2D(2, 1)(inp)
    x = L.Concatenate()([a, b])
    out = L.Activation("relu")(x)
    result = check_conversion(keras.Model(inp, out))
    assert len(result.net.all_nodes) == 1  # only the input: no pass-through nodes


def test_dense_block_concatenation_copies_without_multiplying():
    """DenseNet's growing concatenations: each is materialised once, the
    pieces carried over unchanged use identity connections (nengo's
    NoTransform: no weights, no multiply), and the batch-norm scale before
    each relu is the neurons' gain rather than an elementwise transform."""
    inp = keras.Input((5, 5, 2))
    x = inp
    for _ in range(3):
        h = L.Activation("relu")(L.BatchNormalization()(x))
        x = L.Concatenate()([x, L.Conv2D(2, 3, padding="same")(h)])
    model = keras.Model(inp, L.Activation("relu")(x))
    for layer in model.layers:
        if isinstance(layer, L.BatchNormalization):
            n = layer.moving_variance.shape[0]
            layer.moving_variance.assign(np.linspace(0.5, 2.0, n))
    result = check_conversion(model)
    identity = [
        c for c in result.net.all_connections
        if isinstance(c.transform, nengo.transforms.NoTransform)
    ]
    assert identity
    scalar_one = [
        c for c in result.net.all_connections
        if isinstance(c.transform, nengo.Dense)
        and np.ndim(c.transform.init) == 0 and c.transform.init == 1.0
    ]
    assert not scalar_one
    # the positive batch-norm scales became the relu neurons' gains
    scaled = [
        c for c in result.net.all_connections
        if isinstance(c.post_obj, nengo.ensemble.Neurons)
        and isinstance(c.transform, nengo.Dense)
    ]
    assert not scaled


@pytest.mark.parametrize(
    "shapes, axes",
    [
        (((5,), (5,)), 1),
        (((4, 3), (4, 3)), 1),
        (((4, 3), (4, 3)), -1),
        (((4, 3), (5, 3)), 2),
        (((4, 3), (4, 5)), (1, 1)),
        (((2, 4, 3), (4,)), (2, 1)),
    ],
)
@pytest.mark.parametrize("normalize", [False, True])
def test_dot(shapes, axes, normalize):
    inputs = [keras.Input(s) for s in shapes]
    out = L.Dot(axes=axes, normalize=normalize, name="dot")(inputs)
    result = check_conversion(keras.Model(inputs, out))
    assert tiers(result)["dot"] == "node"


def test_multiply_of_scattered_values():
    """Inputs whose terms are permuted (transposes) feed a product Node."""
    inp = keras.Input((4, 3))
    a = L.Permute((2, 1))(L.Dense(3)(inp))
    b = L.Permute((2, 1))(inp)
    check_conversion(keras.Model(inp, L.Multiply()([a, b, b])))
