"""Find what a layer does by running it: index maps and matrices.

A layer that only moves, copies or zero-fills elements (padding, cropping,
upsampling, permutes, concatenation...) is run on tensors that hold each
element's own index: the output says where every element came from. A linear
layer is run on basis vectors: the outputs are its matrix's columns. Either way
the result matches Keras exactly, whatever the layer's options.
"""

from __future__ import annotations

import keras
import numpy as np
import scipy.sparse as sp

from .._linear import Matrix
from ..context import add_time_axis, drop_time_axis

_BASE = 2**12  # two float32-exact digits cover indices up to 2**24 - 1


def index_map(fn, in_shapes):
    """Source of every output element of ``fn(*inputs)``.

    Returns
    -------
    list of int arrays
        One per output: flat index into the concatenated inputs, -1 where the
        output is a constant zero.
    """
    total = sum(int(np.prod(s)) for s in in_shapes)
    if total >= _BASE**2:
        raise ValueError(f"index maps support up to {_BASE ** 2 - 1} elements, got {total}")
    digits = []
    for digit in (lambda i: i % _BASE, lambda i: i // _BASE):
        arrays, start = [], 0
        for shape in in_shapes:
            n = int(np.prod(shape))
            idx = np.arange(start, start + n).reshape((1,) + tuple(shape))
            arrays.append(keras.ops.convert_to_tensor(digit(idx) + 1, dtype="float32"))
            start += n
        outs = fn(*arrays)
        outs = outs if isinstance(outs, (list, tuple)) else [outs]
        digits.append([np.rint(keras.ops.convert_to_numpy(o)[0]).astype(np.int64).ravel() for o in outs])
    maps = []
    for lo, hi in zip(*digits):
        if np.any((lo == 0) != (hi == 0)):
            raise NotRearranging()
        maps.append(np.where(lo == 0, -1, (lo - 1) + (hi - 1) * _BASE))
    # a random input must give the same result (rules out constants != 0,
    # arithmetic, and anything that mixes the batch axis)
    rng = np.random.default_rng(0)
    data = [rng.uniform(1, 2, size=(1,) + tuple(s)) for s in in_shapes]
    outs = fn(*[keras.ops.convert_to_tensor(d, dtype="float32") for d in data])
    outs = outs if isinstance(outs, (list, tuple)) else [outs]
    flat = np.concatenate([d.ravel() for d in data] + [[0.0]])
    for m, o in zip(maps, outs):
        expected = flat[np.where(m < 0, flat.size - 1, m)]
        got = keras.ops.convert_to_numpy(o).ravel()
        if got.shape != expected.shape or not np.allclose(got, expected, rtol=1e-6):
            raise NotRearranging()
    return maps


class NotRearranging(ValueError):
    """The function does more than move, copy and zero-fill elements."""


def rearrange(ctx, inputs, source, out_shape):
    """The value whose element ``k`` is element ``source[k]`` of the
    concatenated ``inputs`` (``-1``: zero)."""
    from ..values import Value

    out = Value(out_shape)
    start = 0
    for x in inputs:
        mine = (source >= start) & (source < start + x.size)
        positions = np.nonzero(mine)[0]
        local = source[positions] - start
        start += x.size
        if positions.size == x.size and np.unique(local).size == x.size:
            where = np.empty(x.size, dtype=np.int64)
            where[local] = positions  # every element lands exactly once
            out = out + x.reshape((x.size,)).place(where, out_shape)
        elif positions.size:
            m = sp.csr_matrix(
                (np.ones(positions.size), (positions, local)),
                shape=(int(np.prod(out_shape)), x.size),
            )
            out = out + ctx.linear(x, Matrix(m), out_shape)
    return out


def keras_call(ctx):
    """The current layer call as a function of its tensor inputs, in order."""
    op = ctx.layer
    timed = ctx.timed  # one step of a temporal call: Keras needs a time axis

    def call(*tensors):
        if timed:
            tensors = add_time_axis(tensors)
        args, kwargs = ctx.call_arguments(tensors)
        out = op(*args, **kwargs)
        return drop_time_axis(out) if timed else out

    return call


def convert_by_index_map(layer, ctx, *inputs, **_):
    """Converter for any layer or operation that only rearranges elements."""
    try:
        sources = index_map(keras_call(ctx), [x.shape for x in inputs])
    except NotRearranging:
        ctx.unsupported(
            "this call does more than rearrange elements (e.g. pads with a "
            "non-zero constant)",
            "allow_fallback=True, or register a converter for it",
        )
    return [rearrange(ctx, inputs, s, shape) for s, shape in zip(sources, ctx.output_shapes)]


def linear_map(fn, in_shape, chunk=1024):
    """The matrix and offset of an affine ``fn`` on one input, by probing.

    Returns
    -------
    (Matrix, array)
        ``fn(x) = matrix @ x + offset`` for flat ``x``.
    """
    n = int(np.prod(in_shape))

    def run(batch):
        t = keras.ops.convert_to_tensor(batch.reshape((-1,) + tuple(in_shape)), dtype="float32")
        return keras.ops.convert_to_numpy(fn(t)).reshape(batch.shape[0], -1).astype(np.float64)

    offset = run(np.zeros((1, n)))[0]
    columns = []
    for start in range(0, n, chunk):
        stop = min(start + chunk, n)
        basis = np.zeros((stop - start, n))
        basis[np.arange(stop - start), np.arange(start, stop)] = 1.0
        cols = run(basis) - offset
        cols[np.abs(cols) < 1e-7 * max(np.abs(cols).max(), 1e-30)] = 0.0
        columns.append(sp.csr_matrix(cols))
    matrix = sp.vstack(columns).T.tocsr()
    # batch probing is only valid if samples do not interact: check one alone
    x = np.random.default_rng(0).uniform(-1, 1, size=(1, n))
    expected = np.asarray(matrix @ x[0]).ravel() + offset
    got = run(x)[0]
    if not np.allclose(got, expected, rtol=1e-4, atol=1e-5 * max(1.0, np.abs(got).max())):
        raise NotLinear()
    return Matrix(matrix), offset


class NotLinear(ValueError):
    """The function is not affine per sample."""
