"""nengo_keras.conversion.transforms: fusing linear maps into one Nengo transform."""

import nengo
import numpy as np
import pytest
import scipy.sparse as sp

from nengo_keras.conversion.transforms import (
    Conv,
    Matrix,
    Scale,
    compose,
    is_expensive,
    selection,
)

rng = np.random.default_rng(0)


def _maps(size):
    dense = rng.normal(size=(size, size))
    sparse = sp.random(size, size, density=0.3, random_state=1, format="csr")
    return {
        "scalar": Scale(2.5, size),
        "vector": Scale(rng.uniform(0.5, 2, size), size),
        "dense": Matrix(dense),
        "sparse": Matrix(sparse),
    }


@pytest.mark.parametrize("outer", ["scalar", "vector", "dense", "sparse"])
@pytest.mark.parametrize("inner", ["scalar", "vector", "dense", "sparse"])
def test_compose_computes_outer_after_inner(outer, inner):
    maps = _maps(6)
    x = rng.normal(size=6)
    fused = compose(maps[outer], maps[inner])
    assert isinstance(fused, (Scale, Matrix))
    np.testing.assert_allclose(
        fused.apply(x), maps[outer].apply(maps[inner].apply(x)), atol=1e-12
    )


def test_none_is_the_identity_and_unit_scale_vanishes():
    m = Matrix(np.eye(3) * 2)
    assert compose(None, m) is m and compose(m, None) is m
    assert compose(Scale(1.0, 3), m) is m
    assert Scale(np.ones(3), 3).to_nengo() is None  # no multiply in Nengo


def _conv(kernel_shape=(3, 3, 2, 4)):
    return Conv(
        nengo.Convolution(
            kernel_shape[-1],
            (5, 5, kernel_shape[-2]),
            kernel_size=kernel_shape[:2],
            init=rng.normal(size=kernel_shape),
        )
    )


def test_per_channel_scales_fold_into_a_convolution():
    conv = _conv()
    x = rng.normal(size=conv.size_in)
    out_scale = Scale(np.tile(rng.uniform(1, 2, 4), 9), conv.size_out)  # channels last
    in_scale = Scale(np.tile(rng.uniform(1, 2, 2), 25), conv.size_in)
    after = compose(out_scale, conv)
    before = compose(conv, in_scale)
    assert isinstance(after, Conv) and isinstance(before, Conv)
    np.testing.assert_allclose(after.apply(x), out_scale.apply(conv.apply(x)))
    np.testing.assert_allclose(before.apply(x), conv.apply(in_scale.apply(x)))


def test_what_nengo_cannot_express_is_not_fused():
    conv = _conv((3, 3, 4, 4))
    assert compose(conv, _conv()) is NotImplemented
    varying = Scale(rng.uniform(1, 2, conv.size_out), conv.size_out)
    assert compose(varying, _conv()) is NotImplemented  # not constant per channel


def test_selection_and_placement():
    pick = selection([2, 0, 2], 4)
    np.testing.assert_array_equal(pick.apply(np.array([10.0, 11, 12, 13])), [12, 10, 12])
    assert pick.placement() is None  # input 2 lands twice
    rows, scale = Matrix(sp.csr_matrix(np.array([[0, 3.0], [0, 0], [1, 0]]))).placement()
    np.testing.assert_array_equal(rows, [2, 0])
    np.testing.assert_array_equal(scale, [1, 3])
    assert not is_expensive(Scale(2.0, 4))
    assert is_expensive(Matrix(np.ones((4, 4))))
