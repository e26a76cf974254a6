"""A small algebra of linear maps that become Nengo connection transforms.

Converters describe linear layers (Dense, convolutions, pooling, reshapes,
batch normalisation...) as `Linear` maps instead of creating Nengo objects right
away. Two maps applied one after the other are fused into one wherever Nengo can
still express the result (a batch-norm scale folds into the preceding convolution
kernel, a permutation folds into a connection's post indices, two sparse
matrices multiply out), so the converted network has no pass-through nodes for
them. `compose` returns ``NotImplemented`` where fusion is impossible (a
convolution after a convolution); the caller then puts a pass-through
`nengo.Node` between the two.

The identity map is represented by ``None`` throughout.
"""

from __future__ import annotations

import numpy as np
import nengo
import scipy.sparse as sp

from nengo.builder.signal import Signal
from nengo.builder.transforms import ConvInc, ConvTransposeInc

# Above this density, a sparse matrix runs faster as a dense one in numpy.
DENSE_ABOVE = 0.25


class Linear:
    """Base class: a linear map from ``size_in`` to ``size_out`` values."""

    size_in: int
    size_out: int

    def to_nengo(self):
        """The ``transform`` argument for `nengo.Connection`."""
        raise NotImplementedError

    def apply(self, x):
        """Apply the map to a flat NumPy vector (used to carry biases through)."""
        raise NotImplementedError

    @property
    def cost(self):
        """Multiply-adds per simulation step."""
        raise NotImplementedError


class Scale(Linear):
    """Elementwise scaling by a scalar or a vector."""

    def __init__(self, a, size):
        self.a = np.asarray(a, dtype=np.float64)
        if self.a.ndim == 1 and np.all(self.a == self.a[0]):
            self.a = self.a[:1].reshape(())
        assert self.a.ndim == 0 or self.a.shape == (size,)
        self.size_in = self.size_out = size

    def to_nengo(self):
        if self.a.ndim == 0:
            # an identity needs no transform (nengo's NoTransform: no multiply)
            return None if float(self.a) == 1.0 else float(self.a)
        return self.a

    def apply(self, x):
        return self.a * x

    def vector(self):
        return np.broadcast_to(self.a, (self.size_in,))

    @property
    def cost(self):
        return self.size_in

    def __repr__(self):
        return f"Scale({self.a if self.a.ndim == 0 else self.a.shape})"


class Matrix(Linear):
    """A dense or sparse matrix of shape ``(size_out, size_in)``."""

    def __init__(self, m):
        if sp.issparse(m):
            m = sp.csr_matrix(m)
            m.sum_duplicates()
            m.eliminate_zeros()
        else:
            m = np.asarray(m, dtype=np.float64)
        self.m = m
        self.size_out, self.size_in = m.shape

    @property
    def is_sparse(self):
        return sp.issparse(self.m)

    @property
    def cost(self):
        return self.m.nnz if self.is_sparse else self.m.size

    def to_nengo(self):
        if not self.is_sparse:
            return nengo.transforms.Dense(self.m.shape, init=self.m)
        if self.m.nnz > DENSE_ABOVE * self.m.shape[0] * self.m.shape[1]:
            return nengo.transforms.Dense(self.m.shape, init=self.m.toarray())
        return nengo.transforms.Sparse(self.m.shape, init=self.m)

    def apply(self, x):
        return np.asarray(self.m @ x).ravel()

    def placement(self):
        """If every input lands, scaled, at its own output, return ``(rows, scale)``.

        Such a matrix (a permutation, a scatter into a larger vector, a scaled
        selection...) needs no transform of its own: it becomes post indices of
        the connection that carries the input.
        """
        m = sp.csc_matrix(self.m)
        if m.nnz != self.size_in or np.any(np.diff(m.indptr) != 1):
            return None
        rows = m.indices
        if np.unique(rows).size != rows.size:
            return None
        return rows, m.data

    def __repr__(self):
        kind = "sparse" if self.is_sparse else "dense"
        return f"Matrix({kind} {self.size_out}x{self.size_in})"


class Conv(Linear):
    """A `nengo.Convolution` or `nengo.ConvolutionTranspose` transform."""

    def __init__(self, transform):
        self.t = transform
        self.size_in = transform.size_in
        self.size_out = transform.size_out

    def to_nengo(self):
        return self.t

    @property
    def kernel(self):
        return self.t.init

    @property
    def cost(self):
        k = self.t.kernel_shape
        per_out = int(np.prod(k[:-1]))
        if isinstance(self.t, nengo.ConvolutionTranspose):
            return self.size_in * k[-1] * int(np.prod(k[:-2]))
        return self.size_out * per_out

    def apply(self, x):
        op_type = (
            ConvTransposeInc
            if isinstance(self.t, nengo.ConvolutionTranspose)
            else ConvInc
        )
        w = Signal(shape=self.t.kernel_shape)
        xs = Signal(shape=(self.size_in,))
        ys = Signal(shape=(self.size_out,))
        y = np.zeros(self.size_out)
        signals = {w: np.asarray(self.kernel), xs: np.asarray(x, float), ys: y}
        op_type(w, xs, ys, self.t).make_step(signals, 0.001, None)()
        return y

    def with_filters(self, kernel):
        """The same geometry with another kernel (any number of filters)."""
        return self.with_kernel(kernel, n_filters=kernel.shape[-1])

    def with_kernel(self, kernel, n_filters=None):
        t = self.t
        kwargs = dict(
            n_filters=t.n_filters if n_filters is None else n_filters,
            input_shape=t.input_shape,
            kernel_size=t.kernel_size,
            strides=t.strides,
            padding=t.padding,
            channels_last=t.channels_last,
            init=kernel,
        )
        if isinstance(t, nengo.Convolution):
            kwargs["groups"] = t.groups  # ConvolutionTranspose has no groups
        else:
            shape = t.output_shape
            if n_filters is not None:
                spatial = list(shape.shape)
                spatial[len(spatial) - 1 if shape.channels_last else 0] = n_filters
                shape = nengo.transforms.ChannelShape(spatial, shape.channels_last)
            kwargs["output_shape"] = shape
        return Conv(type(t)(**kwargs))

    def channel_vector(self, a, shape):
        """Per-channel factors of a vector over ``shape``, or None if it varies."""
        arr = np.broadcast_to(a, (int(np.prod(shape.shape)),)).reshape(shape.shape)
        axis = len(shape.shape) - 1 if shape.channels_last else 0
        arr = np.moveaxis(arr, axis, -1).reshape(-1, shape.n_channels)
        if np.all(arr == arr[:1]):
            return arr[0]
        return None

    def scale_out(self, a):
        """This convolution followed by elementwise scaling ``a``."""
        per_channel = self.channel_vector(a, self.t.output_shape)
        if per_channel is None:
            return NotImplemented
        return self.with_kernel(self.kernel * per_channel)

    def scale_in(self, a):
        """Elementwise scaling ``a`` followed by this convolution."""
        per_channel = self.channel_vector(a, self.t.input_shape)
        if per_channel is None:
            return NotImplemented
        groups = self.t.groups
        per_group_in = self.t.input_shape.n_channels // groups
        per_group_out = self.t.n_filters // groups
        group_of_out = np.arange(self.t.n_filters) // per_group_out
        channel = group_of_out[None, :] * per_group_in + np.arange(per_group_in)[:, None]
        return self.with_kernel(self.kernel * per_channel[channel])

    def __repr__(self):
        return f"Conv({type(self.t).__name__} {self.t.kernel_shape})"


def compose(outer, inner):
    """Return the map ``outer(inner(x))``, or ``NotImplemented`` if Nengo can't
    express it as one transform. ``None`` is the identity."""
    if inner is None:
        return outer
    if outer is None:
        return inner
    if isinstance(outer, Scale) and outer.a.ndim == 0 and float(outer.a) == 1.0:
        return inner
    if isinstance(outer, Scale):
        if isinstance(inner, Scale):
            return Scale(outer.a * inner.a, inner.size_in)
        if isinstance(inner, Matrix):
            return Matrix(_scale_rows(inner.m, outer.vector()))
        if isinstance(inner, Conv):
            return inner.scale_out(outer.a)
    if isinstance(inner, Scale):
        if isinstance(outer, Matrix):
            return Matrix(_scale_cols(outer.m, inner.vector()))
        if isinstance(outer, Conv):
            return outer.scale_in(inner.a)
    if isinstance(outer, Matrix) and isinstance(inner, Matrix):
        product = outer.m @ inner.m
        return Matrix(product if sp.issparse(product) else np.asarray(product))
    return NotImplemented


def _scale_rows(m, a):
    if sp.issparse(m):
        return sp.diags(a) @ m
    return a[:, None] * m


def _scale_cols(m, a):
    if sp.issparse(m):
        return m @ sp.diags(a)
    return m * a[None, :]


def selection(indices, size_in):
    """The matrix that picks ``x[indices]`` (indices may repeat or skip)."""
    indices = np.asarray(indices, dtype=np.int64).ravel()
    return Matrix(
        sp.csr_matrix(
            (np.ones(indices.size), (np.arange(indices.size), indices)),
            shape=(indices.size, size_in),
        )
    )


def is_expensive(transform):
    """Whether computing a transform twice costs notably more than a copy."""
    return transform is not None and transform.cost > 2 * transform.size_out
