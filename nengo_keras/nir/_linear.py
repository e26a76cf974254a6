"""Weights of Nengo connections as NIR arrays (matrices or convolution kernels)."""

from __future__ import annotations

import nengo
import numpy as np
import scipy.sparse as sp
from nengo.dists import Distribution

from ..converters._lib.windows import before_pads, conv_matrix, split_channels


def connection_matrix(conn):
    """The weights of ``conn`` as a dense ``(post.size_in, pre.size_out)`` array,
    with the connection's slices applied."""
    pre_idx = np.arange(conn.pre_obj.size_out)[conn.pre_slice]
    post_idx = np.arange(conn.post_obj.size_in)[conn.post_slice]
    inner = transform_matrix(conn.transform, conn.size_mid, conn.size_out)
    full = np.zeros((conn.post_obj.size_in, conn.pre_obj.size_out))
    full[np.ix_(post_idx, pre_idx)] = inner
    return full


def transform_matrix(transform, size_in, size_out):
    """A Nengo transform as a dense ``(size_out, size_in)`` array."""
    if isinstance(transform, nengo.transforms.NoTransform):
        return np.eye(size_in)
    if isinstance(transform, nengo.transforms.Dense):
        init = _array(transform.init)
        if init.ndim == 0:
            return float(init) * np.eye(size_in)
        if init.ndim == 1:
            return np.diag(init)
        return init
    if isinstance(transform, nengo.transforms.Sparse):
        init = transform.init
        if isinstance(init, nengo.transforms.SparseMatrix):
            rows, cols = np.asarray(init.indices).T
            matrix = sp.csr_matrix((_array(init.data), (rows, cols)), shape=init.shape)
        else:
            matrix = sp.csr_matrix(init)
        return matrix.toarray()
    if isinstance(transform, nengo.transforms.ConvolutionTranspose):
        raise NotImplementedError("transposed convolutions are not exported to NIR")
    if isinstance(transform, nengo.transforms.Convolution):
        t = transform
        matrix = conv_matrix(
            t.input_shape.shape,
            t.output_shape.shape,
            _array(t.init),
            t.strides,
            t.padding,
            (1,) * t.dimensions,
            t.groups,
            t.dimensions if t.channels_last else 0,
        )
        return sp.csr_matrix(matrix).toarray()
    raise NotImplementedError(f"{type(transform).__name__} transforms have no NIR form")


def _array(init):
    if isinstance(init, Distribution):
        raise NotImplementedError(
            "weights drawn from a Distribution are sampled at build time; "
            "NIR needs them fixed"
        )
    return np.asarray(init, dtype=np.float64)


def conv_padding(t):
    """NIR's symmetric padding of a `nengo.Convolution`, or None if Keras'
    padding is asymmetric there (``"same"`` with an even total)."""
    spatial, _ = split_channels(t.input_shape.shape, t.dimensions if t.channels_last else 0)
    out_spatial, _ = split_channels(
        t.output_shape.shape, t.dimensions if t.channels_last else 0
    )
    if t.padding == "valid":
        return (0,) * t.dimensions
    before = before_pads(
        t.padding, spatial, t.kernel_size, t.strides, (1,) * t.dimensions, out_spatial
    )
    pads = []
    for n, k, s, o, b in zip(spatial, t.kernel_size, t.strides, out_spatial, before):
        total = max((o - 1) * s + k - n, 0)
        if total != 2 * b:
            return None
        pads.append(int(b))
    return tuple(pads)


def conv_kernel(t, expand_groups=False):
    """A `nengo.Convolution`'s kernel in NIR's ``(out, in / groups, *window)``.

    ``expand_groups`` writes a grouped kernel as an ordinary one with zeros
    off the groups, ``(out, in, *window)``: nir 1.0 infers a convolution's
    input channels from its kernel, so it rejects graphs with ``groups > 1``.
    """
    kernel = _array(t.init)  # (*window, in / groups, out)
    rank = t.dimensions
    kernel = np.transpose(kernel, (rank + 1, rank) + tuple(range(rank)))
    if not expand_groups or t.groups == 1:
        return kernel
    out, per_in = kernel.shape[:2]
    per_out = out // t.groups
    full = np.zeros((out, per_in * t.groups) + kernel.shape[2:])
    for g in range(t.groups):
        rows = slice(g * per_out, (g + 1) * per_out)
        full[rows, g * per_in : (g + 1) * per_in] = kernel[rows]
    return full


def to_channels_first(shape, channels_last):
    """``(*spatial, C)`` -> ``(C, *spatial)`` (unchanged when channels are first)."""
    shape = tuple(int(s) for s in shape)
    return (shape[-1],) + shape[:-1] if channels_last else shape


def nir_order(shape, channels_last):
    """Indices that take a Nengo-ordered flat vector of ``shape`` into NIR's
    channels-first C order (identity when channels are already first)."""
    shape = tuple(int(s) for s in shape)
    index = np.arange(int(np.prod(shape))).reshape(shape)
    if channels_last:
        index = np.moveaxis(index, -1, 0)
    return index.ravel()
