"""Fan-out of neurons: how many synapses each neuron's output reaches.

A spike costs one synaptic operation per nonzero weight it is multiplied by,
so the fan-out of a neuron is the number of nonzero entries in its column of
the weight matrix from the neurons to everything they feed. Pass-through Nodes
(``output=None``) are looked through, as neuromorphic backends merge them into
the weights: the fan-out counts the nonzeros of the composed matrix, taken
structurally (``|B| @ |A|``) so that weights which cancel numerically are
still counted. Connections into an Ensemble (rather than its neurons) reach
every neuron of it through the encoders.
"""

from __future__ import annotations

import collections

import nengo
import numpy as np
import scipy.sparse as sp
from nengo.dists import Distribution

from ..converters._lib.windows import conv_matrix


def fan_out(net, ensembles=None):
    """Number of nonzero outgoing weights of every neuron.

    Parameters
    ----------
    net : nengo.Network
        The network holding the ensembles and everything they feed.
    ensembles : list of nengo.Ensemble, optional
        Ensembles to count (default: all of ``net``).

    Returns
    -------
    dict
        ``{ensemble: int array of shape (n_neurons,)}``.

    Examples
    --------
    >>> counts = fan_out(result.net)
    >>> counts[ens].sum()  # synapses leaving the ensemble
    """
    outgoing = collections.defaultdict(list)
    for conn in net.all_connections:
        outgoing[conn.pre_obj].append(conn)
    follower = _Follower(outgoing)
    ensembles = net.all_ensembles if ensembles is None else ensembles
    counts = {}
    for ens in ensembles:
        parts = [follower.resolve(c) for c in outgoing.get(ens.neurons, [])]
        if not parts:
            counts[ens] = np.zeros(ens.n_neurons, dtype=np.int64)
            continue
        pattern = sp.csc_matrix(sp.vstack(parts))
        counts[ens] = np.diff(pattern.indptr).astype(np.int64)
    return counts


class _Follower:
    """Composes connection patterns through pass-through Nodes (memoised)."""

    def __init__(self, outgoing):
        self.outgoing = outgoing
        self.memo = {}
        self.active = set()

    def resolve(self, conn):
        """Pattern from ``conn.pre_obj``'s outputs to the synapses it reaches."""
        pattern = connection_pattern(conn)
        post = conn.post_obj
        if isinstance(post, nengo.Ensemble):
            # through the encoders: every neuron sees every dimension
            return sp.csr_matrix(np.ones((post.n_neurons, post.dimensions))) @ pattern
        if isinstance(post, nengo.Node) and post.output is None:
            downstream = self.downstream(post)
            if downstream is not None:
                return downstream @ pattern
        return pattern

    def downstream(self, node):
        if node in self.memo:
            return self.memo[node]
        if node in self.active or not self.outgoing.get(node):
            return None  # a cycle or a dead end: the node itself is the target
        self.active.add(node)
        try:
            parts = [self.resolve(c) for c in self.outgoing[node]]
        finally:
            self.active.discard(node)
        result = sp.csr_matrix(sp.vstack(parts))
        self.memo[node] = result
        return result


def connection_pattern(conn):
    """``|W|`` of a connection as a sparse ``(post.size_in, pre.size_out)`` matrix."""
    pre_size, post_size = conn.pre_obj.size_out, conn.post_obj.size_in
    pre_idx = np.arange(pre_size)[conn.pre_slice]
    post_idx = np.arange(post_size)[conn.post_slice]
    matrix = transform_pattern(conn.transform, conn.size_mid, conn.size_out)
    pick = sp.csr_matrix(
        (np.ones(pre_idx.size), (np.arange(pre_idx.size), pre_idx)),
        shape=(pre_idx.size, pre_size),
    )
    place = sp.csr_matrix(
        (np.ones(post_idx.size), (post_idx, np.arange(post_idx.size))),
        shape=(post_size, post_idx.size),
    )
    return sp.csr_matrix(place @ matrix @ pick)


def transform_pattern(transform, size_in, size_out):
    """``|matrix|`` of a Nengo transform as a sparse ``(size_out, size_in)`` matrix."""
    if isinstance(transform, nengo.transforms.NoTransform):
        return sp.identity(size_in, format="csr")
    if isinstance(transform, nengo.transforms.Dense):
        init = transform.init
        if isinstance(init, Distribution):
            return sp.csr_matrix(np.ones((size_out, size_in)))
        init = np.abs(np.asarray(init, dtype=np.float64))
        if init.ndim == 0:
            return sp.identity(size_in, format="csr") * float(init)
        if init.ndim == 1:
            return sp.diags(init, format="csr")
        return sp.csr_matrix(init)
    if isinstance(transform, nengo.transforms.Sparse):
        init = transform.init
        if isinstance(init, nengo.transforms.SparseMatrix):
            rows, cols = np.asarray(init.indices).T
            data = np.ones(rows.size) if isinstance(init.data, Distribution) else init.data
            return sp.csr_matrix((np.abs(data), (rows, cols)), shape=init.shape)
        return abs(sp.csr_matrix(init))
    if isinstance(transform, nengo.transforms.ConvolutionTranspose):
        return _conv_transpose_pattern(transform)
    if isinstance(transform, nengo.transforms.Convolution):
        t = transform
        return abs(
            conv_matrix(
                t.input_shape.shape,
                t.output_shape.shape,
                _kernel(t),
                t.strides,
                t.padding,
                (1,) * t.dimensions,
                t.groups,
                t.dimensions if t.channels_last else 0,
            )
        )
    raise NotImplementedError(
        f"cannot count the synapses of a {type(transform).__name__} transform"
    )


def _kernel(t):
    if isinstance(t.init, Distribution):
        return np.ones(t.kernel_shape)
    return np.abs(np.asarray(t.init, dtype=np.float64))


def _conv_transpose_pattern(t):
    """A transposed convolution is the transpose of a convolution from its
    output shape to its input shape, with each group's kernel axes swapped."""
    kernel = _kernel(t)  # (*window, in_channels // groups, filters)
    groups = t.groups
    c_in, c_out = t.input_shape.n_channels, t.n_filters
    per_in, per_out = c_in // groups, c_out // groups
    swapped = np.zeros(t.kernel_size + (per_out, c_in))
    for g in range(groups):
        block = kernel[..., :, g * per_out : (g + 1) * per_out]
        swapped[..., :, g * per_in : (g + 1) * per_in] = np.swapaxes(block, -1, -2)
    forward = conv_matrix(
        t.output_shape.shape,
        t.input_shape.shape,
        swapped,
        t.strides,
        t.padding,
        (1,) * t.dimensions,
        groups,
        t.dimensions if t.channels_last else 0,
    )
    return sp.csr_matrix(abs(forward).T)
