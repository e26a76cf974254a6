"""nengo_keras.conversion.values: a tensor's value as a sum of transformed Nengo outputs."""

import nengo
import numpy as np
import pytest

from nengo_keras.conversion.transforms import Matrix
from nengo_keras.conversion.values import Value


def evaluate(value, outputs):
    """What Nengo would compute for ``value`` given each pre object's output.

    Follows the documented meaning of a term: ``transform(pre)`` placed at
    ``out_idx`` (everywhere if None), plus the bias.
    """
    total = value.bias_or_zeros()
    for term in value.terms:
        x = outputs[term.pre]
        y = x if term.transform is None else term.transform.apply(x)
        if term.out_idx is None:
            total = total + y
        else:
            np.add.at(total, term.out_idx, y)
    return total


@pytest.fixture
def node():
    with nengo.Network():
        return nengo.Node(np.zeros(6))


def test_transforms_scales_and_bias_compose(node):
    rng = np.random.default_rng(0)
    x = rng.normal(size=6)
    m = rng.normal(size=(4, 6))
    value = Value.of(node, (2, 3))
    assert value.obj is node  # one object, untransformed: no Node needed
    mapped = value.apply(Matrix(m), (4,))
    shifted = Value((4,), mapped.terms, bias=np.arange(4.0))
    scaled = shifted.scale(np.array([1.0, 2.0, 3.0, 4.0]))
    expected = (m @ x + np.arange(4.0)) * [1, 2, 3, 4]
    np.testing.assert_allclose(evaluate(scaled, {node: x}), expected)
    assert scaled.obj is None and len(scaled.terms) == 1  # folded into one transform
    np.testing.assert_allclose(
        evaluate(scaled.reshape((2, -1)), {node: x}), expected
    )


def test_place_scatters_into_zeros(node):
    x = np.arange(1.0, 7.0)
    placed = Value.of(node, (6,)).place(np.array([7, 0, 2, 3, 5, 1]), (8,))
    expected = np.zeros(8)
    expected[[7, 0, 2, 3, 5, 1]] = x
    np.testing.assert_allclose(evaluate(placed, {node: x}), expected)


def test_constants_and_shape_errors(node):
    const = Value.constant(np.array([[0.0, 2.0], [3.0, 0.0]]))
    assert const.is_constant and const.shape == (2, 2)
    np.testing.assert_array_equal(const.apply(Matrix(np.eye(4) * 2), (4,)).bias, [0, 4, 6, 0])
    assert Value.constant(np.zeros(3)).bias is None  # a zero bias is no bias
    with pytest.raises(ValueError, match="6 outputs but the tensor has shape"):
        Value.of(node, (5,))
    with pytest.raises(ValueError, match="cannot reshape"):
        Value.of(node, (6,)).reshape((4,))
