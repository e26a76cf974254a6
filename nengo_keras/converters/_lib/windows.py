"""Index arithmetic for sliding windows (convolution and pooling).

Everything here works for any number of spatial dimensions and builds exact
sparse matrices, used where Nengo's `nengo.Convolution` does not apply (3-D,
dilation, causal or asymmetric padding, pooling with padding).
"""

from __future__ import annotations

import itertools

import numpy as np
import scipy.sparse as sp


def channel_axis(layer, rank):
    """Index of the channel axis in a shape without batch axis."""
    fmt = getattr(layer, "data_format", "channels_last")
    return 0 if fmt == "channels_first" else rank


def split_channels(shape, axis):
    """``(spatial shape, channels)`` of a feature map shape."""
    shape = tuple(shape)
    return shape[:axis] + shape[axis + 1 :], shape[axis]


def before_pads(padding, in_spatial, window, strides, dilation, out_spatial):
    """Zeros added before each spatial axis, as TensorFlow/Keras do."""
    pads = []
    for n_in, k, s, d, n_out in zip(in_spatial, window, strides, dilation, out_spatial):
        span = (k - 1) * d + 1
        if padding == "valid":
            pads.append(0)
        elif padding == "causal":
            pads.append(span - 1)
        elif padding == "same":
            pads.append(max((n_out - 1) * s + span - n_in, 0) // 2)
        else:
            raise ValueError(f"unknown padding {padding!r}")
    return pads


def window_inputs(in_spatial, window, strides, pads, out_spatial, dilation=None):
    """Flat spatial input index of every window element of every output position.

    Returns
    -------
    array of shape ``(prod(out_spatial), prod(window))``
        ``-1`` where the window element falls in the padding.
    """
    dilation = dilation or (1,) * len(window)
    out_pos = np.indices(out_spatial).reshape(len(out_spatial), -1).T  # (n_out, D)
    offsets = np.array(list(itertools.product(*[range(k) for k in window])))
    offsets = offsets.reshape(-1, len(window))
    pos = (
        out_pos[:, None, :] * np.asarray(strides)
        + offsets[None, :, :] * np.asarray(dilation)
        - np.asarray(pads)
    )
    valid = np.all((pos >= 0) & (pos < np.asarray(in_spatial)), axis=-1)
    flat = np.ravel_multi_index(
        tuple(np.clip(pos, 0, np.asarray(in_spatial) - 1).transpose(2, 0, 1)), in_spatial
    )
    return np.where(valid, flat, -1)


def flat_index(spatial_idx, channel_idx, spatial_shape, channels, axis):
    """Flat index in a feature map with channels at ``axis`` (0 or last)."""
    n_spatial = int(np.prod(spatial_shape))
    if axis == 0:
        return channel_idx * n_spatial + spatial_idx
    return spatial_idx * channels + channel_idx


def transpose_pads(padding, window, strides, dilation, output_padding):
    """Zeros before each axis of the convolution that a Keras transposed
    convolution is the transpose of.

    Output position ``p`` of the transposed convolution receives input ``i``
    through window element ``k`` when ``p = i * stride + k * dilation - pad``.
    Keras (all backends) pads the stride-dilated input by ``span - 1`` on the
    left for "valid" and by about half the total padding, at most
    ``span - 1``, for "same"; ``pad`` is what the left padding leaves of the
    window's reach.
    """
    output_padding = output_padding or (None,) * len(window)
    pads = []
    for k, s, d, extra in zip(window, strides, dilation, output_padding):
        span = (k - 1) * d + 1
        if padding == "valid":
            pads.append(0)
            continue
        total = s + span - 2 if extra is None else span + span % 2 - 2 + extra
        pads.append(span - 1 - min(-(-total // 2), span - 1))
    return pads


def conv_matrix(
    in_shape, out_shape, kernel, strides, padding, dilation, groups, axis
):
    """The sparse matrix of an N-d (grouped, dilated, padded) convolution.

    ``kernel`` has Keras layout ``(*window, in_channels // groups, filters)``;
    ``padding`` is a Keras padding name or the zeros before each spatial axis.
    """
    rank = kernel.ndim - 2
    in_spatial, c_in = split_channels(in_shape, axis)
    out_spatial, c_out = split_channels(out_shape, axis)
    window = kernel.shape[:rank]
    pads = padding
    if isinstance(padding, str):
        pads = before_pads(padding, in_spatial, window, strides, dilation, out_spatial)
    inputs = window_inputs(in_spatial, window, strides, pads, out_spatial, dilation)
    per_group_in, per_group_out = c_in // groups, c_out // groups
    w = kernel.reshape(-1, per_group_in, c_out)  # (window, ci_local, co)
    co = np.arange(c_out)
    ci = (co // per_group_out)[None, :] * per_group_in + np.arange(per_group_in)[:, None]
    rows, cols, vals = [], [], []
    for k in range(inputs.shape[1]):
        out_pos = np.nonzero(inputs[:, k] >= 0)[0]
        in_pos = inputs[out_pos, k]
        r = flat_index(out_pos[:, None, None], co[None, None, :], out_spatial, c_out, axis)
        c = flat_index(in_pos[:, None, None], ci[None, :, :], in_spatial, c_in, axis)
        v = np.broadcast_to(w[k][None], (out_pos.size,) + w[k].shape)
        r = np.broadcast_to(r, v.shape)
        nz = v != 0
        rows.append(r[nz])
        cols.append(np.broadcast_to(c, v.shape)[nz])
        vals.append(v[nz])
    n_out, n_in = int(np.prod(out_shape)), int(np.prod(in_shape))
    return sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=(n_out, n_in),
    )


def pool_matrix(in_shape, out_shape, window, strides, padding, axis, average=True):
    """Sparse matrix of average pooling (padding excluded from the count)."""
    in_spatial, channels = split_channels(in_shape, axis)
    out_spatial, _ = split_channels(out_shape, axis)
    pads = before_pads(padding, in_spatial, window, strides, (1,) * len(window), out_spatial)
    inputs = window_inputs(in_spatial, window, strides, pads, out_spatial)
    count = np.maximum((inputs >= 0).sum(axis=1), 1)
    out_pos, k = np.nonzero(inputs >= 0)
    ch = np.arange(channels)
    rows = flat_index(out_pos[:, None], ch[None], out_spatial, channels, axis)
    cols = flat_index(inputs[out_pos, k][:, None], ch[None], in_spatial, channels, axis)
    vals = np.broadcast_to((1.0 / count[out_pos] if average else np.ones(out_pos.size))[:, None], rows.shape)
    return sp.csr_matrix(
        (vals.ravel(), (rows.ravel(), cols.ravel())),
        shape=(int(np.prod(out_shape)), int(np.prod(in_shape))),
    )


def pool_candidates(in_shape, out_shape, window, strides, padding, axis):
    """For max pooling: ``(n_candidates, n_out)`` input indices per output.

    Row ``k`` holds, for every output element, the flat input index of its
    ``k``-th window element; windows cut short by padding repeat their first
    element (max is unchanged by repeats).
    """
    in_spatial, _ = split_channels(in_shape, axis)
    out_spatial, _ = split_channels(out_shape, axis)
    pads = before_pads(padding, in_spatial, window, strides, (1,) * len(window), out_spatial)
    inputs = window_inputs(in_spatial, window, strides, pads, out_spatial)
    return window_candidates(inputs, in_shape, out_shape, axis)


def window_candidates(inputs, in_shape, out_shape, axis):
    """`pool_candidates` for windows given as spatial input indices per
    spatial output position (``-1``: no element; at least one per row)."""
    in_spatial, channels = split_channels(in_shape, axis)
    out_spatial, _ = split_channels(out_shape, axis)
    first = inputs[np.arange(inputs.shape[0]), np.argmax(inputs >= 0, axis=1)]
    inputs = np.where(inputs >= 0, inputs, first[:, None])
    # drop window columns that are repeats everywhere (e.g. fully padded)
    ch = np.arange(channels)
    out_spatial_idx = np.arange(inputs.shape[0])
    rows = []
    for k in range(inputs.shape[1]):
        idx = flat_index(inputs[:, k][:, None], ch[None], in_spatial, channels, axis)
        order = flat_index(out_spatial_idx[:, None], ch[None], out_spatial, channels, axis)
        flat = np.empty(int(np.prod(out_shape)), dtype=np.int64)
        flat[order.ravel()] = idx.ravel()
        rows.append(flat)
    return np.unique(np.array(rows), axis=0)
