import keras
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
