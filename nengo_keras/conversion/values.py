"""What a Keras tensor is while it is being converted: a `Value`.

A `Value` is a sum of *terms* plus a constant: each term is a Nengo object
(a Node, an Ensemble's Neurons, or a slice of one) seen through a linear map
and, optionally, scattered to some positions of the tensor. Keeping linear
layers in this unevaluated form lets consecutive linear layers fuse into one
Nengo connection and lets biases land in Ensemble biases, so the converted
network has no pass-through Nodes for Flatten, Reshape, Add, Concatenate,
BatchNormalization, etc. A Value becomes a real Nengo object only when
something needs one (`nengo_keras.ConversionContext.materialize`).

Values are immutable; every operation returns a new one. Arrays are flattened
in C order of the Keras shape without the batch axis, as in NengoDL.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import scipy.sparse as sp

from . import transforms
from .transforms import Conv, Linear, Matrix, Scale, compose


@dataclasses.dataclass(frozen=True, eq=False)
class Term:
    """``transform(pre)`` placed at ``out_idx`` of the value (everywhere if None)."""

    pre: object
    transform: Linear | None = None
    out_idx: np.ndarray | None = None

    @property
    def size_out(self):
        if self.transform is not None:
            return self.transform.size_out
        return self.pre.size_out


class Value:
    """The Nengo-side value of one Keras tensor (see the module docstring).

    Parameters
    ----------
    shape : tuple of int
        Keras shape without the batch axis.
    terms : sequence of Term
    bias : array_like, optional
        Constant added to the terms (flat, C order).
    """

    def __init__(self, shape, terms=(), bias=None):
        self.shape = tuple(int(s) for s in shape)
        self.terms = tuple(_normalise(t, self.size) for t in terms)
        self.bias = None if bias is None else np.asarray(bias, dtype=np.float64)
        if self.bias is not None and not np.any(self.bias):
            self.bias = None
        if self.bias is not None:
            self.bias = np.broadcast_to(self.bias, (self.size,))

    @classmethod
    def of(cls, obj, shape):
        """The value computed by Nengo object ``obj``."""
        value = cls(shape, [Term(obj)])
        if obj.size_out != value.size:
            raise ValueError(
                f"{obj} has {obj.size_out} outputs but the tensor has shape "
                f"{value.shape} ({value.size} elements)"
            )
        return value

    def become(self, obj):
        """Make this value read ``obj`` from now on (``obj`` computes it).

        The one exception to immutability: after a value is materialized, every
        user of it, present and future, must read the Node rather than
        recompute the terms.
        """
        assert obj.size_out == self.size
        self.terms = (Term(obj),)
        self.bias = None

    @classmethod
    def constant(cls, array, shape=None):
        array = np.asarray(array, dtype=np.float64)
        shape = array.shape if shape is None else shape
        return cls(shape, (), np.array(array).ravel())

    @property
    def size(self):
        return int(math.prod(self.shape))

    @property
    def obj(self):
        """The single Nengo object this value is, or None if it is a sum."""
        if len(self.terms) == 1 and self.bias is None:
            (term,) = self.terms
            if term.transform is None and term.out_idx is None:
                return term.pre
        return None

    @property
    def is_constant(self):
        return not self.terms

    @property
    def is_expensive(self):
        """Whether using this value twice would compute something twice."""
        return len(self.terms) > 1 or any(
            transforms.is_expensive(t.transform) for t in self.terms
        )

    def bias_or_zeros(self):
        return np.zeros(self.size) if self.bias is None else np.array(self.bias)

    def reshape(self, shape):
        """The same elements under another shape (C order: nothing moves)."""
        shape = tuple(shape)
        if -1 in shape:
            known = math.prod(s for s in shape if s != -1)
            shape = tuple(self.size // known if s == -1 else s for s in shape)
        if math.prod(shape) != self.size:
            raise ValueError(f"cannot reshape {self.shape} to {shape}")
        return Value(shape, self.terms, self.bias)

    def apply(self, transform, shape):
        """``transform(self)`` as a new value of ``shape``, or None if some term
        cannot absorb the transform (materialize this value first)."""
        if transform is None:
            return self.reshape(shape)
        terms = []
        for term in self.terms:
            new = _apply_to_term(transform, term)
            if new is None:
                return None
            terms.append(new)
        bias = None if self.bias is None else transform.apply(self.bias)
        return Value(shape, terms, bias)

    def scale(self, a):
        """Elementwise product with a scalar or a vector of ``size`` values.

        Raises ValueError where a term cannot absorb the scale (a scale that
        varies within a channel, after a convolution); converters then use
        ``ctx.scale``, which materializes the value first.
        """
        out = self.apply(Scale(a, self.size), self.shape)
        if out is None:
            raise ValueError(
                "this scale does not fold into the value's transforms; use ctx.scale"
            )
        return out

    def place(self, indices, shape):
        """Scatter this value into a zero tensor of ``shape`` at flat ``indices``."""
        indices = np.asarray(indices, dtype=np.int64).ravel()
        size = int(math.prod(shape))
        terms = []
        for term in self.terms:
            idx = indices if term.out_idx is None else indices[term.out_idx]
            terms.append(Term(term.pre, term.transform, idx))
        bias = None
        if self.bias is not None:
            bias = np.zeros(size)
            bias[indices] = self.bias
        return Value(shape, terms, bias)

    def merged_terms(self):
        """The terms, with those that read the same object summed into one.

        Several terms on one source (a max-pooling tree, a residual sum that
        reads a tensor twice) then cost one connection instead of several.
        Convolution terms are left alone: they have no cheap sum.
        """
        groups = {}
        for term in self.terms:
            groups.setdefault(id(term.pre), []).append(term)
        merged = []
        for group in groups.values():
            convs = [t for t in group if isinstance(t.transform, Conv)]
            group = [t for t in group if not isinstance(t.transform, Conv)]
            merged.extend(_merge_convs(convs, self.size))
            if len(group) <= 1:
                merged.extend(group)
                continue
            m = sum(_term_matrix(t, self.size) for t in group)
            total = Matrix(m)
            placed = total.placement()
            if placed is None:
                merged.append(Term(group[0].pre, total))
            else:
                rows, scale = placed
                scale = Scale(scale, total.size_in)
                transform = None if scale.a.ndim == 0 and float(scale.a) == 1 else scale
                merged.append(Term(group[0].pre, transform, rows))
        return [_normalise(t, self.size) for t in merged]

    def __add__(self, other):
        if not isinstance(other, Value):
            other = np.asarray(other, dtype=np.float64)
            if other.size != self.size:  # flat constants pass as they are
                other = np.broadcast_to(other, self.shape)
            other = Value.constant(other.ravel(), self.shape)
        if other.size != self.size:
            raise ValueError(f"cannot add values of shapes {self.shape}, {other.shape}")
        if self.bias is None or other.bias is None:
            bias = self.bias if other.bias is None else other.bias
        else:
            bias = self.bias + other.bias
        return Value(self.shape, self.terms + other.terms, bias)

    def __neg__(self):
        return self.scale(-1.0)

    def __sub__(self, other):
        if not isinstance(other, Value):
            return self + (-np.asarray(other, dtype=np.float64))
        return self + (-other)

    def __repr__(self):
        bias = "" if self.bias is None else " + bias"
        return f"Value({self.shape}: {len(self.terms)} terms{bias})"


def _normalise(term, size):
    idx = term.out_idx
    if idx is not None and idx.size == size and np.array_equal(idx, np.arange(size)):
        return Term(term.pre, term.transform, None)
    return term


def _apply_to_term(transform, term):
    """``transform`` after ``term``, as one term, or None."""
    if isinstance(transform, Scale) and term.out_idx is not None:
        sub = Scale(transform.vector()[term.out_idx], term.size_out)
        new = compose(sub, term.transform)
        return None if new is NotImplemented else Term(term.pre, new, term.out_idx)
    if isinstance(transform, Matrix):
        m = transform.m if term.out_idx is None else _columns(transform.m, term.out_idx)
        sub = Matrix(m)
        placed = sub.placement()
        if placed is not None:
            rows, scale = placed
            new = compose(Scale(scale, sub.size_in), term.transform)
            if new is not NotImplemented:
                return Term(term.pre, new, rows)
        new = compose(sub, term.transform)
        return None if new is NotImplemented else Term(term.pre, new, None)
    if term.out_idx is not None:
        return None
    new = compose(transform, term.transform)
    return None if new is NotImplemented else Term(term.pre, new, None)


def _merge_convs(terms, size):
    """Convolutions of one source with the same geometry, writing disjoint
    outputs, as one convolution with their filters side by side."""
    by_geometry = {}
    for term in terms:
        t = term.transform.t
        key = (
            type(t),
            t.input_shape.shape,
            t.output_shape.spatial_shape,  # transposed ones may differ here
            t.input_shape.channels_last,
            t.kernel_size,
            t.strides,
            t.padding,
            t.groups,
        )
        by_geometry.setdefault(key, []).append(term)
    merged = []
    for group in by_geometry.values():
        if len(group) == 1 or group[0].transform.t.groups != 1:
            merged.extend(group)
            continue
        targets = [
            np.arange(t.size_out) if t.out_idx is None else t.out_idx for t in group
        ]
        all_targets = np.concatenate(targets)
        if np.unique(all_targets).size != all_targets.size:
            merged.extend(group)  # overlapping outputs must be summed, not placed
            continue
        kernel = np.concatenate([t.transform.kernel for t in group], axis=-1)
        conv = group[0].transform.with_filters(kernel)
        out_shape = conv.t.output_shape
        filters = [t.transform.t.n_filters for t in group]
        offsets = np.concatenate([[0], np.cumsum(filters)[:-1]])
        n_spatial = out_shape.size // out_shape.n_channels
        idx = np.empty(conv.size_out, dtype=np.int64)
        for term, target, off, f in zip(group, targets, offsets, filters):
            pos = np.arange(n_spatial)[:, None]
            ch = np.arange(f)[None, :]
            if out_shape.channels_last:
                merged_flat = pos * out_shape.n_channels + off + ch
                own_flat = pos * f + ch
            else:
                merged_flat = (off + ch) * n_spatial + pos
                own_flat = ch * n_spatial + pos
            idx[merged_flat.ravel()] = target[own_flat.ravel()]
        merged.append(Term(group[0].pre, conv, idx))
    return merged


def _term_matrix(term, size):
    """A term as a sparse matrix from its source to the whole value."""
    t = term.transform
    n_in = term.pre.size_out
    if t is None:
        m = sp.identity(n_in, format="csr")
    elif isinstance(t, Scale):
        m = sp.diags(t.vector()).tocsr()
    else:
        m = sp.csr_matrix(t.m)
    if term.out_idx is None:
        return m
    k = m.shape[0]
    place = sp.csr_matrix((np.ones(k), (term.out_idx, np.arange(k))), shape=(size, k))
    return place @ m


def _columns(m, idx):
    if sp.issparse(m):
        return sp.csc_matrix(m)[:, idx]
    return m[:, idx]
