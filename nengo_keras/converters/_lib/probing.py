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

from ...conversion.transforms import Matrix, Scale
from ...conversion.time_axis import add_time_axis, drop_time_axis
from ...conversion.values import Value

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
        try:
            outs = fn(*arrays)
        except Exception as e:  # e.g. float probes where Keras wants integers
            raise NotRearranging() from e
        outs = outs if isinstance(outs, (list, tuple)) else [outs]
        digits.append([np.rint(keras.ops.convert_to_numpy(o)[0]).astype(np.int64).ravel() for o in outs])
    maps = []
    for lo, hi in zip(*digits):
        source = np.where(lo == 0, -1, (lo - 1) + (hi - 1) * _BASE)
        if np.any((lo == 0) != (hi == 0)) or np.any(source >= total):
            raise NotRearranging()  # arithmetic, not copies of the indices
        maps.append(source)
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
    """The current layer call as a function of its tensor inputs, in order.

    Valid only while the call is being converted (it reads ``ctx``).
    """
    op = ctx.layer
    timed = ctx.timed  # one step of a temporal call: Keras needs a time axis

    def call(*tensors):
        if timed:
            tensors = add_time_axis(tensors)
        args, kwargs = ctx.call_arguments(tensors)
        out = op(*args, **kwargs)
        return drop_time_axis(out) if timed else out

    return call


def by_index_map(ctx, inputs):
    """The current call's outputs as rearrangements of its ``inputs``.

    Raises `NotRearranging` if the call does more than move, copy and
    zero-fill elements.
    """
    sources = index_map(keras_call(ctx), [x.shape for x in inputs])
    return [rearrange(ctx, inputs, s, shape) for s, shape in zip(sources, ctx.output_shapes)]


def by_index_map_and_constant(ctx, inputs):
    """The current call's outputs as rearrangements of its ``inputs`` plus a
    constant where no input lands (padding with a non-zero value,
    concatenation with a weight such as ViT's class token).

    The constant is the call on zero inputs; the call minus it must then be
    a rearrangement. Raises `NotRearranging` otherwise.
    """
    fn = keras_call(ctx)
    shapes = [x.shape for x in inputs]
    zeros = [keras.ops.zeros((1,) + tuple(s), dtype="float32") for s in shapes]
    try:
        base = fn(*zeros)
    except Exception as e:
        raise NotRearranging() from e
    base = base if isinstance(base, (list, tuple)) else [base]
    base = [np.asarray(keras.ops.convert_to_numpy(b), dtype=np.float64)[0] for b in base]
    if not all(np.all(np.isfinite(b)) for b in base):
        raise NotRearranging()  # e.g. -inf padding before max pooling

    def shifted(*tensors):
        outs = fn(*tensors)
        outs = outs if isinstance(outs, (list, tuple)) else [outs]
        return [o - keras.ops.convert_to_tensor(b[None], o.dtype) for o, b in zip(outs, base)]

    sources = index_map(shifted, shapes)
    return [
        rearrange(ctx, inputs, s, shape) + Value.constant(b.ravel(), shape)
        for s, b, shape in zip(sources, base, ctx.output_shapes)
    ]


def convert_by_index_map(layer, ctx, *inputs, **_):
    """Converter for any layer or operation that only rearranges elements
    (and fills the rest with constants)."""
    try:
        return by_index_map(ctx, inputs)
    except NotRearranging:
        pass
    try:
        return by_index_map_and_constant(ctx, inputs)
    except NotRearranging:
        ctx.unsupported(
            "this call does more than move elements and fill in constants (e.g. "
            "arithmetic, or padding with infinity)",
            "register a converter for it",
        )


def by_affine_map(ctx, inputs):
    """The current call's (single) output as an affine map of its ``inputs``.

    Raises `NotLinear` if the call is not affine.
    """
    maps, offset = affine_map(keras_call(ctx), [x.shape for x in inputs])
    shape = ctx.output_shapes[0]
    out = Value(shape) + offset
    for x, m in zip(inputs, maps):
        out = out + ctx.linear(x, m, shape)
    return out


def affine_map(fn, in_shapes, max_floats=2**22):
    """The linear maps and offset of an affine ``fn`` of several inputs, by probing.

    A map that is elementwise (input and output of one size, a diagonal
    matrix) is found with one probe and returned as a `Scale`, which fuses
    into neighbouring kernels; any other is probed one basis vector at a time
    (``max_floats`` bounds the memory of one batch of probes) and returned as
    a sparse `Matrix`. Either way a random input checks the result.

    Returns
    -------
    (list of Linear, array)
        ``fn(x_1, ..., x_k) = sum_i maps[i] @ x_i + offset`` for flat ``x_i``.
    """
    sizes = [int(np.prod(s)) for s in in_shapes]
    starts = np.concatenate([[0], np.cumsum(sizes)])
    n = int(starts[-1])

    def run(batch):
        tensors = [
            keras.ops.convert_to_tensor(
                batch[:, a:b].reshape((-1,) + tuple(shape)), dtype="float32"
            )
            for a, b, shape in zip(starts[:-1], starts[1:], in_shapes)
        ]
        out = keras.ops.convert_to_numpy(fn(*tensors))
        return out.reshape(batch.shape[0], -1).astype(np.float64)

    offset = run(np.zeros((1, n)))[0]
    n_out = offset.size
    # batch probing is only valid if samples do not interact: check one alone
    x = np.random.default_rng(0).uniform(-1, 1, size=(1, n))
    got = run(x)[0]

    def matches(maps):
        parts = np.split(x[0], starts[1:-1])
        return _agrees(got, offset + sum(m.apply(p) for m, p in zip(maps, parts)))

    if all(size == n_out for size in sizes):
        ones = np.zeros((len(sizes), n))
        for i, (a, b) in enumerate(zip(starts[:-1], starts[1:])):
            ones[i, a:b] = 1.0
        maps = [Scale(d, n_out) for d in run(ones) - offset]
        if matches(maps):
            return maps, offset
    rows = max(1, min(1024, max_floats // max(n_out, 1)))
    columns = []
    for start in range(0, n, rows):
        stop = min(start + rows, n)
        basis = np.zeros((stop - start, n))
        basis[np.arange(stop - start), np.arange(start, stop)] = 1.0
        columns.append(sp.csr_matrix(_clean(run(basis) - offset)))
    matrix = sp.vstack(columns).T.tocsc()
    maps = [Matrix(matrix[:, a:b]) for a, b in zip(starts[:-1], starts[1:])]
    if not matches(maps):
        raise NotLinear()
    return maps, offset


def linear_map(fn, in_shape):
    """The map (`Scale` or `Matrix`) and offset of an affine ``fn`` of one
    input, by probing (see `affine_map`)."""
    maps, offset = affine_map(fn, [in_shape])
    return maps[0], offset


class NotLinear(ValueError):
    """The function is not affine per sample."""


def separable_map(fn, in_shape, channel_axis):
    """Matrix and offset of an affine per-channel image map, by probing.

    For maps that treat every channel alike and rows and columns separably
    (resizing with any interpolation, cropping, padding to an aspect ratio),
    ``H + W + 2`` one-channel probes find the map, where `affine_map` would
    need ``H * W * C``. A random multi-channel input checks the result.

    Parameters
    ----------
    fn : callable
        ``fn(images)`` on a batch of images of shape ``in_shape``.
    in_shape : tuple of int
        ``(H, W, C)`` or ``(C, H, W)`` (no batch axis).
    channel_axis : int
        2 or 0.

    Returns
    -------
    (Matrix, array)
        ``fn(x) = matrix @ x + offset`` for flat ``x``.

    Raises
    ------
    NotLinear
        If ``fn`` is not such a map.
    """
    last = channel_axis == len(in_shape) - 1
    spatial = [s for i, s in enumerate(in_shape) if i != channel_axis]
    n_channels = in_shape[channel_axis]
    if len(spatial) != 2:
        raise NotLinear()
    rows_in, cols_in = spatial

    def run(images, channels=None):
        x = images[..., None] if channels is None and last else images
        if channels is None and not last:
            x = images[:, None]
        out = fn(keras.ops.convert_to_tensor(x, dtype="float32"))
        out = keras.ops.convert_to_numpy(out).astype(np.float64)
        if channels is not None:
            return out
        return out[..., 0] if last else out[:, 0]

    offset = run(np.zeros((1, rows_in, cols_in)))[0]
    rows = np.zeros((rows_in, rows_in, cols_in))
    rows[np.arange(rows_in), np.arange(rows_in), :] = 1.0
    cols = np.zeros((cols_in, rows_in, cols_in))
    cols[np.arange(cols_in), :, np.arange(cols_in)] = 1.0
    by_row = run(rows) - offset  # by_row[k] = a_rows[:, k] (x) (a_cols @ 1)
    by_col = run(cols) - offset  # by_col[l] = (a_rows @ 1) (x) a_cols[:, l]
    ones = run(np.ones((1, rows_in, cols_in)))[0] - offset  # (a_rows @ 1) (x) (a_cols @ 1)
    i0, j0 = np.unravel_index(np.argmax(np.abs(ones)), ones.shape)
    if ones[i0, j0] == 0:
        raise NotLinear()
    a_rows = sp.csr_matrix(_clean(by_row[:, :, j0].T / ones[i0, j0]))
    a_cols = sp.csr_matrix(_clean(by_col[:, i0, :].T))
    plane = sp.kron(a_rows, a_cols, format="csr")
    eye = sp.identity(n_channels, format="csr")
    matrix = sp.kron(plane, eye) if last else sp.kron(eye, plane)
    out_plane = offset.shape
    full_offset = np.broadcast_to(
        offset[..., None] if last else offset[None],
        out_plane + (n_channels,) if last else (n_channels,) + out_plane,
    ).ravel()
    x = np.random.default_rng(0).uniform(-1, 1, size=(1,) + tuple(in_shape))
    got = run(x, channels=True).ravel()
    if not _agrees(got, matrix @ x.ravel() + full_offset):
        raise NotLinear()
    return Matrix(sp.csr_matrix(matrix)), full_offset


def _agrees(got, expected):
    """Whether a probed map reproduces the layer's output on a random input."""
    scale = max(1.0, np.abs(got).max(initial=0.0))
    return got.shape == expected.shape and np.allclose(
        got, expected, rtol=1e-4, atol=1e-5 * scale
    )


def _clean(a):
    """Zero the float32 noise of probed coefficients."""
    a = np.array(a)
    a[np.abs(a) < 1e-7 * max(np.abs(a).max(initial=0.0), 1e-30)] = 0.0
    return a
